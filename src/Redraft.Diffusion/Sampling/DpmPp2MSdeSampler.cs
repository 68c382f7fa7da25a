using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// "DPM++ 2M SDE": k-diffusion's <c>sample_dpmpp_2m_sde</c> with η = 1, s_noise = 1 and the 'midpoint' solver,
/// on Brownian-tree noise.
/// </summary>
/// <remarks>
/// <para>In t = −ln σ with h = t_{i+1} − t_i (ηh = h):
/// x ← (σ_{i+1}/σ_i)·e^{−ηh}·x − expm1(−h − ηh)·D_i; from the second step on, with r = h_last/h,
/// x ← x − ½·expm1(−h − ηh)·(1/r)·(D_i − D_{i−1}); then x ← x + σ_{i+1}·sqrt(−expm1(−2ηh))·N(σ_i, σ_{i+1}).
/// The step to σ = 0 returns D_i. One model call per step.</para>
/// <para>N(σ, σ') is <see cref="BrownianTreeNoise"/>: seed it per image with <see cref="ForSeeds"/> (A1111 seeds
/// each image's tree with that image's seed); without seeds the tree seeds are derived from one tensor drawn
/// from <c>nextNoise</c>. Not bit-identical to k-diffusion's torchsde tree (see <see cref="BrownianTreeNoise"/>).</para>
/// </remarks>
internal sealed class DpmPp2MSdeSampler : ISampler, ISeededSampler
{
    private static readonly string[] AliasList = ["k_dpmpp_2m_sde", "dpmpp_2m_sde"];
    private readonly long[]? _seeds;

    /// <summary>A sampler whose noise seeds are derived from <c>nextNoise</c> until <see cref="ForSeeds"/> is used.</summary>
    public DpmPp2MSdeSampler() { }

    private DpmPp2MSdeSampler(long[] seeds) => _seeds = seeds;

    /// <summary>η of k-diffusion's sampler (A1111 uses the default 1).</summary>
    public const double Eta = 1.0;

    /// <inheritdoc/>
    public string Name => "DPM++ 2M SDE";

    /// <inheritdoc/>
    public IReadOnlyList<string> Aliases => AliasList;

    /// <inheritdoc/>
    public ScheduleKind DefaultSchedule => ScheduleKind.Normal;

    /// <summary>The per-image seeds of the Brownian noise, or null (derived from <c>nextNoise</c>).</summary>
    public IReadOnlyList<long>? Seeds => _seeds;

    /// <inheritdoc/>
    public ISampler ForSeeds(IReadOnlyList<long> seeds)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        return new DpmPp2MSdeSampler(seeds.ToArray());
    }

    /// <summary>σ: txt2img noise is N(0, σ²) in sigma space.</summary>
    public double InitialNoiseScale(double sigma) => sigma;

    /// <inheritdoc/>
    public Tensor Sample(Denoiser denoise, Tensor x, double[] sigmas, Func<Tensor> nextNoise,
        Action<SamplerStep>? onStep, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(denoise);
        ArgumentNullException.ThrowIfNull(x);
        if (_seeds is not null && _seeds.Length != x.shape[0])
            throw new ArgumentException($"{_seeds.Length} seeds for a batch of {x.shape[0]}", nameof(x));
        BrownianTreeNoise? tree = null;
        Tensor? old = null;
        double hLast = double.NaN;
        try
        {
            return SamplerLoop.Run(x, sigmas, ct, (i, cur) =>
            {
                double sigma = sigmas[i], sigmaNext = sigmas[i + 1];
                KSampling.CheckFrom(sigma);
                var denoised = KSampling.Eval(denoise, cur, sigma);
                onStep?.Invoke(new SamplerStep(i, sigmas.Length - 1, sigma, cur, denoised));
                Tensor next;
                if (sigmaNext == 0)
                    next = denoised.alias();
                else
                {
                    double t = -Math.Log(sigma), s = -Math.Log(sigmaNext), h = s - t, etaH = Eta * h;
                    double c = -KSampling.Expm1(-h - etaH);
                    next = cur * (sigmaNext / sigma * Math.Exp(-etaH)) + denoised * c;
                    if (old is not null)
                    {
                        double r = hLast / h;
                        next = next + (denoised - old) * (0.5 * c * (1 / r));
                    }
                    tree ??= KSampling.Brownian(_seeds, x, sigmas, nextNoise);
                    next = next + KSampling.Like(tree.Noise(sigma, sigmaNext), cur) * (sigmaNext * Math.Sqrt(-KSampling.Expm1(-2 * etaH)));
                    hLast = h;
                }
                old?.Dispose();
                old = KSampling.Keep(denoised);
                return next;
            });
        }
        finally
        {
            old?.Dispose();
            tree?.Dispose();
        }
    }
}
