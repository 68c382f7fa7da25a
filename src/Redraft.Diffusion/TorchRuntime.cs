using System.Runtime.InteropServices;
using TorchSharp;

namespace Redraft.Diffusion;

/// <summary>Process-wide libtorch settings: thread count and the native log level. Call once before generating.</summary>
public static partial class TorchRuntime
{
    private static int initialized;

    /// <summary>
    /// Sets libtorch's intra-op threads (the given count, else the physical core count: hyper-threads slow GEMMs),
    /// keeps libtorch's C++ log at errors, so its warnings (e.g. "Could not initialize NNPACK" on CPUs it does not
    /// support, printed once per convolution) do not flood stderr, and turns on transparent huge pages for
    /// libtorch's large allocations (THP_MEM_ALLOC_ENABLE), and keeps freed memory in the C allocator for reuse
    /// (see <see cref="KeepFreedMemory"/>). Call before the first tensor is allocated: libtorch reads the huge-page
    /// switch once. Users' own settings of these variables win.
    /// </summary>
    public static void Initialize(int? threads = null)
    {
        if (threads is { } t && (t < 1 || t > 1024))
            throw new RedraftInputException($"--threads must be between 1 and 1024, got {t}.");
        if (Interlocked.Exchange(ref initialized, 1) == 0) ConfigureNativeEnvironment();
        int wanted = ResolveThreads(threads);
        // libtorch's OpenMP thread count is a per-thread setting (the calling thread's parallel regions), so it is
        // remembered per thread; hosts generate on one thread of their own and change it only when asked to.
        if (threadCount != wanted)
        {
            torch.set_num_threads(wanted);
            threadCount = wanted;
        }
    }

    [ThreadStatic]
    private static int threadCount;

    /// <summary>The thread count a generation runs with: <paramref name="threads"/>, else the physical cores.</summary>
    public static int ResolveThreads(int? threads) => threads ?? PhysicalCores();

    /// <summary>
    /// Which implementation the bf16 attention, norm and GEGLU layers use: <c>native</c> (the AVX512-BF16 kernels)
    /// when they are built, this CPU runs them and nothing turned them off, else <c>libtorch</c>. The two differ in
    /// the last bits, so a request records the choice it ran with.
    /// </summary>
    public static string Kernels => Networks.NativeKernels.IsAvailable ? KernelsNative : KernelsLibtorch;

    /// <summary>The value of <see cref="Kernels"/> for the native kernels.</summary>
    public const string KernelsNative = "native";

    /// <summary>The value of <see cref="Kernels"/> for libtorch's operators.</summary>
    public const string KernelsLibtorch = "libtorch";

