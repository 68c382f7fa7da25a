using Redraft.Diffusion.Sampling;

namespace Redraft.Diffusion.Tests.Sampling;

/// <summary>Zero-terminal-SNR rescaling (Lin et al. 2024, algorithm 1) of SD's scaled-linear schedule.</summary>
public sealed class ZeroTerminalSnrTests
{
    [Fact]
    public void RescaleKeepsTheFirstLevelAndReachesPureNoise()
    {
        var sd = NoiseSchedule.ScaledLinear();
        var rescaled = sd.WithZeroTerminalSnr();
        Assert.Equal(sd.AlphasCumprod[0], rescaled.AlphasCumprod[0], 12);
        Assert.Equal(NoiseSchedule.ZeroTerminalAlphaCumprod, rescaled.AlphasCumprod[^1]);
        // √ᾱ is an affine map of the original √ᾱ: check it at a middle timestep.
        double first = Math.Sqrt(sd.AlphasCumprod[0]), last = Math.Sqrt(sd.AlphasCumprod[^1]);
        double expected = (Math.Sqrt(sd.AlphasCumprod[500]) - last) * first / (first - last);
        Assert.Equal(expected, Math.Sqrt(rescaled.AlphasCumprod[500]), 12);
        // Terminal SNR drops from ≈ 0.0047 (σ_max ≈ 14.6) to ≈ 5e-8 (σ_max ≈ 4500).
        Assert.InRange(sd.SigmaMax, 14.6, 14.7);
        Assert.True(rescaled.SigmaMax > 4000);
        for (int t = 1; t < rescaled.TrainSteps; t++)
            Assert.True(rescaled.Sigmas[t] > rescaled.Sigmas[t - 1]);
    }
}
