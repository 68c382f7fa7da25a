using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// LayerNorm over the last dimension of bf16 activations through the native kernels (<c>Native/norms_bf16.c</c>):
/// fp32 statistics of each row held in cache, one rounding to bf16. Replaces libtorch's to-fp32, layer_norm,
/// to-bf16 passes.
/// </summary>
internal static partial class FusedLayerNorm
{
    private const long RowsPerBlock = 64;

    [LibraryImport(NativeKernels.Library, EntryPoint = "redraft_layer_norm_bf16")]
    private static unsafe partial void LayerNorm(void* x, void* y, nint rows, nint dim, float* weight, float* bias, float eps);

    /// <summary>Whether <see cref="Forward"/> takes <paramref name="x"/>: a contiguous bf16 CPU tensor, kernels available.</summary>
    public static bool Handles(Tensor x) => NativeKernels.Takes(x) && x.dim() >= 1 && x.is_contiguous();

    /// <summary>LayerNorm of the last dimension of contiguous bf16 <paramref name="x"/> with fp32 <paramref name="weight"/> and <paramref name="bias"/>.</summary>
    public static unsafe Tensor Forward(Tensor x, Tensor weight, Tensor bias, double eps)
    {
        if (!Handles(x)) throw new ArgumentException("fused LayerNorm takes contiguous bf16 CPU tensors.");
        long dim = x.shape[^1], rows = x.numel() / dim;
        var w = weight.to(ScalarType.Float32).data<float>().ToArray();
        var b = bias.to(ScalarType.Float32).data<float>().ToArray();
        var output = empty(x.shape, dtype: ScalarType.BFloat16);
        fixed (byte* px = x.bytes, py = output.bytes)
        fixed (float* pw = w, pb = b)
        {
            nint ax = (nint)px, ay = (nint)py, aw = (nint)pw, ab = (nint)pb;
            NativeKernels.ForBlocks(rows, RowsPerBlock, (start, count) =>
            {
                long offset = start * dim * sizeof(ushort);
                LayerNorm((byte*)ax + offset, (byte*)ay + offset, (nint)count, (nint)dim, (float*)aw, (float*)ab, (float)eps);
            });
        }
        return output;
    }
}
