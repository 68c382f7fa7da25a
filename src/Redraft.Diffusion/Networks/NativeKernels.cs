using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// The native bf16 kernels (<c>Native/*.c</c>, built with the system's gcc into <c>libredraft_kernels.so</c>):
/// fused attention, GroupNorm(+SiLU), LayerNorm and GEGLU with AVX512-BF16 and fp32 arithmetic inside. Each has a
/// libtorch fallback; they are used only when the library was built and this CPU runs it, and the environment
/// variable <c>REDRAFT_KERNELS=libtorch</c> turns them all off, to compare with libtorch.
/// </summary>
internal static partial class NativeKernels
{
    public const string Library = "redraft_kernels";

    [LibraryImport(Library, EntryPoint = "redraft_kernels_supported")]
    private static partial int NativeSupported();

    private static readonly Lazy<bool> available = new(() =>
    {
        if (Environment.GetEnvironmentVariable("REDRAFT_KERNELS") is { } choice && choice.Equals("libtorch", StringComparison.OrdinalIgnoreCase))
            return false;
        try
        {
            return NativeSupported() != 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return false;
        }
    });

    /// <summary>Whether the library was built, this CPU runs it (AVX512F/BW/VL/DQ and AVX512-BF16) and it was not turned off.</summary>
    public static bool IsAvailable => !ForceLibtorch && available.Value;

    /// <summary>Whether the kernels could run here, whatever a request chose (<see cref="ForceLibtorch"/>).</summary>
    public static bool IsBuiltAndSupported => available.Value;

    /// <summary>Sends every kernel to libtorch for the following generations (a request recorded with libtorch kernels).</summary>
    internal static volatile bool ForceLibtorch;

    /// <summary>Whether a kernel may take <paramref name="x"/>: a bf16 tensor on the CPU, with the kernels available.</summary>
    public static bool Takes(Tensor x) =>
        x.dtype == ScalarType.BFloat16 && x.device_type == TorchSharp.DeviceType.CPU && IsAvailable;

    /// <summary>
    /// Runs <paramref name="body"/>(start, count) over [0, <paramref name="total"/>) in blocks of at most
    /// <paramref name="block"/>, in parallel on libtorch's thread count.
    /// </summary>
    public static void ForBlocks(long total, long block, Action<long, long> body)
    {
        long blocks = (total + block - 1) / block;
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) }, i =>
        {
            long start = i * block;
            body(start, Math.Min(block, total - start));
        });
    }
}
