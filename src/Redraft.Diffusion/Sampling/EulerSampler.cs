using TorchSharp;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// "Euler": k-diffusion's <c>sample_euler</c> without churn (AUTOMATIC1111's settings):
/// for each step, d = (x − D(x, σ_i))/σ_i and x ← x + d·(σ_{i+1} − σ_i). Deterministic.
/// </summary>
internal sealed class EulerSampler : ISampler
{
    private static readonly string[] AliasList = ["k_euler", "euler"];

    /// <inheritdoc/>
    public string Name => "Euler";

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
        return SamplerLoop.Run(x, sigmas, ct,
            (i, cur) => SamplerLoop.AncestralEulerStep(denoise, cur, sigmas, i, 0.0, nextNoise, onStep));
    }
}
