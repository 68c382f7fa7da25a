using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// Multi-head attention through the native FlashAttention-style kernel (<c>Native/attention_bf16.c</c>): bf16
/// dot products with fp32 accumulation, online softmax in fp32, no score matrix in memory. About 4× faster than
/// libtorch's <c>scaled_dot_product_attention</c> at the 64×64 latent level on Zen 4. Used for bf16 activations
/// on CPUs with AVX512-BF16 when the library was built (gcc at build time); otherwise <see cref="IsAvailable"/>
/// is false and attention stays on libtorch.
/// </summary>
internal static partial class FusedAttention
{
    /// <summary>The largest head size the kernel takes (even sizes from 2).</summary>
    public const long MaxHeadSize = 160;

    [LibraryImport(NativeKernels.Library, EntryPoint = "redraft_attention_bf16")]
    private static unsafe partial int NativeAttention(void* q, void* k, void* v, void* output, nint heads, nint n, nint m, nint d, float scale, nint item);

    private static readonly bool turnedOff =
        Environment.GetEnvironmentVariable("REDRAFT_ATTENTION") is { } choice && choice.Equals("sdpa", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Whether the native kernels are available (<see cref="NativeKernels.IsAvailable"/>) and attention was not
    /// sent back to libtorch with the environment variable <c>REDRAFT_ATTENTION=sdpa</c>.
    /// </summary>
    public static bool IsAvailable => !turnedOff && NativeKernels.IsAvailable;

    /// <summary>Whether <see cref="Forward"/> takes these inputs: bf16 on the CPU, an even head size up to <see cref="MaxHeadSize"/>.</summary>
    public static bool Handles(Tensor q, long headSize) =>
        q.dtype == ScalarType.BFloat16 && q.device_type == TorchSharp.DeviceType.CPU && headSize % 2 == 0 && headSize is >= 2 and <= MaxHeadSize
        && IsAvailable;

    /// <summary>
    /// softmax(q·kᵀ/√d)·v per head; q is (B, N, H·D), k and v are (B, M, H·D), all bf16; the result is (B, N, H·D)
    /// bf16. (batch, head) pairs run in parallel on libtorch's thread count.
    /// </summary>
    public static unsafe Tensor Forward(Tensor q, Tensor k, Tensor v, int heads)
    {
        long b = q.shape[0], n = q.shape[1], m = k.shape[1], c = q.shape[2];
        long d = c / heads;
        if (!Handles(q, d) || k.dtype != q.dtype || v.dtype != q.dtype || k.shape[2] != c || v.shape[1] != m || v.shape[2] != c)
            throw new ArgumentException($"fused attention takes bf16 (B, N, H·D) tensors with an even head size up to {MaxHeadSize}.");
        using var qc = q.contiguous();
        using var kc = k.contiguous();
        using var vc = v.contiguous();
        var output = empty(b, n, c, dtype: ScalarType.BFloat16);
        float scale = (float)(1.0 / Math.Sqrt(d));
        int failed = 0;
        fixed (byte* pq = qc.bytes, pk = kc.bytes, pv = vc.bytes, po = output.bytes)
        {
            nint aq = (nint)pq, ak = (nint)pk, av = (nint)pv, ao = (nint)po;
            NativeKernels.ForBlocks(b * heads, 1, (item, _) =>
            {
                int status = NativeAttention((void*)aq, (void*)ak, (void*)av, (void*)ao, (nint)heads, (nint)n, (nint)m, (nint)d, scale, (nint)item);
                if (status != 0) Interlocked.Exchange(ref failed, status);
            });
        }
        if (failed != 0)
        {
            output.Dispose();
            throw failed == 2 ? new OutOfMemoryException("fused attention: out of memory for its key/value buffers.") : new InvalidOperationException("fused attention: unsupported shape.");
        }
        return output;
    }
}
