using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// The discrete DDPM noise schedule a model was trained with: betas, ᾱ (cumulative product of
/// 1 − β) and the matching k-diffusion noise levels σ_t = sqrt((1 − ᾱ_t)/ᾱ_t), plus the
/// conversions between continuous timesteps and sigmas that k-diffusion's discrete wrappers use.
/// </summary>
/// <remarks>
/// Precision path (the one diffusers and the oracles use): betas come from a float32
/// <c>torch.linspace</c> (squared in float32 for "scaled linear"), α = 1 − β in float32, and ᾱ is
/// libtorch's float32 <c>cumprod</c>. Everything derived from ᾱ (σ, log σ, interpolation) is then
/// computed in double from those float32 values.
/// </remarks>
internal sealed class NoiseSchedule
{
    private readonly double[] _betas;
    private readonly double[] _alphasCumprod;
    private readonly double[] _sigmas;
    private readonly double[] _logSigmas;

    /// <summary>
    /// Builds a schedule from per-timestep betas (index 0 = least noise). Values are used as
    /// float32, as the reference implementations store them.
    /// </summary>
    public NoiseSchedule(IReadOnlyList<float> betas)
    {
        ArgumentNullException.ThrowIfNull(betas);
        if (betas.Count < 2)
            throw new ArgumentException("a noise schedule needs at least 2 timesteps", nameof(betas));
        foreach (var b in betas)
            if (!(b > 0f && b < 1f))
                throw new ArgumentException($"beta {b} is outside (0, 1)", nameof(betas));

        using var scope = torch.NewDisposeScope();
        var betaT = torch.tensor(betas.ToArray(), dtype: ScalarType.Float32);
        Init(betaT, out _betas, out _alphasCumprod);
        _sigmas = new double[_alphasCumprod.Length];
        _logSigmas = new double[_alphasCumprod.Length];
        for (int i = 0; i < _sigmas.Length; i++)
        {
            _sigmas[i] = SigmaOfAlphaCumprod(_alphasCumprod[i]);
            _logSigmas[i] = Math.Log(_sigmas[i]);
        }
    }

    private NoiseSchedule(double[] betas, double[] alphasCumprod)
    {
        _betas = betas;
        _alphasCumprod = alphasCumprod;
        _sigmas = new double[alphasCumprod.Length];
        _logSigmas = new double[alphasCumprod.Length];
        for (int i = 0; i < _sigmas.Length; i++)
        {
            _sigmas[i] = SigmaOfAlphaCumprod(alphasCumprod[i]);
            _logSigmas[i] = Math.Log(_sigmas[i]);
        }
    }

    /// <summary>
    /// ᾱ at the last timestep of a zero-terminal-SNR schedule. The exact value, 0, is an infinite σ that sigma-space
    /// samplers cannot start from; A1111 uses this stand-in, so the same settings give the same images.
    /// </summary>
    public const double ZeroTerminalAlphaCumprod = 4.8973451890853435e-08;

    /// <summary>
    /// Rescales the schedule to zero terminal SNR (Lin et al. 2024, "Common Diffusion Noise Schedules and Sample
    /// Steps are Flawed", algorithm 1): shift and scale √ᾱ so its first value is kept and its last becomes 0.
    /// Models trained this way (and v-prediction models fine-tuned for it) need it to reach pure noise.
    /// </summary>
    public NoiseSchedule WithZeroTerminalSnr()
    {
        int n = _alphasCumprod.Length;
        var sqrt = _alphasCumprod.Select(Math.Sqrt).ToArray();
        double first = sqrt[0], last = sqrt[^1];
        var acp = new double[n];
        for (int i = 0; i < n; i++)
        {
            double v = (sqrt[i] - last) * first / (first - last);
            acp[i] = v * v;
        }
        acp[^1] = ZeroTerminalAlphaCumprod;
        var betas = new double[n];
        for (int i = 0; i < n; i++) betas[i] = 1 - acp[i] / (i == 0 ? 1.0 : acp[i - 1]);
        return new NoiseSchedule(betas, acp);
    }

    private static void Init(Tensor betas, out double[] betaValues, out double[] alphasCumprod)
    {
        var alphas = 1.0 - betas;                                   // float32, as torch's rsub
        var cumprod = alphas.cumprod(0);                            // float32 output (double accumulation on CPU)
        betaValues = betas.data<float>().ToArray().Select(v => (double)v).ToArray();
        alphasCumprod = cumprod.data<float>().ToArray().Select(v => (double)v).ToArray();
    }

    /// <summary>
    /// Stable Diffusion's "scaled linear" schedule: β = linspace(sqrt(βstart), sqrt(βend), N)²,
    /// computed in float32 like diffusers' <c>beta_schedule="scaled_linear"</c> and the original LDM code.
    /// </summary>
    public static NoiseSchedule ScaledLinear(int trainSteps = 1000, double betaStart = 0.00085, double betaEnd = 0.012)
    {
        ValidateRange(trainSteps, betaStart, betaEnd);
        using var scope = torch.NewDisposeScope();
        var b = torch.linspace(Math.Sqrt(betaStart), Math.Sqrt(betaEnd), trainSteps, dtype: ScalarType.Float32);
        b = b * b;
        return new NoiseSchedule(b.data<float>().ToArray());
    }

