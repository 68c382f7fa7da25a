using Redraft.Diffusion.Networks;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Networks;

/// <summary>The GEMM form of small bf16 convolutions against libtorch's convolution on the same bf16 inputs.</summary>
public sealed class SmallImageConvolutionTests
{
    [Theory]
    [InlineData(2, 64, 32, 8, 8)]     // deepest level: GEMM
    [InlineData(1, 1920, 16, 16, 16)] // wide input at 16×16: GEMM
    [InlineData(2, 32, 16, 5, 7)]     // ragged small map: GEMM
    [InlineData(1, 32, 16, 16, 16)]   // narrow at 16×16: libtorch's convolution
    public void MatchesTheConvolution(int batch, int channels, int outChannels, int height, int width)
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator((ulong)(channels + height));
        using var conv = nn.Conv2d(channels, outChannels, 3, padding: 1, dtype: ScalarType.BFloat16);
        using (no_grad())
        {
            conv.weight!.copy_(randn(new long[] { outChannels, channels, 3, 3 }, generator: generator) / Math.Sqrt(9 * channels));
            conv.bias!.copy_(randn(new long[] { outChannels }, generator: generator) * 0.1);
        }
        var x = ChannelsLast.Ensure(randn(new long[] { batch, channels, height, width }, generator: generator).to(ScalarType.BFloat16));
        bool gemm = height * width <= 64 || channels >= 1920;
        Assert.Equal(gemm, SmallImageConvolution.Prefers(x));

        var expected = nn.functional.conv2d(x.to(ScalarType.Float32), conv.weight!.to(ScalarType.Float32), conv.bias!.to(ScalarType.Float32), padding: [1, 1]);
        var actual = SmallImageConvolution.Apply(conv, x);
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(ChannelsLast.Is(actual) || !gemm);
        double relative = (actual.to(ScalarType.Float32) - expected).norm().item<float>() / expected.norm().item<float>();
        // The output's own bf16 rounding is ~2e-3 relative.
        Assert.True(relative < 1e-2, $"relative L2 error {relative:E2}");
    }

    [Fact]
    public void Fp32InputsKeepTheConvolution()
    {
        var x = ChannelsLast.Ensure(zeros(1, 8, 4, 4));
        Assert.False(SmallImageConvolution.Prefers(x));
        Assert.False(SmallImageConvolution.Prefers(zeros(1, 8, 4, 4, dtype: ScalarType.BFloat16)));
    }
}
