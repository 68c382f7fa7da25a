using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// "DPM++ SDE Karras" and "DPM++ SDE": k-diffusion's <c>sample_dpmpp_sde</c> (DPM-Solver++ stochastic, a
/// two-stage singlestep method) with η = 1, s_noise = 1 and r = 1/2, on Brownian-tree noise.
/// </summary>
/// <remarks>
/// <para>In t = −ln σ with h = t_{i+1} − t_i: the first stage goes to s = t + r·h (σ_s = sqrt(σ_i·σ_{i+1})) as an
/// ancestral DPM-Solver++(1) step: with (σd, σu) = k-diffusion's ancestral split of σ_i → σ_s,
/// x₂ = (σd/σ_i)·x − expm1(t − (−ln σd))·D(x, σ_i) + σu·N(σ_i, σ_s). The second stage evaluates D(x₂, σ_s),
/// mixes D' = (1 − 1/(2r))·D(x, σ_i) + 1/(2r)·D(x₂, σ_s) and takes the same ancestral step σ_i → σ_{i+1} with
/// D', adding σu'·N(σ_i, σ_{i+1}). The step to σ = 0 is an Euler step. Two model calls per step (one on the last).</para>
/// <para>N(σ, σ') is <see cref="BrownianTreeNoise"/>: the increment of a per-image Brownian motion in σ, normalised.
/// Seed it per image with <see cref="ForSeeds"/> (A1111 seeds each image's tree with that image's seed);
/// without seeds the tree seeds are derived from one tensor drawn from <c>nextNoise</c>. The noise is not
/// bit-identical to k-diffusion's torchsde tree (see <see cref="BrownianTreeNoise"/>).</para>
/// </remarks>
internal sealed class DpmPpSdeSampler : ISampler, ISeededSampler
{
    private static readonly string[] PlainAliases = ["k_dpmpp_sde", "dpmpp_sde"];
    private static readonly string[] KarrasAliases = ["k_dpmpp_sde_ka", "dpmpp_sde_karras"];
    private readonly bool _karras;
    private readonly long[]? _seeds;

    /// <summary>"DPM++ SDE" (default schedule Normal), or with <paramref name="karras"/> "DPM++ SDE Karras".</summary>
    public DpmPpSdeSampler(bool karras = false) => _karras = karras;

    private DpmPpSdeSampler(bool karras, long[] seeds) { _karras = karras; _seeds = seeds; }

    /// <summary>The midpoint fraction r of k-diffusion's sampler (A1111 uses the default 1/2).</summary>
    public const double R = 0.5;

    /// <inheritdoc/>
    public string Name => _karras ? "DPM++ SDE Karras" : "DPM++ SDE";

    /// <inheritdoc/>
    public IReadOnlyList<string> Aliases => _karras ? KarrasAliases : PlainAliases;

    /// <inheritdoc/>
    public ScheduleKind DefaultSchedule => _karras ? ScheduleKind.Karras : ScheduleKind.Normal;

    /// <summary>The per-image seeds of the Brownian noise, or null (derived from <c>nextNoise</c>).</summary>
    public IReadOnlyList<long>? Seeds => _seeds;

    /// <inheritdoc/>
    public ISampler ForSeeds(IReadOnlyList<long> seeds)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        return new DpmPpSdeSampler(_karras, seeds.ToArray());
    }

    /// <summary>σ: txt2img noise is N(0, σ²) in sigma space.</summary>
    public double InitialNoiseScale(double sigma) => sigma;

    /// <inheritdoc/>
    public Tensor Sample(Denoiser denoise, Tensor x, double[] sigmas, Func<Tensor> nextNoise,
        Action<SamplerStep>? onStep, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(denoise);
        ArgumentNullException.ThrowIfNull(x);
        BrownianTreeNoise? tree = null;
        BrownianTreeNoise Tree() => tree ??= KSampling.Brownian(_seeds, x, sigmas, nextNoise);
        if (_seeds is not null && _seeds.Length != x.shape[0])
            throw new ArgumentException($"{_seeds.Length} seeds for a batch of {x.shape[0]}", nameof(x));
        try
        {
            return SamplerLoop.Run(x, sigmas, ct, (i, cur) =>
            {
                double sigma = sigmas[i], sigmaNext = sigmas[i + 1];
                KSampling.CheckFrom(sigma);
                var denoised = KSampling.Eval(denoise, cur, sigma);
                onStep?.Invoke(new SamplerStep(i, sigmas.Length - 1, sigma, cur, denoised));
                if (sigmaNext == 0)
                    return cur + SamplerLoop.ToD(cur, sigma, denoised) * (sigmaNext - sigma);

                double t = -Math.Log(sigma), tNext = -Math.Log(sigmaNext), h = tNext - t;
                double s = t + h * R, sigmaS = Math.Exp(-s);
                const double fac = 1 / (2 * R);

                // stage 1: ancestral DPM-Solver++(1) to σ_s
                var (down1, up1) = SamplerLoop.AncestralStep(sigma, sigmaS, 1.0);
                var x2 = cur * (down1 / sigma) - denoised * KSampling.Expm1(t + Math.Log(down1));
                if (up1 > 0) x2 = x2 + KSampling.Like(Tree().Noise(sigma, sigmaS), cur) * up1;
                var denoised2 = KSampling.Eval(denoise, x2, sigmaS);

                // stage 2
                var (down2, up2) = SamplerLoop.AncestralStep(sigma, sigmaNext, 1.0);
                var mixed = denoised * (1 - fac) + denoised2 * fac;
                var next = cur * (down2 / sigma) - mixed * KSampling.Expm1(t + Math.Log(down2));
                if (up2 > 0) next = next + KSampling.Like(Tree().Noise(sigma, sigmaNext), cur) * up2;
                return next;
            });
        }
        finally
        {
            tree?.Dispose();
        }
    }
}
