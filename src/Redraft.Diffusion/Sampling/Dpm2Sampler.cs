using TorchSharp;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// "DPM2": k-diffusion's <c>sample_dpm_2</c> without churn, a second-order midpoint method in log σ:
/// with σ_mid = exp((ln σ_i + ln σ_{i+1})/2), d = (x − D(x, σ_i))/σ_i, x₂ = x + d·(σ_mid − σ_i),
/// d₂ = (x₂ − D(x₂, σ_mid))/σ_mid and x ← x + d₂·(σ_{i+1} − σ_i). The step to σ = 0 is an Euler step.
/// Deterministic.
/// </summary>
/// <remarks>
/// As in AUTOMATIC1111 (its <c>discard_next_to_last_sigma</c> option for DPM2), <see cref="Sigmas"/>
/// builds the schedule for steps + 1 and drops the next-to-last level, so the run still has
/// <c>steps</c> steps but does not spend its final Euler step on the tiny interval σ_min → 0.
/// </remarks>
internal sealed class Dpm2Sampler : ISampler
{
    private static readonly string[] AliasList = ["k_dpm_2", "dpm_2", "dpm2"];

    /// <inheritdoc/>
    public string Name => "DPM2";

    /// <inheritdoc/>
    public IReadOnlyList<string> Aliases => AliasList;

    /// <inheritdoc/>
    public ScheduleKind DefaultSchedule => ScheduleKind.Normal;

    /// <summary>All sigma schedules (the same as every k-sampler).</summary>
    public IReadOnlyList<ScheduleKind> SupportedSchedules => ISampler.KSamplerSchedules;

    /// <summary>
    /// The <paramref name="kind"/> schedule (default <see cref="DefaultSchedule"/>) for steps + 1 with its
    /// next-to-last sigma removed: steps + 1 entries ending in 0 (A1111's <c>discard_next_to_last_sigma</c>).
    /// </summary>
    public double[] Sigmas(NoiseSchedule schedule, int steps, ScheduleKind? kind = null)
    {
        var chosen = kind ?? DefaultSchedule;
        if (!SupportedSchedules.Contains(chosen))
            throw new RedraftInputException(
                $"sampler \"{Name}\" does not run with the {ScheduleNames.Name(chosen)} schedule; it accepts: {string.Join(", ", SupportedSchedules.Select(ScheduleNames.Name))}.");
        if (steps < 1) throw new RedraftInputException($"steps must be at least 1 (got {steps})");
        double[] full = Schedules.Build(chosen, schedule, steps + 1);
        return [.. full[..^2], full[^1]];
    }

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
            if (sigmaNext == 0) return cur + d * (sigmaNext - sigma);
            double logSigma = Math.Log(sigma);
            double sigmaMid = Math.Exp(logSigma + 0.5 * (Math.Log(sigmaNext) - logSigma));   // torch lerp
            var x2 = cur + d * (sigmaMid - sigma);
            var denoised2 = KSampling.Eval(denoise, x2, sigmaMid);
            var d2 = SamplerLoop.ToD(x2, sigmaMid, denoised2);
            return cur + d2 * (sigmaNext - sigma);
        });
    }
}
