using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// "LMS": k-diffusion's <c>sample_lms</c> (linear multistep, order 4). Step i keeps the slopes
/// d_j = (x_j − D(x_j, σ_j))/σ_j of the last min(i + 1, 4) steps and moves
/// x ← x + Σ_j c_j·d_{i−j}, where c_j is the integral over [σ_i, σ_{i+1}] of the Lagrange basis polynomial
/// that is 1 at σ_{i−j} and 0 at the other used sigmas. One model call per step. Deterministic.
/// </summary>
/// <remarks>
/// k-diffusion integrates the basis polynomials numerically (scipy <c>quad</c>, epsrel 1e-4); they have degree
/// ≤ 3, so quad is exact to rounding, and so is the 4-point Gauss–Legendre rule used here (exact to degree 7).
/// The order ramps up from 1 at the first step of every run (also for img2img, which starts mid-schedule).
/// </remarks>
internal sealed class LmsSampler : ISampler
{
    private static readonly string[] AliasList = ["k_lms", "lms"];

    /// <summary>The multistep order (k-diffusion's and A1111's default 4).</summary>
    public const int Order = 4;

    /// <inheritdoc/>
    public string Name => "LMS";

    /// <inheritdoc/>
    public IReadOnlyList<string> Aliases => AliasList;

    /// <inheritdoc/>
    public ScheduleKind DefaultSchedule => ScheduleKind.Normal;

    /// <summary>σ: txt2img noise is N(0, σ²) in sigma space.</summary>
    public double InitialNoiseScale(double sigma) => sigma;

    private static readonly double[] GaussNodes = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
    private static readonly double[] GaussWeights = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];

    /// <summary>
    /// k-diffusion's <c>linear_multistep_coeff(order, t, i, j)</c>: ∫ from t[i] to t[i+1] of
    /// Π_{k≠j, k&lt;order} (τ − t[i−k])/(t[i−j] − t[i−k]) dτ.
    /// </summary>
    public static double Coefficient(int order, IReadOnlyList<double> t, int i, int j)
    {
        if (order < 1 || order - 1 > i) throw new ArgumentOutOfRangeException(nameof(order), $"order {order} too high for step {i}");
        if (j < 0 || j >= order) throw new ArgumentOutOfRangeException(nameof(j));
        double a = t[i], b = t[i + 1], half = (b - a) / 2, mid = (a + b) / 2, sum = 0;
        for (int q = 0; q < GaussNodes.Length; q++)
        {
            double tau = mid + half * GaussNodes[q], prod = 1;
            for (int k = 0; k < order; k++)
            {
                if (k == j) continue;
                prod *= (tau - t[i - k]) / (t[i - j] - t[i - k]);
            }
            sum += GaussWeights[q] * prod;
        }
        return sum * half;
    }

    /// <inheritdoc/>
    public Tensor Sample(Denoiser denoise, Tensor x, double[] sigmas, Func<Tensor> nextNoise,
        Action<SamplerStep>? onStep, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(denoise);
        var ds = new List<Tensor>();   // newest last, at most Order
        try
        {
            return SamplerLoop.Run(x, sigmas, ct, (i, cur) =>
            {
                double sigma = sigmas[i];
                KSampling.CheckFrom(sigma);
                var denoised = KSampling.Eval(denoise, cur, sigma);
                var d = SamplerLoop.ToD(cur, sigma, denoised);
                ds.Add(KSampling.Keep(d));
                if (ds.Count > Order) { ds[0].Dispose(); ds.RemoveAt(0); }
                onStep?.Invoke(new SamplerStep(i, sigmas.Length - 1, sigma, cur, denoised));
                int order = Math.Min(i + 1, Order);
                Tensor? sum = null;   // Σ_j c_j·d_{i−j}, summed first and then added to x, as k-diffusion does
                for (int j = 0; j < order; j++)
                {
                    var term = ds[ds.Count - 1 - j] * Coefficient(order, sigmas, i, j);
                    sum = sum is null ? term : sum + term;
                }
                return cur + sum!;
            });
        }
        finally
        {
            foreach (var t in ds) t.Dispose();
        }
    }
}
