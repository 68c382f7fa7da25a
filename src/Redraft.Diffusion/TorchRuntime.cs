using System.Runtime.InteropServices;
using TorchSharp;

namespace Redraft.Diffusion;

/// <summary>Process-wide libtorch settings: thread count and the native log level. Call once before generating.</summary>
public static partial class TorchRuntime
{
    private static int initialized;

    /// <summary>
    /// Sets libtorch's intra-op threads (the given count, else the physical core count: hyper-threads slow GEMMs)
    /// and keeps libtorch's C++ log at errors, so its warnings (e.g. "Could not initialize NNPACK" on CPUs it does
    /// not support, printed once per convolution) do not flood stderr. A user's own TORCH_CPP_LOG_LEVEL wins.
    /// </summary>
    public static void Initialize(int? threads = null)
    {
        if (threads is { } t && (t < 1 || t > 1024))
            throw new RedraftInputException($"--threads must be between 1 and 1024, got {t}.");
        torch.set_num_threads(threads ?? PhysicalCores());
        if (Interlocked.Exchange(ref initialized, 1) == 0) QuietNativeLog();
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    /// <summary>
    /// libtorch reads TORCH_CPP_LOG_LEVEL only in c10::initLogging(), which the Python module calls and plain
    /// libtorch never does; .NET's SetEnvironmentVariable does not reach the C environment on Unix. So: setenv
    /// through libc, then call c10::initLogging() from the already loaded libc10. Any failure leaves logging as is.
    /// </summary>
    private static unsafe void QuietNativeLog()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            SetEnv("TORCH_CPP_LOG_LEVEL", "ERROR", 0);
            var dir = Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? AppContext.BaseDirectory;
            if (!NativeLibrary.TryLoad(Path.Combine(dir, "libc10.so"), out var c10) && !NativeLibrary.TryLoad("libc10.so", out c10)) return;
            if (NativeLibrary.TryGetExport(c10, "_ZN3c1011initLoggingEv", out var init))
                ((delegate* unmanaged<void>)init)();
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
