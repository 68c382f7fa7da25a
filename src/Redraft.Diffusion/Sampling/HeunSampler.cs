using TorchSharp;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// "Heun": k-diffusion's <c>sample_heun</c> without churn (AUTOMATIC1111's settings). Each step takes an
/// Euler step to σ_{i+1}, evaluates the model there and moves with the mean of both slopes:
/// d = (x − D(x, σ_i))/σ_i, x₂ = x + d·Δσ, d₂ = (x₂ − D(x₂, σ_{i+1}))/σ_{i+1}, x ← x + (d + d₂)/2·Δσ.
/// The step to σ = 0 is a plain Euler step. Two model calls per step (one on the last). Deterministic.
/// </summary>
internal sealed class HeunSampler : ISampler
{
    private static readonly string[] AliasList = ["k_heun", "heun"];

    /// <inheritdoc/>
    public string Name => "Heun";

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
        return SamplerLoop.Run(x, sigmas, ct, (i, cur) =>
        {
            double sigma = sigmas[i], sigmaNext = sigmas[i + 1];
            KSampling.CheckFrom(sigma);
            var denoised = KSampling.Eval(denoise, cur, sigma);
            var d = SamplerLoop.ToD(cur, sigma, denoised);
            onStep?.Invoke(new SamplerStep(i, sigmas.Length - 1, sigma, cur, denoised));
            double dt = sigmaNext - sigma;
            if (sigmaNext == 0) return cur + d * dt;
            var x2 = cur + d * dt;
            var denoised2 = KSampling.Eval(denoise, x2, sigmaNext);
            var d2 = SamplerLoop.ToD(x2, sigmaNext, denoised2);
            return cur + (d + d2) / 2 * dt;
        });
    }
}
