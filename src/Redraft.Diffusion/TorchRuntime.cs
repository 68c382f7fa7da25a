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
    /// libtorch's large allocations (THP_MEM_ALLOC_ENABLE). Call before the first tensor is allocated: libtorch
    /// reads the huge-page switch once. Users' own settings of these variables win.
    /// </summary>
    public static void Initialize(int? threads = null)
    {
        if (threads is { } t && (t < 1 || t > 1024))
            throw new RedraftInputException($"--threads must be between 1 and 1024, got {t}.");
        if (Interlocked.Exchange(ref initialized, 1) == 0) ConfigureNativeEnvironment();
        torch.set_num_threads(threads ?? PhysicalCores());
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
