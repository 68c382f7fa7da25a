using Redraft.Diffusion.Networks;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Networks;

/// <summary>A theory that skips, with the reason shown, where the native kernels were not built or cannot run.</summary>
public sealed class NativeKernelsTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when <see cref="NativeKernels.IsAvailable"/> is false.</summary>
    public NativeKernelsTheoryAttribute()
    {
        if (!NativeKernels.IsAvailable)
            Skip = "native kernels unavailable: libredraft_kernels.so not built (no gcc at build time), the CPU lacks AVX512-BF16, or REDRAFT_KERNELS=libtorch";
    }
}

/// <summary>
/// The native GroupNorm(+SiLU), LayerNorm and GEGLU kernels against libtorch in fp32 on the same bf16 inputs:
/// the reference computes these in fp32 under autocast, so fp32 libtorch is the truth and the only difference
/// allowed is the final rounding to bf16 (relative error 2⁻⁹ ≈ 2e-3 per value). Measured relative L2 errors are
/// written to the test output; asserted below 4e-3, and every value within 1e-2 relative + 1e-2 absolute.
/// </summary>
public sealed class FusedElementwiseTests(ITestOutputHelper output)
{
    private const double RelativeL2Limit = 4e-3;

    private static Tensor ChannelsLastBf16(long[] shape, Generator generator, double scale, double offset) =>
        ChannelsLast.Ensure((randn(shape, generator: generator) * scale + offset).to(ScalarType.BFloat16));

    private void AssertClose(Tensor reference, Tensor actual, string what)
    {
        var a = actual.to(ScalarType.Float32);
        double relative = (a - reference).norm().item<float>() / reference.norm().item<float>();
        var worst = ((a - reference).abs() - (reference.abs() * 1e-2 + 1e-2)).max().item<float>();
        output.WriteLine($"{what}: relative L2 {relative:E2}, max abs {(a - reference).abs().max().item<float>():E2}");
        Assert.True(relative < RelativeL2Limit, $"{what}: relative L2 error {relative:E2}");
        Assert.True(worst <= 0, $"{what}: a value is off by {worst:E2} more than 1e-2·|ref| + 1e-2");
        Assert.Equal(reference.shape, actual.shape);
        Assert.Equal(ScalarType.BFloat16, actual.dtype);
    }

