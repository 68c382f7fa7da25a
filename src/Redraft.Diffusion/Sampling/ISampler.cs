using TorchSharp;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// A sampler in k-diffusion "sigma space": x = x0 + σ·ε with σ = sqrt((1 − ᾱ)/ᾱ).
/// Samplers only see a <see cref="Denoiser"/>; timesteps, guidance and the DDPM-space
/// conversions belong to the pipeline.
/// </summary>
internal interface ISampler
{
    /// <summary>The AUTOMATIC1111 name, e.g. <c>"Euler a"</c>.</summary>
    string Name { get; }

    /// <summary>Other accepted names, e.g. <c>"k_euler_a"</c>, <c>"euler_ancestral"</c>.</summary>
    IReadOnlyList<string> Aliases { get; }

    /// <summary>The schedule used when the user picks none ("Automatic").</summary>
    ScheduleKind DefaultSchedule { get; }

    /// <summary>Schedules this sampler runs with: all sigma schedules for k-samplers, only <see cref="ScheduleKind.Ddim"/> for DDIM/PLMS.</summary>
    IReadOnlyList<ScheduleKind> SupportedSchedules => KSamplerSchedules;

    /// <summary>The schedules every sigma-space sampler accepts.</summary>
    static readonly IReadOnlyList<ScheduleKind> KSamplerSchedules =
        [ScheduleKind.Normal, ScheduleKind.Karras, ScheduleKind.Exponential, ScheduleKind.SgmUniform];

    /// <summary>
    /// Sigmas of a full <paramref name="steps"/>-step run, descending, length steps + 1; the last one is the
    /// terminal level (0 for k-samplers). <paramref name="kind"/> null means <see cref="DefaultSchedule"/>.
    /// </summary>
    double[] Sigmas(NoiseSchedule schedule, int steps, ScheduleKind? kind = null)
    {
        var chosen = kind ?? DefaultSchedule;
        EnsureRunsWith(chosen);
        return Schedules.Build(chosen, schedule, steps);
    }

    /// <summary>Throws a user-facing error naming the accepted schedules when this sampler cannot run with <paramref name="kind"/>.</summary>
    void EnsureRunsWith(ScheduleKind kind)
    {
        if (!SupportedSchedules.Contains(kind))
            throw new RedraftInputException(
                $"sampler \"{Name}\" does not run with the {ScheduleNames.Name(kind)} schedule; it accepts: {string.Join(", ", SupportedSchedules.Select(ScheduleNames.Name))}.");
    }

    /// <summary>
    /// Scale of pure N(0, I) noise for txt2img at the first sigma: σ for k-samplers;
    /// sqrt(σ² + 1) for DDIM, i.e. x_T ~ N(0, I) in DDPM space as the original script does.
    /// </summary>
    double InitialNoiseScale(double sigma);

    /// <summary>
    /// img2img as the original CompVis script and AUTOMATIC1111's DDIM/PLMS do it: <c>t_enc = int(min(strength,
    /// 0.999) × steps)</c> steps run, and the init is noised to the level one above the first step that runs
    /// (<c>timesteps[t_enc]</c>). False for the k-diffusion samplers (the init is noised to the first step's level).
    /// </summary>
    bool CompVisImg2Img => false;

    /// <summary>
    /// Runs the steps sigmas[0] → sigmas[^1]. <paramref name="x"/> is already noised to sigmas[0]
    /// (sigma space) and is neither modified nor disposed. Returns a new tensor: x at sigmas[^1]
    /// (sigma space), owned by the caller.
    /// </summary>
    /// <param name="denoise">The model.</param>
    /// <param name="x">Start latent at sigmas[0].</param>
    /// <param name="sigmas">Noise levels, descending; at least one entry (one entry = no steps).</param>
    /// <param name="nextNoise">Returns fresh N(0, 1) noise shaped like x (for ancestral steps).</param>
    /// <param name="onStep">Optional progress callback, once per step.</param>
    /// <param name="ct">Checked before every step.</param>
    torch.Tensor Sample(Denoiser denoise, torch.Tensor x, double[] sigmas, Func<torch.Tensor> nextNoise,
        Action<SamplerStep>? onStep, CancellationToken ct);
}
