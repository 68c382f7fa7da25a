using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Sampling;

/// <summary>The B(h) choice of UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework").</summary>
internal enum UniPcVariant
{
    /// <summary>B(h) = h (AUTOMATIC1111's default, "bh1").</summary>
    Bh1,
    /// <summary>B(h) = e^h − 1 ("bh2").</summary>
    Bh2,
}

/// <summary>
/// "UniPC": the multistep unified predictor (UniP) and corrector (UniC) of Zhao et al. (2023) with the data-prediction
/// (x0) model, AUTOMATIC1111's settings by default (variant bh1, order 3, lower order at the final steps), written in
/// sigma space.
/// </summary>
/// <remarks>
/// <para><b>AUTOMATIC1111's run.</b> A1111 runs UniPC as a CompVis-timesteps sampler on the discrete schedule read as
/// continuous VP time (<see cref="DiscreteVpTime"/>). Its grid is this sampler's default schedule,
/// <see cref="ScheduleKind.TimeUniform"/>: as many steps as the CompVis DDIM timesteps (30 → 31), evenly spaced in
/// time from 1 to 1/N, the model told timestep N·t − 1; img2img as <see cref="SamplingPlan"/> describes. The method
/// only sees the levels' λ, and in sigma space λ = −log σ exactly, so running it on those levels is A1111's VP
/// update divided by α_t. With the k-diffusion schedules (normal, Karras, …) it runs on their sigmas and the model is
/// read at k-diffusion's timesteps. A1111 refuses fewer steps than the order ("UniPC order must be &lt;
/// sampling steps"); here such runs use order = steps.</para>
/// <para><b>Sigma space.</b> The method only depends on the half-log-SNR λ = log(α/σ_VP) of the points it visits.
/// In sigma space (α = 1, σ = σ_VP/α) that is λ = −log σ, and the exponential-integrator update from σ_s to σ_t,
/// h = λ_t − λ_s, becomes x_t = (σ_t/σ_s)·x_s + (1 − e^(−h))·m_s − B(h)·Σ ρ_k·D_k: the VP formula divided by α_t.
/// m are the denoiser outputs, D_k = (m_k − m_s)/r_k the scaled differences to the earlier outputs at
/// r_k = (λ_k − λ_s)/h, and ρ solve the order conditions R·ρ = b with R_ij = r_j^(i−1) and
/// b_i = i!·(−h)·φ_{i+1}(−h)/B(h) (φ_1(z) = (e^z − 1)/z, φ_{k+1}(z) = (φ_k(z) − 1/k!)/z; B(h) = −h for bh1, e^(−h) − 1 for bh2,
/// as AUTOMATIC1111's code writes them for the data-prediction model).
/// The predictor uses the earlier outputs only (ρ = 1/2 at order 2); the corrector also uses the output at the new
/// point, evaluated on the predicted (uncorrected) latent, which the next step reuses — one model call per step.</para>
/// <para><b>Steps.</b> Step s (1-based) of n has order s during the warm-up (s &lt; order), then min(order, n + 1 − s) with
/// <see cref="LowerOrderFinal"/>. The last step runs no corrector (no model call at the end). A step to σ = 0 (infinite λ)
/// is taken with order 1, which lands on the denoiser's estimate.</para>
/// </remarks>
internal sealed class UniPcSampler : ISampler
{
    private static readonly string[] AliasList = ["unipc", "uni_pc"];
    private readonly int _order = 3;

    /// <inheritdoc/>
    public string Name => "UniPC";

    /// <inheritdoc/>
    public IReadOnlyList<string> Aliases => AliasList;

    /// <inheritdoc/>
    public ScheduleKind DefaultSchedule => ScheduleKind.TimeUniform;

    /// <summary>AUTOMATIC1111's grid (the default), every k-diffusion sigma schedule, and the DDIM one (which ends at σ(ᾱ_0) rather than 0).</summary>
    public IReadOnlyList<ScheduleKind> SupportedSchedules { get; } =
        [ScheduleKind.TimeUniform, ScheduleKind.Normal, ScheduleKind.Karras, ScheduleKind.Exponential, ScheduleKind.SgmUniform, ScheduleKind.Ddim];

    /// <summary>B(h) variant; AUTOMATIC1111's default is <see cref="UniPcVariant.Bh1"/>.</summary>
    public UniPcVariant Variant { get; init; } = UniPcVariant.Bh1;

    /// <summary>Highest order (1–10; default 3). Runs with fewer steps than this use order = steps.</summary>
    /// <exception cref="RedraftInputException">The order is outside 1–10.</exception>
    public int Order
    {
        get => _order;
        init
        {
            if (value < 1 || value > 10) throw new RedraftInputException($"UniPC order must be between 1 and 10 (got {value})");
            _order = value;
        }
    }

    /// <summary>Lower the order towards the end so the last step is first order (default true, as AUTOMATIC1111).</summary>
    public bool LowerOrderFinal { get; init; } = true;

    /// <summary>sqrt(σ² + 1): x_T ~ N(0, I) in DDPM space, as AUTOMATIC1111's UniPC (a timestep sampler there) starts.</summary>
    public double InitialNoiseScale(double sigma) => Math.Sqrt(sigma * sigma + 1.0);

