namespace Redraft.Diffusion.Sampling;

/// <summary>
/// A discrete schedule seen as a continuous-time VP diffusion, as the DPM-Solver/UniPC authors' code (and so
/// AUTOMATIC1111's UniPC) reads one: timestep n = 0 … N−1 sits at time t_n = (n + 1)/N, log α is interpolated
/// linearly in t between those points (α_t = sqrt(ᾱ) at a point), σ_t = sqrt(1 − α_t²) and λ_t = log(α_t/σ_t).
/// </summary>
/// <remarks>
/// <para>Redraft's samplers work in sigma space; the matching noise level at time t is
/// σ = σ_t/α_t = e^(−λ_t) (<see cref="Sigma"/>), and <see cref="TimeOfSigma"/> is its inverse (interpolating
/// log α the same way), so a sampler can run on these levels while the model is told its time.</para>
/// <para>Between two integer timesteps this differs slightly from k-diffusion's mapping
/// (<see cref="NoiseSchedule.TimestepAt"/> interpolates log σ); at integer timesteps both give the table's σ.</para>
/// <para>AUTOMATIC1111 computes the times in float32: <see cref="TimeUniform"/>, <see cref="ModelTimestep"/> and
/// <see cref="Img2ImgStart"/> round as its tensors do, so the timestep the UNet sees, and the integer it is truncated to
/// for v-prediction, are the ones A1111 uses.</para>
/// </remarks>
internal sealed class DiscreteVpTime
{
    /// <summary>log α at t_n: ½·log ᾱ_n.</summary>
    private readonly double[] _logAlphas;

    /// <summary>Reads <paramref name="schedule"/>'s ᾱ (a zero-terminal-SNR schedule included).</summary>
    public DiscreteVpTime(NoiseSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        _logAlphas = schedule.AlphasCumprod.Select(a => 0.5 * Math.Log(a)).ToArray();
    }

    /// <summary>N, the number of discrete timesteps.</summary>
    public int TrainSteps => _logAlphas.Length;

    /// <summary>T = 1, the time of the noisiest timestep N − 1: where a txt2img run starts.</summary>
    public const double Start = 1.0;

    /// <summary>t_0 = 1/N, the time of timestep 0: where AUTOMATIC1111's UniPC ends (it does not step on to σ = 0).</summary>
    public double End => 1.0 / TrainSteps;

    /// <summary>log α_t, piecewise linear in t through (t_n, ½·log ᾱ_n); extended along the end segments outside [1/N, 1].</summary>
    public double LogAlpha(double t)
    {
        double position = t * TrainSteps - 1;  // fractional timestep index
        int low = Math.Clamp((int)Math.Floor(position), 0, TrainSteps - 2);
        double weight = position - low;
        if (weight == 0) return _logAlphas[low];
        return _logAlphas[low] + weight * (_logAlphas[low + 1] - _logAlphas[low]);
    }

    /// <summary>α_t, the signal scale of the VP latent at time t.</summary>
    public double Alpha(double t) => Math.Exp(LogAlpha(t));

    /// <summary>σ_t = sqrt(1 − α_t²), the noise scale of the VP latent at time t.</summary>
    public double Std(double t) => Math.Sqrt(1 - Math.Exp(2 * LogAlpha(t)));

    /// <summary>λ_t = log α_t − log σ_t, the half log signal-to-noise ratio.</summary>
    public double Lambda(double t)
    {
        double logAlpha = LogAlpha(t);
        return logAlpha - 0.5 * Math.Log(1 - Math.Exp(2 * logAlpha));
    }

    /// <summary>The sigma-space noise level at time t: σ_t/α_t = sqrt((1 − α_t²)/α_t²).</summary>
    public double Sigma(double t) => NoiseSchedule.SigmaOfAlphaCumprod(Math.Exp(2 * LogAlpha(t)));

    /// <summary>The time of a sigma-space noise level: log α = −½·log(1 + σ²), placed on the piecewise-linear log α.</summary>
    public double TimeOfSigma(double sigma)
    {
        if (!(sigma >= 0) || double.IsInfinity(sigma))
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "sigma must be finite and ≥ 0");
        double logAlpha = -0.5 * Math.Log(1 + sigma * sigma);
        // log α decreases with n: find the segment [low, low + 1] that holds it (the end segments extend outwards).
        int lo = 0, hi = TrainSteps - 1;
        while (hi - lo > 1)
        {
            int mid = (lo + hi) / 2;
            if (_logAlphas[mid] >= logAlpha) lo = mid; else hi = mid;
        }
        double y0 = _logAlphas[lo], y1 = _logAlphas[lo + 1];
        double position = lo + (logAlpha - y0) / (y1 - y0);
        return (position + 1) / TrainSteps;
    }

    /// <summary>
    /// The UNet's timestep input at time t, as AUTOMATIC1111 computes it in float32: (t − 1/N)·N, so t_n gives n
    /// (A1111 writes the factor as 1000, which N is for every Stable Diffusion model).
    /// </summary>
    public float ModelTimestep(double t)
    {
        float shifted = (float)((float)t - (float)(1.0 / TrainSteps));
        return (float)(shifted * (float)TrainSteps);
    }

    /// <summary>
    /// Where AUTOMATIC1111's img2img UniPC starts: the highest timestep <paramref name="timestep"/> of the steps that run,
    /// as the time timestep/N + 1/N in float32 (A1111's <c>timesteps[-1] / 1000 + 1 / 1000</c>).
    /// </summary>
    public float Img2ImgStart(int timestep)
    {
        float scaled = (float)((float)timestep / (float)TrainSteps);
        return (float)(scaled + (float)(1.0 / TrainSteps));
    }

    /// <summary>
    /// <paramref name="steps"/> + 1 times evenly spaced from <paramref name="start"/> to <paramref name="end"/>, as a
    /// float32 <c>torch.linspace</c> on the CPU makes them (A1111's "time_uniform" UniPC grid): the first half counts up
    /// from the start, the second half down from the end.
    /// </summary>
    public static double[] TimeUniform(double start, double end, int steps)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "need at least one step");
        float first = (float)start, last = (float)end;
        float step = (float)((float)(last - first) / (float)steps);
        int count = steps + 1, halfway = count / 2;
        var times = new double[count];
        for (int i = 0; i < count; i++)
            times[i] = i < halfway
                ? (float)(first + (float)(step * (float)i))
                : (float)(last - (float)(step * (float)(steps - i)));
        return times;
    }
}
