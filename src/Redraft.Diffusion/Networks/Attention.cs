using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>Scaled dot-product attention over (batch, tokens, heads·dim) tensors, the math of the original <c>CrossAttention</c>.</summary>
internal static class Attention
{
    /// <summary>
    /// softmax(q·kᵀ/√d)·v per head; q, k, v are (B, N, H·D), the result is (B, N, H·D). bf16 on CPUs with
    /// AVX512-BF16 runs the fused kernel (<see cref="FusedAttention"/>), everything else libtorch's SDPA.
    /// </summary>
    public static Tensor MultiHead(Tensor q, Tensor k, Tensor v, int heads, bool causal = false)
    {
        long headSize = q.shape[2] / heads;
        if (causal || !FusedAttention.Handles(q, headSize)) return Sdpa(q, k, v, heads, causal);
        FlopCounter.AddAttention(q.shape[0] * heads, q.shape[1], k.shape[1], headSize);
        return FusedAttention.Forward(q, k, v, heads);
    }

    /// <summary>The same through libtorch's <c>scaled_dot_product_attention</c> (any dtype and device).</summary>
    public static Tensor Sdpa(Tensor q, Tensor k, Tensor v, int heads, bool causal = false)
    {
        using var scope = NewDisposeScope();
        long b = q.shape[0], n = q.shape[1], m = k.shape[1], c = q.shape[2];
        long d = c / heads;
        FlopCounter.AddAttention(b * heads, n, m, d);
        var qh = q.view(b, n, heads, d).transpose(1, 2);
        var kh = k.view(b, m, heads, d).transpose(1, 2);
        var vh = v.view(b, m, heads, d).transpose(1, 2);
        var o = nn.functional.scaled_dot_product_attention(qh, kh, vh, is_casual: causal);
        return o.transpose(1, 2).reshape(b, n, c).MoveToOuterDisposeScope();
    }
}
