using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// GEGLU's gate on bf16 activations through the native kernels (<c>Native/geglu_bf16.c</c>): the first half of
/// each projected row times the exact GELU of the second half, in one pass with fp32 arithmetic, instead of
/// libtorch's chunk, GELU and multiply over the feed-forward's widest tensor.
/// </summary>
internal static partial class FusedGeglu
{
    private const long RowsPerBlock = 32;

    [LibraryImport(NativeKernels.Library, EntryPoint = "redraft_geglu_bf16")]
    private static unsafe partial void Geglu(void* projection, void* output, nint rows, nint inner);

    /// <summary>Whether <see cref="Forward"/> takes <paramref name="projection"/>: contiguous bf16 on the CPU with an even last dimension.</summary>
    public static bool Handles(Tensor projection) =>
        NativeKernels.Takes(projection) && projection.dim() >= 1 && projection.shape[^1] % 2 == 0 && projection.is_contiguous();

    /// <summary>a · gelu(g) where (a, g) are the halves of the last dimension of <paramref name="projection"/>.</summary>
    public static unsafe Tensor Forward(Tensor projection)
    {
        if (!Handles(projection)) throw new ArgumentException("fused GEGLU takes contiguous bf16 CPU tensors with an even last dimension.");
        long inner = projection.shape[^1] / 2, rows = projection.numel() / (2 * inner);
        var shape = projection.shape.ToArray();
        shape[^1] = inner;
        var output = empty(shape, dtype: ScalarType.BFloat16);
        fixed (byte* pp = projection.bytes, po = output.bytes)
        {
            nint ap = (nint)pp, ao = (nint)po;
            NativeKernels.ForBlocks(rows, RowsPerBlock, (start, count) =>
                Geglu((byte*)ap + start * 2 * inner * sizeof(ushort), (byte*)ao + start * inner * sizeof(ushort), (nint)count, (nint)inner));
        }
        return output;
    }
}