    /// <summary>
    /// What <paramref name="choice"/> (<c>auto</c>, <c>native</c>, <c>libtorch</c>) means on this machine, without
    /// changing anything: <c>native</c> or <c>libtorch</c>.
    /// </summary>
    /// <exception cref="RedraftInputException">Unknown choice.</exception>
    public static string ResolveKernels(string? choice) => choice?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => Networks.NativeKernels.IsBuiltAndSupported ? KernelsNative : KernelsLibtorch,
        KernelsNative => KernelsNative,
        KernelsLibtorch => KernelsLibtorch,
        _ => throw new RedraftInputException($"unknown kernel choice \"{choice}\"; valid: auto, native, libtorch."),
    };

    /// <summary>
    /// Runs the following generations with <paramref name="choice"/> (<c>native</c>, <c>libtorch</c>, or
    /// <c>auto</c> = native where available). Process-wide: hosts call it only between generations.
    /// </summary>
    /// <exception cref="RedraftInputException">Unknown choice, or <c>native</c> where the kernels cannot run.</exception>
    public static void UseKernels(string? choice)
    {
        switch (choice?.Trim().ToLowerInvariant())
        {
            case null or "" or "auto":
                Networks.NativeKernels.ForceLibtorch = false;
                break;
            case KernelsLibtorch:
                Networks.NativeKernels.ForceLibtorch = true;
                break;
            case KernelsNative:
                Networks.NativeKernels.ForceLibtorch = false;
                if (!Networks.NativeKernels.IsAvailable)
                    throw new RedraftInputException("this request was made with the native bf16 kernels, which this machine or build lacks (no AVX512-BF16, no C compiler at build time, or REDRAFT_KERNELS=libtorch); run it with kernels \"libtorch\" (bytes may differ in bf16).");
                break;
            default:
                throw new RedraftInputException($"unknown kernel choice \"{choice}\"; valid: auto, native, libtorch.");
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    /// <summary>
    /// .NET's SetEnvironmentVariable does not reach the C environment on Unix, so the variables go through libc's
    /// setenv. Huge pages: first-touch page faults made allocating the SD 1.5 weights take 3.5 s instead of 0.5 s
    /// on the dev machine, and every step allocates activations of that size. Log level: libtorch reads
    /// TORCH_CPP_LOG_LEVEL only in c10::initLogging(), which the Python module calls and plain libtorch never
    /// does, so it is called here from the loaded libc10. Any failure leaves libtorch's defaults.
    /// </summary>
    private static unsafe void ConfigureNativeEnvironment()
    {
        if (!OperatingSystem.IsLinux()) return;
        KeepFreedMemory();
        try
        {
            SetEnv("THP_MEM_ALLOC_ENABLE", "1", 0);
            SetEnv("TORCH_CPP_LOG_LEVEL", "ERROR", 0);
            torch.get_num_threads(); // loads libtorch (and libc10) without allocating a tensor
            var dir = Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? AppContext.BaseDirectory;
            if (!NativeLibrary.TryLoad(Path.Combine(dir, "libc10.so"), out var c10) && !NativeLibrary.TryLoad("libc10.so", out c10)) return;
            if (NativeLibrary.TryGetExport(c10, "_ZN3c1011initLoggingEv", out var init))
                ((delegate* unmanaged<void>)init)();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    private const int MallocTrimThreshold = -1, MallocMmapThreshold = -3, MallocMmapMax = -4, MallocArenaMax = -8;
    private const int GlibcDefaultMmapMax = 65536;
    private static bool keepingFreedMemory;
    private static int loadsInProgress;

    /// <summary>
    /// Makes glibc's allocator keep and reuse freed memory instead of handing it back: one arena, no mmap for
    /// large blocks, no automatic trimming. Why: on the dev machines a first touch of fresh memory is very slow
    /// (a fresh 42 MB block, the size of the feed-forward's widest activation at 512², costs 7–10 ms to fault in,
    /// 80 ms without huge pages), and glibc serves every block over 32 MB with a new mmap and frees it with
    /// munmap, so each UNet step and each VAE layer paid that again. Measured: wide bf16 GEMMs (8192×320→2560)
    /// 450 → 690 GFLOP/s, the guided SD 1.5 UNet step ≈ 4% faster. Memory still goes back to the system where it
    /// matters (<see cref="ReleaseFreedMemory"/> before the VAE decode), and weights load under
    /// <see cref="LoadingWeights"/>. Threads that allocated before this call keep their own glibc arenas, where
    /// blocks over 64 MB still get fresh mappings; the CLI generates on the main thread, which uses the main arena.
    /// Skipped when the user tunes malloc (MALLOC_* or GLIBC_TUNABLES set).
    /// </summary>
    private static void KeepFreedMemory()
    {
        foreach (System.Collections.DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            var name = (string)variable.Key;
            if (name.StartsWith("MALLOC_", StringComparison.Ordinal) || name == "GLIBC_TUNABLES") return;
        }
        try
        {
            MallOpt(MallocArenaMax, 1);
            MallOpt(MallocMmapMax, 0);
            MallOpt(MallocTrimThreshold, int.MaxValue);
            keepingFreedMemory = true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (musl has no mallopt): its allocator keeps its own policy.
        }
    }

    /// <summary>
    /// A scope for loading weights: while one is open, blocks of 1 MB and more get mappings of their own again and
    /// go back to the system when freed. Loading converts each tensor through temporaries of its size; kept in the
    /// reused heap (<see cref="KeepFreedMemory"/>) they fragmented it and raised the peak of a 512² SD 1.5 img2img
    /// from 5.6 to 6.1 GB. The weights themselves then live in their own mappings, freed whole when a model is
    /// unloaded. Freed memory the heap kept is returned first. Scopes may overlap (the count of open ones decides);
    /// does nothing where the policy is off.
    /// </summary>
    public static IDisposable LoadingWeights()
    {
        if (!keepingFreedMemory) return NoScope.Instance;
        if (Interlocked.Increment(ref loadsInProgress) == 1)
        {
            // What the last phase freed goes back first, so weights do not stack on top of it (--low-memory
            // loads the UNet right after the VAE encode has freed its activations).
            ReleaseFreedMemory();
            MallOpt(MallocMmapThreshold, 1 << 20);
            MallOpt(MallocMmapMax, GlibcDefaultMmapMax);
        }
        return new LoadScope();
    }

    private sealed class LoadScope : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0 && Interlocked.Decrement(ref loadsInProgress) == 0)
                MallOpt(MallocMmapMax, 0);
        }
    }

    private sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();
        public void Dispose() { }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    /// <summary>
    /// Gives memory that was freed but kept by the C allocator back to the system (glibc's malloc_trim), so that a
    /// phase with a large working set (the VAE decode after sampling) does not add to what the previous phase left
    /// behind. Does nothing where that call is missing.
    /// </summary>
    public static void ReleaseFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    private static int PhysicalCores()
    {
        try
        {
            var cores = new HashSet<string>();
            string physical = "0";
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("physical id")) physical = line.Split(':')[1].Trim();
                else if (line.StartsWith("core id")) cores.Add(physical + ":" + line.Split(':')[1].Trim());
            }
            return cores.Count > 0 ? Math.Min(cores.Count, Environment.ProcessorCount) : Environment.ProcessorCount;
        }
        catch (IOException)
        {
            return Environment.ProcessorCount;
        }
    }
}
