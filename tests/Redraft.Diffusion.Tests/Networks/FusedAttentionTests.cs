using Redraft.Diffusion.Networks;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Networks;

/// <summary>A theory that skips, with the reason shown, where the fused kernel was not built or the CPU lacks AVX512-BF16.</summary>
public sealed class FusedAttentionTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when <see cref="FusedAttention.IsAvailable"/> is false.</summary>
    public FusedAttentionTheoryAttribute()
    {
        if (!FusedAttention.IsAvailable)
            Skip = "fused attention unavailable: libredraft_kernels.so not built (no gcc at build time), the CPU lacks AVX512-BF16, or REDRAFT_ATTENTION=sdpa";
    }
}

/// <summary>
/// The native bf16 kernel against libtorch's fp32 SDPA on the same (bf16-representable) inputs. Tolerance,
/// measured: relative L2 error 1.7e-3 to 1.8e-3 on every shape below (about the bf16 rounding of the output itself); asserted below 1e-2.
/// </summary>
public sealed class FusedAttentionTests(ITestOutputHelper output)
{
    [FusedAttentionTheory]
    [InlineData(2, 256, 256, 8, 40)]   // SD 1.5 self-attention, small
    [InlineData(2, 100, 77, 8, 40)]    // cross-attention over one prompt chunk
    [InlineData(1, 64, 154, 5, 64)]    // SD 2.x head size, two prompt chunks
    [InlineData(2, 64, 64, 8, 80)]     // SD 1.5 second level
    [InlineData(1, 16, 77, 8, 160)]    // SD 1.5 deepest level
    [InlineData(1, 37, 5, 3, 2)]       // ragged everything
    [InlineData(1, 300, 513, 2, 48)]   // keys spanning three blocks, the last one partial
    public void MatchesSdpaInFp32(int batch, int n, int m, int heads, int headSize)
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator((ulong)(n * 31 + m));
        int c = heads * headSize;
        var q = (randn(new long[] { batch, n, c }, generator: generator) * 2).to(ScalarType.BFloat16);
        var k = (randn(new long[] { batch, m, c }, generator: generator) * 2).to(ScalarType.BFloat16);
        var v = randn(new long[] { batch, m, c }, generator: generator).to(ScalarType.BFloat16);

        var fused = FusedAttention.Forward(q, k, v, heads).to(ScalarType.Float32);
        var reference = Attention.Sdpa(q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32), heads);
        double relative = (fused - reference).norm().item<float>() / reference.norm().item<float>();
        output.WriteLine($"relative L2 {relative:E2}, max abs {(fused - reference).abs().max().item<float>():E2}");
        Assert.True(relative < 1e-2, $"relative L2 error {relative:E2}");
        Assert.Equal(reference.shape, fused.shape);
    }

    [FusedAttentionTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void ReadsViewsAndIsWhatMultiHeadRunsForBf16(bool view)
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator(3);
        var qkv = randn(new long[] { 2, 50, 3 * 80 }, generator: generator).to(ScalarType.BFloat16);
        // Slices of one projection, as a fused qkv layer would give: not contiguous, and two with a storage offset.
        var parts = view ? qkv.chunk(3, dim: 2) : qkv.chunk(3, dim: 2).Select(t => t.contiguous()).ToArray();
        var fused = FusedAttention.Forward(parts[0], parts[1], parts[2], heads: 2);
        var viaMultiHead = Attention.MultiHead(parts[0], parts[1], parts[2], heads: 2);
        Assert.True(fused.eq(viaMultiHead).all().item<bool>());
        var reference = Attention.Sdpa(parts[0].to(ScalarType.Float32), parts[1].to(ScalarType.Float32), parts[2].to(ScalarType.Float32), 2);
        double relative = (fused.to(ScalarType.Float32) - reference).norm().item<float>() / reference.norm().item<float>();
        Assert.True(relative < 1e-2, $"relative L2 error {relative:E2}");
    }

    [FusedAttentionTheory]
    [InlineData(3)]
    [InlineData(162)]
    public void RefusesHeadSizesItDoesNotTake(int headSize)
    {
        var q = zeros(new long[] { 1, 4, headSize }, dtype: ScalarType.BFloat16);
        Assert.False(FusedAttention.Handles(q, headSize));
        Assert.Throws<ArgumentException>(() => FusedAttention.Forward(q, q, q, 1));
        // MultiHead falls back to libtorch for them.
        Assert.Equal(q.shape, Attention.MultiHead(q, q, q, 1).shape);
    }
}