    [NativeKernelsTheory]
    [InlineData(2, 320, 64, 64, 32, false)]   // SD 1.5 first level, the transformer's GroupNorm
    [InlineData(2, 640, 16, 16, 32, true)]    // a ResBlock's GroupNorm + SiLU
    [InlineData(1, 40, 7, 9, 8, true)]        // channels not a multiple of 16, pixels not a multiple of the block
    [InlineData(1, 2560, 8, 8, 32, true)]     // the deepest level after the skip concatenation
    [InlineData(3, 96, 33, 17, 32, false)]    // three items, more than one pixel block each
    public void GroupNormMatchesFp32(int n, int c, int h, int w, int groups, bool silu)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)(c * 7 + h));
        // An offset far from zero checks that E[x²] − E[x]² does not cancel away the variance.
        var x = ChannelsLastBf16([n, c, h, w], generator, 3, 20);
        var weight = randn(new long[] { c }, generator: generator) + 1;
        var bias = randn(new long[] { c }, generator: generator);

        Assert.True(FusedGroupNorm.Handles(x, groups));
        var fused = FusedGroupNorm.Forward(x, groups, weight, bias, 1e-5, silu);
        var reference = nn.functional.group_norm(x.to(ScalarType.Float32), groups, weight, bias, 1e-5);
        if (silu) reference = nn.functional.silu(reference);

        Assert.True(ChannelsLast.Is(fused), "the result stays channels-last");
        AssertClose(reference, fused, $"GroupNorm {n}×{c}×{h}×{w}/{groups}{(silu ? " + SiLU" : "")}");
    }

    [NativeKernelsTheory]
    [InlineData(2, 4096, 320)]
    [InlineData(1, 77, 1024)]
    [InlineData(3, 5, 40)]     // a dimension with a partial vector
    public void LayerNormMatchesFp32(int n, int tokens, int dim)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)(tokens + dim));
        var x = (randn(new long[] { n, tokens, dim }, generator: generator) * 4 - 3).to(ScalarType.BFloat16);
        var weight = randn(new long[] { dim }, generator: generator) + 1;
        var bias = randn(new long[] { dim }, generator: generator);

        var fused = FusedLayerNorm.Forward(x, weight, bias, 1e-5);
        var reference = nn.functional.layer_norm(x.to(ScalarType.Float32), new long[] { dim }, weight, bias, 1e-5);
        AssertClose(reference, fused, $"LayerNorm {n}×{tokens}×{dim}");
    }

    [NativeKernelsTheory]
    [InlineData(2, 64, 2560)]
    [InlineData(1, 3, 40)]     // inner width with a partial vector
    public void GegluMatchesFp32(int n, int tokens, int inner)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)(tokens * inner));
        var projection = (randn(new long[] { n, tokens, 2 * inner }, generator: generator) * 3).to(ScalarType.BFloat16);

        var fused = FusedGeglu.Forward(projection);
        var halves = projection.to(ScalarType.Float32).chunk(2, dim: -1);
        var reference = halves[0] * nn.functional.gelu(halves[1]);
        AssertClose(reference, fused, $"GEGLU {n}×{tokens}×{2 * inner}");
    }

    [NativeKernelsTheory]
    [InlineData(-90f)]
    [InlineData(-20f)]
    [InlineData(-4f)]
    [InlineData(0f)]
    [InlineData(3f)]
    [InlineData(60f)]
    public void SiluAndGeluTailsAreExact(float value)
    {
        using var scope = NewDisposeScope();
        // SiLU through a GroupNorm that passes values through (one group per channel pair with a known mean and
        // spread, so the normalised values are ±value), GELU through a projection whose gate half is the value.
        var x = tensor(new[] { -1f, 1f }).reshape(1, 1, 1, 2).permute(0, 3, 1, 2);
        var pair = ChannelsLast.Ensure(x.repeat(1, 1, 1, 1).to(ScalarType.BFloat16));
        var weight = full(2, value);
        var bias = zeros(2);
        var normalized = FusedGroupNorm.Forward(pair, 1, weight, bias, 0, silu: true).to(ScalarType.Float32).flatten();
        var expectedSilu = nn.functional.silu(tensor(new[] { -value, value }));
        var gate = tensor(new[] { 1f, value }).to(ScalarType.BFloat16).reshape(1, 2);
        var gelu = FusedGeglu.Forward(gate).to(ScalarType.Float32).item<float>();
        float expectedGelu = nn.functional.gelu(tensor(value)).item<float>();
        output.WriteLine($"x={value}: silu {normalized[0].item<float>():E3}/{normalized[1].item<float>():E3} (expected {expectedSilu[0].item<float>():E3}/{expectedSilu[1].item<float>():E3}), gelu {gelu:E3} (expected {expectedGelu:E3})");
        for (int i = 0; i < 2; i++)
        {
            float e = expectedSilu[i].item<float>(), a = normalized[i].item<float>();
            Assert.True(Math.Abs(a - e) <= Math.Abs(e) * 8e-3 + 1e-30, $"silu({(i == 0 ? -value : value)}) = {a:E3}, expected {e:E3}");
        }
        Assert.True(Math.Abs(gelu - expectedGelu) <= Math.Abs(expectedGelu) * 8e-3 + 1e-30, $"gelu({value}) = {gelu:E3}, expected {expectedGelu:E3}");
    }

    [NativeKernelsTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void ModulesUseTheKernelsOnlyForWhatTheyTake(bool channelsLast)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        var norm = new GroupNormF32(32, 64, 1e-5, null);
        var x = (randn(new long[] { 2, 64, 8, 8 }, generator: generator) * 2).to(ScalarType.BFloat16);
        if (channelsLast) x = ChannelsLast.Ensure(x);
        Assert.Equal(channelsLast, FusedGroupNorm.Handles(x, 32));
        var activated = norm.ForwardThenSilu(x);
        var reference = nn.functional.silu(nn.functional.group_norm(x.to(ScalarType.Float32), 32, norm.weight, norm.bias, 1e-5));
        AssertClose(reference, activated, $"GroupNormF32.ForwardThenSilu, {(channelsLast ? "channels-last" : "NCHW")}");
        // fp32 activations never reach the kernels, and come back bit for bit what libtorch gives.
        var fp32 = randn(new long[] { 2, 64, 8, 8 }, generator: generator);
        Assert.False(FusedGroupNorm.Handles(ChannelsLast.Ensure(fp32), 32));
        Assert.True(norm.call(fp32).eq(nn.functional.group_norm(fp32, 32, norm.weight, norm.bias, 1e-5)).all().item<bool>());
    }

    [NativeKernelsTheory]
    [InlineData(1)]
    public void ReadsTensorsThatStartInsideTheirStorage(int item)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(9);
        var batch = (randn(new long[] { 3, 10, 48 }, generator: generator) * 2).to(ScalarType.BFloat16);
        var slice = batch.narrow(0, item, 1); // contiguous, but not at the start of its storage
        var weight = ones(48);
        var bias = zeros(48);
        var fused = FusedLayerNorm.Forward(slice, weight, bias, 1e-5);
        var reference = nn.functional.layer_norm(slice.to(ScalarType.Float32), new long[] { 48 }, weight, bias, 1e-5);
        AssertClose(reference, fused, "LayerNorm of a slice");
        var gelu = FusedGeglu.Forward(slice);
        var halves = slice.to(ScalarType.Float32).chunk(2, dim: -1);
        AssertClose(halves[0] * nn.functional.gelu(halves[1]), gelu, "GEGLU of a slice");
    }
}
