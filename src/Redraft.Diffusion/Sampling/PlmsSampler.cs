using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// "PLMS": the pseudo linear multistep sampler of the original CompVis script (Liu et al. 2022, "Pseudo Numerical
/// Methods for Diffusion Models on Manifolds"), as AUTOMATIC1111 runs it, on the DDIM timesteps, written in sigma space.
/// </summary>
/// <remarks>
/// <para><b>The original, in DDPM space.</b> At timestep t (ᾱ_t) with previous timestep p (ᾱ_p), the model gives
/// ε_t = ε(x_t, t). A combined noise estimate ε' is formed from ε_t and the ε of the previous steps, and the latent
/// moves with the deterministic DDIM transfer x_p = sqrt(ᾱ_p)·x̂0 + sqrt(1 − ᾱ_p)·ε', x̂0 = (x_t − sqrt(1 − ᾱ_t)·ε')/sqrt(ᾱ_t).
/// ε' is (old = ε of earlier steps, newest last):</para>
/// <list type="bullet">
/// <item>no history (first step): "pseudo improved Euler" — take the DDIM transfer with ε_t to x_p, run the model there
/// at the next timestep, ε' = (ε_t + ε(x_p, p))/2. This step runs the model twice.</item>
/// <item>one old ε: ε' = (3ε_t − old₋₁)/2 (2nd-order Adams–Bashforth).</item>
/// <item>two: ε' = (23ε_t − 16·old₋₁ + 5·old₋₂)/12 (3rd order).</item>
/// <item>three or more: ε' = (55ε_t − 59·old₋₁ + 37·old₋₂ − 9·old₋₃)/24 (4th order).</item>
/// </list>
/// <para>Only the model's own ε_t (never ε' nor the extra evaluation of the first step) enters the history.</para>
/// <para><b>In sigma space</b> (x' = x/sqrt(ᾱ), σ² = (1 − ᾱ)/ᾱ): dividing the transfer by sqrt(ᾱ_p) gives
/// x'_p = x̂0 + σ_p·ε' with x̂0 = x'_t − σ_t·ε', i.e. x'_p = x'_t + (σ_p − σ_t)·ε' — an Euler step along ε'.
/// The model's noise estimate is recovered from the denoiser as ε = (x' − D(x', σ))/σ, which equals the UNet's ε
/// for an ε-prediction model (the pipeline's denoiser computes D = x' − σ·ε). So PLMS here is exactly the original
/// method; the intermediate point of the first step is x'_p = D(x', σ_t) + σ_p·ε_t, evaluated at σ_p.</para>
/// </remarks>
internal sealed class PlmsSampler : ISampler
{
    private static readonly string[] AliasList = ["plms"];

    /// <inheritdoc/>
    public string Name => "PLMS";

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
    public Tensor Sample(Denoiser denoise, Tensor x, double[] sigmas, Func<Tensor> nextNoise,
        Action<SamplerStep>? onStep, CancellationToken ct)
        => Sample(denoise, x, sigmas, onStep, ct, previousEps: null);

    /// <summary>
    /// The 2nd/3rd/4th-order pseudo linear multistep combination of the current noise estimate with the previous ones
    /// (<paramref name="previous"/>: oldest first; the last three are used). Needs at least one previous estimate.
    /// </summary>
    public static Tensor CombineEps(Tensor eps, IReadOnlyList<Tensor> previous)
    {
        ArgumentNullException.ThrowIfNull(eps);
        ArgumentNullException.ThrowIfNull(previous);
        return previous.Count switch
        {
            0 => throw new ArgumentException("need at least one previous estimate", nameof(previous)),
            1 => (eps * 3 - previous[^1]) / 2,
            2 => (eps * 23 - previous[^1] * 16 + previous[^2] * 5) / 12,
            _ => (eps * 55 - previous[^1] * 59 + previous[^2] * 37 - previous[^3] * 9) / 24,
        };
    }

    /// <summary>
    /// Runs PLMS continuing from an earlier multistep run: <paramref name="previousEps"/> (oldest first) are the noise
    /// estimates of the steps before sigmas[0]; with any, the first step is a multistep one (no pseudo improved Euler
    /// start). The tensors are only read. Used by the tests to continue diffusers' PRK warm-up.
    /// </summary>
    internal Tensor Sample(Denoiser denoise, Tensor x, double[] sigmas, Action<SamplerStep>? onStep,
        CancellationToken ct, IReadOnlyList<Tensor>? previousEps)
    {
        ArgumentNullException.ThrowIfNull(denoise);
        var history = new List<Tensor>();
        try
        {
            if (previousEps != null)
                foreach (var e in previousEps.TakeLast(3))
                    history.Add(e.alias().DetachFromDisposeScope());

            return SamplerLoop.Run(x, sigmas, ct, (i, cur) =>
            {
                double sigma = sigmas[i], sigmaNext = sigmas[i + 1];
                if (!(sigma > 0)) throw new ArgumentException($"cannot step from sigma {sigma}", nameof(sigmas));
                var denoised = denoise(cur, sigma) ?? throw new InvalidOperationException("the denoiser returned null");
                onStep?.Invoke(new SamplerStep(i, sigmas.Length - 1, sigma, cur, denoised));
                var eps = SamplerLoop.ToD(cur, sigma, denoised);

                Tensor combined;
                if (history.Count == 0)
                {
                    // pseudo improved Euler: DDIM to σnext with ε, evaluate there, average the two estimates
                    if (sigmaNext > 0)
                    {
                        var mid = denoised + eps * sigmaNext;
                        var denoisedMid = denoise(mid, sigmaNext) ?? throw new InvalidOperationException("the denoiser returned null");
                        combined = (eps + SamplerLoop.ToD(mid, sigmaNext, denoisedMid)) / 2;
                    }
                    else
                    {
                        combined = eps;   // no noise level to evaluate at: a plain DDIM step
                    }
                }
                else
                {
                    combined = CombineEps(eps, history);
                }

                var next = cur + combined * (sigmaNext - sigma);
                history.Add(eps.DetachFromDisposeScope());
                if (history.Count > 3)
                {
                    history[0].Dispose();
                    history.RemoveAt(0);
                }
                return next;
            });
        }
        finally
        {
            foreach (var t in history) t.Dispose();
        }
    }
}
