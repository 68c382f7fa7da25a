using TorchSharp;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// "Euler a": k-diffusion's <c>sample_euler_ancestral</c> with η = 1 and s_noise = 1.
/// Each step goes deterministically to σdown and adds fresh noise of scale σup, where
/// σup = min(σnext, sqrt(σnext²(σ² − σnext²)/σ²)) and σdown = sqrt(σnext² − σup²).
/// One noise tensor is drawn per step except the last (σnext = 0), in step order.
/// </summary>
internal sealed class EulerAncestralSampler : ISampler
{
    private static readonly string[] AliasList = ["k_euler_a", "euler_ancestral", "euler_a"];

    /// <inheritdoc/>
    public string Name => "Euler a";

    /// <inheritdoc/>
    public IReadOnlyList<string> Aliases => AliasList;

    /// <inheritdoc/>
    public ScheduleKind DefaultSchedule => ScheduleKind.Normal;

    /// <summary>σ: txt2img noise is N(0, σ²) in sigma space.</summary>
    public double InitialNoiseScale(double sigma) => sigma;

    /// <inheritdoc/>
    public torch.Tensor Sample(Denoiser denoise, torch.Tensor x, double[] sigmas, Func<torch.Tensor> nextNoise,
        Action<SamplerStep>? onStep, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(denoise);
        ArgumentNullException.ThrowIfNull(nextNoise);
        return SamplerLoop.Run(x, sigmas, ct,
            (i, cur) => SamplerLoop.AncestralEulerStep(denoise, cur, sigmas, i, 1.0, nextNoise, onStep));
    }
}