    /// <inheritdoc/>
    public Tensor Sample(Denoiser denoise, Tensor x, double[] sigmas, Func<Tensor> nextNoise,
        Action<SamplerStep>? onStep, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(denoise);
        ArgumentNullException.ThrowIfNull(sigmas);
        int n = sigmas.Length - 1;
        int order = Math.Max(1, Math.Min(_order, n));
        // denoiser outputs of the latest points (oldest first) with their λ; owned here, outside the step scopes
        var history = new List<(double Lambda, Tensor Model)>();
        try
        {
            return SamplerLoop.Run(x, sigmas, ct, (i, cur) =>
            {
                double sigma = sigmas[i], sigmaNext = sigmas[i + 1];
                if (!(sigma > 0)) throw new ArgumentException($"cannot step from sigma {sigma}", nameof(sigmas));
                if (history.Count == 0)
                {
                    var m = denoise(cur, sigma) ?? throw new InvalidOperationException("the denoiser returned null");
                    history.Add((-Math.Log(sigma), m.alias().DetachFromDisposeScope()));
                }
                onStep?.Invoke(new SamplerStep(i, n, sigma, cur, history[^1].Model));

                int s = i + 1;
                int stepOrder = s < order ? s : LowerOrderFinal ? Math.Min(order, n + 1 - s) : order;
                bool useCorrector = s < n;
                if (!(sigmaNext > 0))
                    return history[^1].Model.alias();   // order 1 to σ = 0: the denoised estimate

                var (next, modelNext) = Update(denoise, cur, history, sigma, sigmaNext, stepOrder, useCorrector);
                if (modelNext is not null)
                {
                    history.Add((-Math.Log(sigmaNext), modelNext.alias().DetachFromDisposeScope()));
                    if (history.Count > order)
                    {
                        history[0].Model.Dispose();
                        history.RemoveAt(0);
                    }
                }
                return next;
            });
        }
        finally
        {
            foreach (var (_, m) in history) m.Dispose();
        }
    }

    /// <summary>One UniP step from σ to σnext of the given order, then (optionally) UniC with the model at the new point.</summary>
    private (Tensor X, Tensor? Model) Update(Denoiser denoise, Tensor x, List<(double Lambda, Tensor Model)> history,
        double sigma, double sigmaNext, int order, bool useCorrector)
    {
        var (lambdaS, m0) = history[^1];
        double lambdaT = -Math.Log(sigmaNext);
        double h = lambdaT - lambdaS;
        double hh = -h;                               // data prediction
        double hPhi1 = ExpM1(hh);
        double bh = Variant == UniPcVariant.Bh1 ? hh : hPhi1;

        // r_k and D_k for the earlier points, newest first
        var rks = new double[order];
        var d1s = new Tensor[order - 1];
        for (int k = 1; k < order; k++)
        {
            var (lambdaK, mK) = history[^(k + 1)];
            rks[k - 1] = (lambdaK - lambdaS) / h;
            d1s[k - 1] = (mK - m0) / rks[k - 1];
        }
        rks[order - 1] = 1.0;

        // R (order × order) and b
        var r = new double[order, order];
        var b = new double[order];
        double hPhiK = hPhi1 / hh - 1;
        double factorial = 1;
        for (int row = 0; row < order; row++)
        {
            for (int col = 0; col < order; col++) r[row, col] = Math.Pow(rks[col], row);
            b[row] = hPhiK * factorial / bh;
            factorial *= row + 2;
            hPhiK = hPhiK / hh - 1 / factorial;
        }

        // x_t_ = (σ_t/σ_s)·x − (e^(−h) − 1)·m0
        var xBase = x * (sigmaNext / sigma) - m0 * hPhi1;
        Tensor xt = xBase;
        if (order > 1)
        {
            double[] rhosP = order == 2 ? [0.5] : Solve(r, b, order - 1);
            xt = xBase - Sum(d1s, rhosP) * bh;
        }
        if (!useCorrector) return (xt, null);

        double[] rhosC = order == 1 ? [0.5] : Solve(r, b, order);
        var modelT = denoise(xt, sigmaNext) ?? throw new InvalidOperationException("the denoiser returned null");
        var correction = (modelT - m0) * rhosC[order - 1];
        if (order > 1) correction = correction + Sum(d1s, rhosC);
        return (xBase - correction * bh, modelT);
    }

    /// <summary>e^z − 1 without cancellation for small z.</summary>
    private static double ExpM1(double z) => Math.Abs(z) < 1e-5 ? z + z * z / 2 + z * z * z / 6 : Math.Exp(z) - 1;

    /// <summary>Σ_k coef[k]·d[k] over the first coef.Length entries of d (d is longer by one for the corrector).</summary>
    private static Tensor Sum(Tensor[] d, double[] coef)
    {
        int count = Math.Min(d.Length, coef.Length);
        Tensor acc = d[0] * coef[0];
        for (int k = 1; k < count; k++) acc = acc + d[k] * coef[k];
        return acc;
    }

    /// <summary>Solves the leading size × size block of a·x = b by Gaussian elimination with partial pivoting.</summary>
    private static double[] Solve(double[,] a, double[] b, int size)
    {
        var m = new double[size, size + 1];
        for (int i = 0; i < size; i++)
        {
            for (int j = 0; j < size; j++) m[i, j] = a[i, j];
            m[i, size] = b[i];
        }
        for (int c = 0; c < size; c++)
        {
            int p = c;
            for (int i = c + 1; i < size; i++) if (Math.Abs(m[i, c]) > Math.Abs(m[p, c])) p = i;
            if (m[p, c] == 0) throw new InvalidOperationException("UniPC: singular order-condition matrix (repeated noise levels?)");
            if (p != c)
                for (int j = c; j <= size; j++) (m[c, j], m[p, j]) = (m[p, j], m[c, j]);
            for (int i = c + 1; i < size; i++)
            {
                double f = m[i, c] / m[c, c];
                for (int j = c; j <= size; j++) m[i, j] -= f * m[c, j];
            }
        }
        var x = new double[size];
        for (int i = size - 1; i >= 0; i--)
        {
            double s = m[i, size];
            for (int j = i + 1; j < size; j++) s -= m[i, j] * x[j];
            x[i] = s / m[i, i];
        }
        return x;
    }
}
