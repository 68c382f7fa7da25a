using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// The step loop shared by the samplers: cancellation before each step, one dispose scope per
/// step (only the carried latent survives it), and ownership of the intermediate latents.
/// </summary>
internal static class SamplerLoop
{
    /// <summary>
    /// Runs <paramref name="step"/> for i = 0 … sigmas.Length − 2. The step gets the index and the
    /// current latent and returns the latent at sigmas[i + 1]; temporaries it creates are freed
    /// when the step ends. The input <paramref name="x"/> is never disposed; the result is a new
    /// tensor owned by the caller.
    /// </summary>
    public static Tensor Run(Tensor x, double[] sigmas, CancellationToken ct, Func<int, Tensor, Tensor> step)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(sigmas);
        if (sigmas.Length < 1) throw new ArgumentException("sigmas must have at least one entry", nameof(sigmas));
        foreach (var s in sigmas)
            if (!(s >= 0) || double.IsInfinity(s)) throw new ArgumentException($"invalid sigma {s}", nameof(sigmas));

        Tensor cur = x;
        try
        {
            for (int i = 0; i < sigmas.Length - 1; i++)
            {
                ct.ThrowIfCancellationRequested();
                Tensor next;
                using (var scope = torch.NewDisposeScope())
                {
                    next = step(i, cur);
                    if (ReferenceEquals(next, cur)) next = cur.alias();
                    next.MoveToOuterDisposeScope();
                }
                if (!ReferenceEquals(cur, x)) cur.Dispose();
                cur = next;
            }
        }
        catch
        {
            if (!ReferenceEquals(cur, x)) cur.Dispose();
            throw;
        }
        return ReferenceEquals(cur, x) ? x.alias() : cur;
    }

    /// <summary>k-diffusion's <c>to_d</c>: the ODE derivative dx/dσ = (x − x0)/σ.</summary>
    public static Tensor ToD(Tensor x, double sigma, Tensor denoised) => (x - denoised) / sigma;

    /// <summary>
    /// k-diffusion's <c>get_ancestral_step</c>: splits the move σ → σnext into a deterministic move
    /// to σdown and fresh noise of scale σup, with σdown² + σup² = σnext².
    /// σup = min(σnext, η·sqrt(σnext²·(σ² − σnext²)/σ²)). η = 0, or σnext ≥ σ, gives (σnext, 0).
    /// </summary>
    public static (double Down, double Up) AncestralStep(double sigma, double sigmaNext, double eta)
    {
        if (eta == 0 || sigmaNext <= 0 || sigmaNext >= sigma) return (sigmaNext, 0.0);
        double up = Math.Min(sigmaNext,
            eta * Math.Sqrt(sigmaNext * sigmaNext * (sigma * sigma - sigmaNext * sigmaNext) / (sigma * sigma)));
        double down = Math.Sqrt(sigmaNext * sigmaNext - up * up);
        return (down, up);
    }

    /// <summary>Draws the next noise and brings it to x's dtype and device if needed.</summary>
    public static Tensor Noise(Func<Tensor> nextNoise, Tensor like)
    {
        var n = nextNoise() ?? throw new InvalidOperationException("nextNoise returned null");
        if (!n.shape.SequenceEqual(like.shape))
            throw new InvalidOperationException(
                $"nextNoise returned shape [{string.Join(", ", n.shape)}], expected [{string.Join(", ", like.shape)}]");
        if (n.dtype != like.dtype || n.device != like.device) n = n.to(like.dtype, like.device);
        return n;
    }

    /// <summary>
    /// One Euler step (η = 0) or ancestral step (η &gt; 0) from sigmas[i] to sigmas[i + 1]:
    /// d = (x − D(x, σ))/σ; x' = x + d·(σdown − σ) + σup·z.
    /// Noise is drawn only when σup &gt; 0 (so η = 0 never consumes the random stream, and the
    /// final step to σ = 0 never draws, as in k-diffusion).
    /// </summary>
    public static Tensor AncestralEulerStep(Denoiser denoise, Tensor x, double[] sigmas, int i, double eta,
        Func<Tensor> nextNoise, Action<SamplerStep>? onStep)
    {
        double sigma = sigmas[i], sigmaNext = sigmas[i + 1];
        if (!(sigma > 0)) throw new ArgumentException($"cannot step from sigma {sigma}", nameof(sigmas));
        var denoised = denoise(x, sigma) ?? throw new InvalidOperationException("the denoiser returned null");
        onStep?.Invoke(new SamplerStep(i, sigmas.Length - 1, sigma, x, denoised));
        var (down, up) = AncestralStep(sigma, sigmaNext, eta);
        var d = ToD(x, sigma, denoised);
        var next = x + d * (down - sigma);
        if (up > 0)
            next = next + Noise(nextNoise, x) * up;
        return next;
    }
}
