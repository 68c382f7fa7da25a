using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// "DPM++ 2M" and "DPM++ 2M Karras": k-diffusion's <c>sample_dpmpp_2m</c> (DPM-Solver++(2M), Lu et al. 2022),
/// a second-order multistep solver in t = −ln σ. With h = t_{i+1} − t_i and the previous step's h_last:
/// the first step (and the step to σ = 0) is first order, x ← (σ_{i+1}/σ_i)·x − expm1(−h)·D_i;
/// later steps use D' = (1 + 1/(2r))·D_i − (1/(2r))·D_{i−1} with r = h_last/h in place of D_i.
/// One model call per step. Deterministic.
/// </summary>
/// <remarks>
/// The Karras variant is the same sampler with the Karras schedule as default (A1111's legacy
/// name from before schedules were chosen separately). The step to σ = 0 returns D_i exactly
/// (the first-order formula's limit).
/// </remarks>
internal sealed class DpmPp2MSampler : ISampler
{
    private static readonly string[] PlainAliases = ["k_dpmpp_2m", "dpmpp_2m"];
    private static readonly string[] KarrasAliases = ["k_dpmpp_2m_ka", "dpmpp_2m_karras"];
    private readonly bool _karras;

    /// <summary>"DPM++ 2M" (default schedule Normal), or with <paramref name="karras"/> "DPM++ 2M Karras".</summary>
    public DpmPp2MSampler(bool karras = false) => _karras = karras;

    /// <inheritdoc/>
    public string Name => _karras ? "DPM++ 2M Karras" : "DPM++ 2M";

    /// <inheritdoc/>
    public IReadOnlyList<string> Aliases => _karras ? KarrasAliases : PlainAliases;

    /// <inheritdoc/>
    public ScheduleKind DefaultSchedule => _karras ? ScheduleKind.Karras : ScheduleKind.Normal;

    /// <summary>σ: txt2img noise is N(0, σ²) in sigma space.</summary>
    public double InitialNoiseScale(double sigma) => sigma;

    /// <inheritdoc/>
    public Tensor Sample(Denoiser denoise, Tensor x, double[] sigmas, Func<Tensor> nextNoise,
        Action<SamplerStep>? onStep, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(denoise);
        Tensor? old = null;
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
                    double t = -Math.Log(sigma), tNext = -Math.Log(sigmaNext), h = tNext - t;
                    var target = denoised;
                    if (old is not null)
                    {
                        double hLast = t + Math.Log(sigmas[i - 1]);
                        double r = hLast / h;
                        target = denoised * (1 + 1 / (2 * r)) - old * (1 / (2 * r));
                    }
                    next = cur * (sigmaNext / sigma) - target * KSampling.Expm1(-h);
                }
                old?.Dispose();
                old = KSampling.Keep(denoised);
                return next;
            });
        }
        finally
        {
            old?.Dispose();
        }
    }
}