    /// <summary>
    /// A linear schedule: β = linspace(βstart, βend, N) in float32 (diffusers' <c>beta_schedule="linear"</c>).
    /// </summary>
    public static NoiseSchedule Linear(int trainSteps = 1000, double betaStart = 0.0001, double betaEnd = 0.02)
    {
        ValidateRange(trainSteps, betaStart, betaEnd);
        using var scope = torch.NewDisposeScope();
        var b = torch.linspace(betaStart, betaEnd, trainSteps, dtype: ScalarType.Float32);
        return new NoiseSchedule(b.data<float>().ToArray());
    }

    private static void ValidateRange(int trainSteps, double betaStart, double betaEnd)
    {
        if (trainSteps < 2) throw new ArgumentOutOfRangeException(nameof(trainSteps), "need at least 2 timesteps");
        if (!(betaStart > 0 && betaEnd > 0 && betaStart < 1 && betaEnd < 1))
            throw new ArgumentOutOfRangeException(nameof(betaStart), "betas must be in (0, 1)");
    }

    /// <summary>Number of training timesteps N (1000 for SD).</summary>
    public int TrainSteps => _sigmas.Length;

    /// <summary>β_t, t = 0 … N−1 (float32 values widened to double).</summary>
    public IReadOnlyList<double> Betas => _betas;

    /// <summary>ᾱ_t = Π_{s≤t} (1 − β_s), t = 0 … N−1 (float32 values widened to double).</summary>
    public IReadOnlyList<double> AlphasCumprod => _alphasCumprod;

    /// <summary>σ_t = sqrt((1 − ᾱ_t)/ᾱ_t), t = 0 … N−1, ascending; computed in double from float32 ᾱ.</summary>
    public IReadOnlyList<double> Sigmas => _sigmas;

    /// <summary>Lowest discrete noise level, σ_0 (≈ 0.0292 for SD).</summary>
    public double SigmaMin => _sigmas[0];

    /// <summary>Highest discrete noise level, σ_{N−1} (≈ 14.6146 for SD).</summary>
    public double SigmaMax => _sigmas[^1];

    /// <summary>σ = sqrt((1 − ᾱ)/ᾱ).</summary>
    public static double SigmaOfAlphaCumprod(double alphaCumprod) => Math.Sqrt((1.0 - alphaCumprod) / alphaCumprod);

    /// <summary>ᾱ = 1/(σ² + 1), the inverse of <see cref="SigmaOfAlphaCumprod"/>.</summary>
    public static double AlphaCumprodOfSigma(double sigma) => 1.0 / (sigma * sigma + 1.0);

    /// <summary>
    /// k-diffusion's <c>t_to_sigma</c>: σ at a continuous timestep, interpolating log σ linearly
    /// between the neighbouring integer timesteps. Integer timesteps return <see cref="Sigmas"/>[t] exactly.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">t outside [0, N−1].</exception>
    public double SigmaAt(double timestep)
    {
        if (!(timestep >= 0 && timestep <= TrainSteps - 1))
            throw new ArgumentOutOfRangeException(nameof(timestep), timestep, $"timestep must be in [0, {TrainSteps - 1}]");
        int low = (int)Math.Floor(timestep);
        double w = timestep - low;
        if (w == 0) return _sigmas[low];
        int high = low + 1;
        return Math.Exp((1 - w) * _logSigmas[low] + w * _logSigmas[high]);
    }

    /// <summary>
    /// k-diffusion's <c>sigma_to_t</c>: the continuous timestep of a noise level, by linear
    /// interpolation of log σ between the two discrete sigmas around it. Returns an exact integer
    /// when σ equals a discrete sigma; clamps to [0, N−1] outside the table (σ = 0 gives 0).
    /// </summary>
    public double TimestepAt(double sigma)
    {
        if (double.IsNaN(sigma) || sigma < 0)
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "sigma must be ≥ 0");
        if (sigma == 0) return 0;
        double logSigma = Math.Log(sigma);
        // low = last index whose log σ ≤ log σ(query), clamped to N−2; 0 when there is none.
        int idx = Array.BinarySearch(_logSigmas, logSigma);
        int low = idx >= 0 ? LastEqual(idx, logSigma) : ~idx - 1;
        if (low < 0) low = 0;
        if (low > TrainSteps - 2) low = TrainSteps - 2;
        int high = low + 1;
        double lo = _logSigmas[low], hi = _logSigmas[high];
        double w = (lo - logSigma) / (lo - hi);
        w = Math.Clamp(w, 0.0, 1.0);
        if (w == 0) return low;
        if (w == 1) return high;
        return (1 - w) * low + w * high;
    }

    private int LastEqual(int idx, double value)
    {
        while (idx + 1 < _logSigmas.Length && _logSigmas[idx + 1] == value) idx++;
        return idx;
    }
}
