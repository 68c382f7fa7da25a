using TorchSharp;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// "LCM": the latent consistency sampler of AUTOMATIC1111 (k-diffusion style, as ComfyUI's <c>lcm</c>): each step
/// jumps to the model's estimate, x ← D(x, σ_i), and, unless σ_{i+1} = 0, re-noises it to the next level with
/// fresh noise, x ← x + σ_{i+1}·z. One noise tensor is drawn per step except the last.
/// </summary>
/// <remarks>
/// <para>In DDPM space this is diffusers' <c>LCMScheduler</c> step: x_p = sqrt(ᾱ_p)·x̂ + sqrt(1 − ᾱ_p)·z, whose sigma-space
/// form (÷ sqrt(ᾱ_p)) is x̂ + σ_p·z; the last step returns x̂.</para>
/// <para>The sampler only moves between noise levels. What makes a latent consistency model work is on the model side
/// and belongs to the denoiser of LCM models: the consistency boundary condition
/// x̂ = c_skip(t)·x + c_out(t)·x̂0 with c_skip = σ_d²/((10t)² + σ_d²), c_out = 10t/sqrt((10t)² + σ_d²), σ_d = 0.5,
/// and LCM's own timesteps (50 "original" steps, t = 19, 39, …, 999). AUTOMATIC1111 puts both in its LCM denoiser:
/// the model always runs at the nearest of those 50 timesteps, and its "Automatic" schedule spaces the sigmas evenly in
/// timestep between 999 and 19 over those 50 levels, then 0; it applies c_skip to the sigma-space input (diffusers
/// to the DDPM-space one — the difference is negligible, c_skip ≤ 7·10⁻⁶ for t ≥ 19).</para>
/// </remarks>
internal sealed class LcmSampler : ISampler
{
    private static readonly string[] AliasList = ["lcm", "k_lcm"];

    /// <inheritdoc/>
    public string Name => "LCM";

    /// <inheritdoc/>
    public IReadOnlyList<string> Aliases => AliasList;

    /// <inheritdoc/>
    public ScheduleKind DefaultSchedule => ScheduleKind.Normal;

    /// <summary>σ: txt2img noise is N(0, σ²) in sigma space (k-diffusion's convention).</summary>
    public double InitialNoiseScale(double sigma) => sigma;

    /// <inheritdoc/>
    public torch.Tensor Sample(Denoiser denoise, torch.Tensor x, double[] sigmas, Func<torch.Tensor> nextNoise,
        Action<SamplerStep>? onStep, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(denoise);
        ArgumentNullException.ThrowIfNull(nextNoise);
        return SamplerLoop.Run(x, sigmas, ct, (i, cur) =>
        {
            double sigma = sigmas[i], sigmaNext = sigmas[i + 1];
            if (!(sigma > 0)) throw new ArgumentException($"cannot step from sigma {sigma}", nameof(sigmas));
            var denoised = denoise(cur, sigma) ?? throw new InvalidOperationException("the denoiser returned null");
            onStep?.Invoke(new SamplerStep(i, sigmas.Length - 1, sigma, cur, denoised));
            return sigmaNext > 0
                ? denoised + SamplerLoop.Noise(nextNoise, cur) * sigmaNext
                : denoised.alias();
        });
    }
}
