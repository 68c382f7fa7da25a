using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// GroupNorm, optionally followed by SiLU, on channels-last bf16 activations through the native kernels
/// (<c>Native/norms_bf16.c</c>): per-channel sums in double, one scale and shift per channel, fp32 arithmetic and
/// one rounding to bf16. Replaces libtorch's four passes (to fp32, group_norm, to bf16, SiLU) with two.
/// </summary>
internal static partial class FusedGroupNorm
{
    /// <summary>Pixels per parallel block: small enough to spread a 64×64 level over both cores many times.</summary>
    private const long PixelsPerBlock = 256;

    [LibraryImport(NativeKernels.Library, EntryPoint = "redraft_channel_sums_bf16")]
    private static unsafe partial int ChannelSums(void* x, nint pixels, nint channels, double* sum, double* sumsq);

    [LibraryImport(NativeKernels.Library, EntryPoint = "redraft_scale_shift_bf16")]
    private static unsafe partial void ScaleShift(void* x, void* y, nint pixels, nint channels, float* scale, float* shift, int silu);

    /// <summary>Whether <see cref="Forward"/> takes <paramref name="x"/>: a 4-D channels-last bf16 CPU tensor, kernels available.</summary>
    public static bool Handles(Tensor x, long groups) =>
        x.dim() == 4 && NativeKernels.Takes(x) && ChannelsLast.Is(x) && x.shape[1] % groups == 0;

    /// <summary>
    /// GroupNorm of <paramref name="x"/> (N, C, H, W) channels-last bf16 over <paramref name="groups"/> groups with fp32
    /// <paramref name="weight"/> and <paramref name="bias"/> (C), then SiLU when <paramref name="silu"/>; the result
    /// is channels-last bf16.
    /// </summary>
    public static unsafe Tensor Forward(Tensor x, long groups, Tensor weight, Tensor bias, double eps, bool silu)
    {
        if (!Handles(x, groups)) throw new ArgumentException("fused GroupNorm takes channels-last bf16 (N, C, H, W) tensors whose channels divide into the groups.");
        long n = x.shape[0], c = x.shape[1], pixels = x.shape[2] * x.shape[3];
        long blocksPerItem = (pixels + PixelsPerBlock - 1) / PixelsPerBlock;
        var sums = new double[n * blocksPerItem * c];
        var squares = new double[n * blocksPerItem * c];
        int failed = 0;
        using var nhwc = x.permute(0, 2, 3, 1);
        fixed (byte* px = nhwc.bytes)
        fixed (double* ps = sums, pq = squares)
        {
            nint ax = (nint)px, asum = (nint)ps, asq = (nint)pq;
            NativeKernels.ForBlocks(n * blocksPerItem, 1, (block, _) =>
            {
                long item = block / blocksPerItem, start = block % blocksPerItem * PixelsPerBlock;
                long count = Math.Min(PixelsPerBlock, pixels - start);
                var source = (byte*)ax + (item * pixels + start) * c * sizeof(ushort);
                if (ChannelSums(source, (nint)count, (nint)c, (double*)asum + block * c, (double*)asq + block * c) != 0)
                    Interlocked.Exchange(ref failed, 1);
            });
        }
        if (failed != 0) throw new OutOfMemoryException("fused GroupNorm: out of memory for its partial sums.");

        var (scale, shift) = ScaleAndShift(sums, squares, n, blocksPerItem, c, pixels, groups, weight, bias, eps);
        var output = empty(new[] { n, x.shape[2], x.shape[3], c }, dtype: ScalarType.BFloat16);
        fixed (byte* px = nhwc.bytes, py = output.bytes)
        fixed (float* pa = scale, pb = shift)
        {
            nint ax = (nint)px, ay = (nint)py, aa = (nint)pa, ab = (nint)pb;
            NativeKernels.ForBlocks(n * blocksPerItem, 1, (block, _) =>
            {
                long item = block / blocksPerItem, start = block % blocksPerItem * PixelsPerBlock;
                long count = Math.Min(PixelsPerBlock, pixels - start);
                long offset = (item * pixels + start) * c * sizeof(ushort);
                ScaleShift((byte*)ax + offset, (byte*)ay + offset, (nint)count, (nint)c,
                    (float*)aa + item * c, (float*)ab + item * c, silu ? 1 : 0);
            });
        }
        // The view keeps the storage alive; the NHWC handle itself is released now, not at finalisation.
        using (output) return output.permute(0, 3, 1, 2);
    }

    /// <summary>
    /// Per item and channel, y = x·scale + shift equals (x − mean) / √(var + eps) · weight + bias with the group's
    /// biased statistics, as group_norm computes them. Sums are added in double, so E[x²] − E[x]² loses nothing
    /// that matters for bf16 inputs.
    /// </summary>
    private static (float[] Scale, float[] Shift) ScaleAndShift(double[] sums, double[] squares, long n, long blocksPerItem,
        long c, long pixels, long groups, Tensor weight, Tensor bias, double eps)
    {
        var w = weight.to(ScalarType.Float32).data<float>().ToArray();
        var b = bias.to(ScalarType.Float32).data<float>().ToArray();
        long perGroup = c / groups;
        double count = (double)pixels * perGroup;
        var scale = new float[n * c];
        var shift = new float[n * c];
        for (long item = 0; item < n; item++)
        {
            for (long g = 0; g < groups; g++)
            {
                double s = 0, q = 0;
                for (long block = item * blocksPerItem; block < (item + 1) * blocksPerItem; block++)
                {
                    for (long ch = g * perGroup; ch < (g + 1) * perGroup; ch++)
                    {
                        s += sums[block * c + ch];
                        q += squares[block * c + ch];
                    }
                }
                double mean = s / count;
                double variance = Math.Max(q / count - mean * mean, 0);
                double rstd = 1 / Math.Sqrt(variance + eps);
                for (long ch = g * perGroup; ch < (g + 1) * perGroup; ch++)
                {
                    double a = w[ch] * rstd;
                    scale[item * c + ch] = (float)a;
                    shift[item * c + ch] = (float)(b[ch] - mean * a);
                }
            }
        }
        return (scale, shift);
    }
}
