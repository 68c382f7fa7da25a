using TorchSharp;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// "DDIM" (Song et al. 2020) on the "leading" DDIM timesteps, written in sigma space.
/// </summary>
/// <remarks>
/// <para>The DDIM update in DDPM space, from timestep t (ᾱ_t) to the previous one (ᾱ_p), is
/// x_p = sqrt(ᾱ_p)·x̂0 + sqrt(1 − ᾱ_p − s²)·ε̂ + s·z, with
/// s = η·sqrt((1 − ᾱ_p)/(1 − ᾱ_t))·sqrt(1 − ᾱ_t/ᾱ_p), ε̂ the predicted noise, x̂0 the predicted
/// clean latent and z ~ N(0, I).</para>
/// <para>Sigma space is DDPM space divided by sqrt(ᾱ) (σ² = (1 − ᾱ)/ᾱ, so 1/ᾱ = σ² + 1).
/// Dividing the update by sqrt(ᾱ_p) and writing u = s/sqrt(ᾱ_p) gives
/// x'_p = x̂0 + sqrt(σ_p² − u²)·ε̂ + u·z, since (1 − ᾱ_p − s²)/ᾱ_p = σ_p² − u².
/// Substituting ᾱ = 1/(σ² + 1) into s² and multiplying by σ_p² + 1 gives
/// u² = η²·σ_p²·(σ_t² − σ_p²)/σ_t² — exactly k-diffusion's ancestral σup with η, and
/// sqrt(σ_p² − u²) its σdown. With ε̂ = (x' − x̂0)/σ_t (the denoiser's implied noise) the step is
/// x'_p = x' + ε̂·(σdown − σ_t) + σup·z: an ancestral Euler step. For η = 0 (the default),
/// σup = 0 and σdown = σ_p, so DDIM is plain Euler on the DDIM sigmas, and no noise is drawn.</para>
/// <para>For η ≤ 1, u ≤ σ_p always holds, so the formula is the original one exactly;
/// k-diffusion's clamp u ≤ σ_p would only act for η &gt; 1, which is rejected.
/// With η &gt; 0 a noise tensor is drawn for every step whose σup &gt; 0, including the last step
/// to σ(ᾱ_0), as the original script draws one per step.</para>
/// </remarks>
internal sealed class DdimSampler : ISampler
{
    private static readonly string[] AliasList = ["ddim"];
    private readonly double _eta;

    /// <summary>DDIM's η in [0, 1]: 0 is deterministic DDIM, 1 has DDPM-like per-step variance.</summary>
    /// <exception cref="RedraftInputException">η is outside [0, 1].</exception>
    public double Eta
    {
        get => _eta;
        init
        {
            if (!(value >= 0 && value <= 1))
                throw new RedraftInputException($"DDIM eta must be between 0 and 1 (got {value})");
            _eta = value;
        }
    }

    /// <inheritdoc/>
    public string Name => "DDIM";

    /// <inheritdoc/>
    public IReadOnlyList<string> Aliases => AliasList;

    /// <inheritdoc/>
    public ScheduleKind DefaultSchedule => ScheduleKind.Ddim;

    /// <inheritdoc/>
    public bool CompVisImg2Img => true;

    /// <inheritdoc/>
    public IReadOnlyList<ScheduleKind> SupportedSchedules { get; } = [ScheduleKind.Ddim];

    /// <summary>sqrt(σ² + 1): x_T ~ N(0, I) in DDPM space, as the original script starts.</summary>
    public double InitialNoiseScale(double sigma) => Math.Sqrt(sigma * sigma + 1.0);

    /// <inheritdoc/>
    public torch.Tensor Sample(Denoiser denoise, torch.Tensor x, double[] sigmas, Func<torch.Tensor> nextNoise,
        Action<SamplerStep>? onStep, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(denoise);
        if (_eta > 0) ArgumentNullException.ThrowIfNull(nextNoise);
        return SamplerLoop.Run(x, sigmas, ct,
            (i, cur) => SamplerLoop.AncestralEulerStep(denoise, cur, sigmas, i, _eta, nextNoise, onStep));
    }
}
