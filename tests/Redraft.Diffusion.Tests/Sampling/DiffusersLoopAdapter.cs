using Redraft.Diffusion.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Sampling;

/// <summary>
/// Re-runs diffusers' scheduler "full loop" tests (shared/oracles/diffusers_scheduler_full_loops.json)
/// with our samplers. Everything test-specific lives here, not in the samplers: the dummy tensors,
/// the dummy model eps = x·t/(t+1) on DDPM-space (or scaled) samples with diffusers' raw timesteps,
/// the conversion of that model into a <see cref="Denoiser"/>, and diffusers' own sigma lists.
/// </summary>
internal static class DiffusersLoopAdapter
{
    public const long B = 4, C = 3, H = 8, W = 8;

    /// <summary>Element [b,c,h,w] = (c·256 + h·32 + w·4 + b)/768 in float32.</summary>
    public static Tensor DummySample()
    {
        using var scope = NewDisposeScope();
        var t = arange(768, dtype: float32).reshape(C, H, W, B) / 768.0;
        return t.permute(3, 0, 1, 2).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The same layout over the reversed arange: (767 − k)/768.</summary>
    public static Tensor DummyNoise()
    {
        using var scope = NewDisposeScope();
        var t = arange(768, dtype: float32).flip(0).reshape(C, H, W, B) / 768.0;
        return t.permute(3, 0, 1, 2).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The dummy model: (x·t)/(t + 1) in float32, t the raw (float32) timestep.</summary>
    public static Tensor Model(Tensor x, float t) => x * (double)t / (double)(t + 1f);

    public static (double Sum, double Mean) Metrics(Tensor x)
    {
        using var scope = NewDisposeScope();
        var a = x.abs();
        return (a.sum().item<float>(), a.mean().item<float>());
    }

    // ---------------------------------------------------------------- DDIM (DDPM space)

    /// <summary>
    /// diffusers' DDIMScheduler loop (eta 0, "leading" spacing, steps_offset 0) via <see cref="DdimSampler"/>.
    /// The model sees DDPM-space samples x = x'/sqrt(σ²+1) and the integer timestep of σ; its output is
    /// turned into x0 (clamped to [−1, 1] when clip_sample is set); the sampler works in sigma space.
    /// </summary>
    /// <param name="clippedCount">Elements the clip_sample clamp changed (the sigma-space form derives
    /// ε from the clamped x0, which matches diffusers only when nothing is clamped).</param>
    public static Tensor RunDdim(NoiseSchedule schedule, int steps, bool setAlphaToOne, bool vPrediction,
        bool clipSample, int startIndex, Tensor ddpmStart, out long clippedCount)
    {
        double[] all = Schedules.DdimLeading(schedule, steps, offset: 0, setAlphaToOne: setAlphaToOne);
        double[] sigmas = all[startIndex..];
        long clipped = 0;

        Tensor Denoise(Tensor xs, double sigma)
        {
            double t = schedule.TimestepAt(sigma);
            Assert.Equal(Math.Round(t), t);
            double c = Math.Sqrt(sigma * sigma + 1);
            var x = xs / c;                                           // DDPM space
            var output = Model(x, (float)t);
            double acp = schedule.AlphasCumprod[(int)t];
            Tensor x0 = vPrediction
                ? x * Math.Sqrt(acp) - output * Math.Sqrt(1 - acp)
                : xs - output * sigma;                                 // = (x − sqrt(1−ᾱ)ε)/sqrt(ᾱ)
            if (clipSample)
            {
                var c0 = x0.clamp(-1.0, 1.0);
                clipped += c0.ne(x0).sum().item<long>();
                x0 = c0;
            }
            return x0;
        }

        var sampler = new DdimSampler();
        using var scope = NewDisposeScope();
        var start = ddpmStart * Math.Sqrt(sigmas[0] * sigmas[0] + 1);   // DDPM → sigma space
        var end = sampler.Sample(Denoise, start, sigmas, () => throw new InvalidOperationException("eta 0 draws no noise"), null, CancellationToken.None);
        var result = end / Math.Sqrt(sigmas[^1] * sigmas[^1] + 1);      // sigma → DDPM space
        clippedCount = clipped;
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>diffusers' add_noise for DDPM-style schedulers: sqrt(ᾱ_t)·x0 + sqrt(1 − ᾱ_t)·noise in float32.</summary>
    public static Tensor AddNoiseDdpm(NoiseSchedule schedule, Tensor x0, Tensor noise, int t)
    {
        float acp = (float)schedule.AlphasCumprod[t];
        float sa = MathF.Sqrt(acp), sb = MathF.Sqrt(1f - acp);
        return x0 * (double)sa + noise * (double)sb;
    }

    // ---------------------------------------------------------------- Euler / Euler a (sigma space)

    /// <summary>diffusers' sigma list for EulerDiscrete/EulerAncestralDiscrete, with the float32 timestep of each level.</summary>
    public sealed record EulerSchedule(double[] Sigmas, float[] Timesteps);

    /// <summary>
    /// "linspace" spacing with linear interpolation of σ (diffusers' default, unlike k-diffusion's
    /// log-σ interpolation): t = linspace(0, N−1, steps) in float32, reversed; σ = np.interp(t, 0…N−1, σ_train)
    /// with σ_train = sqrt((1−ᾱ)/ᾱ) in float32 torch arithmetic; then 0; all stored as float32.
    /// With <paramref name="karras"/>: Karras sigmas between the interpolated end points and their
    /// timesteps from k-diffusion's sigma_to_t.
    /// </summary>
    public static EulerSchedule DiffusersEulerSchedule(NoiseSchedule schedule, int steps, bool karras)
    {
        int n = schedule.TrainSteps;
        float[] trainSigmas;
        using (var scope = NewDisposeScope())
        {
            var acp = tensor(schedule.AlphasCumprod.Select(v => (float)v).ToArray(), dtype: float32);
            trainSigmas = ((1.0 - acp) / acp).pow(0.5).data<float>().ToArray();
        }
        // np.linspace(0, n-1, steps, dtype=float32): i·step in float64, last = stop, cast to float32
        double stepT = (double)(n - 1) / (steps - 1);
        var ts = new double[steps];
        for (int i = 0; i < steps; i++) ts[i] = (float)(i == steps - 1 ? n - 1 : i * stepT);
        Array.Reverse(ts);
        var sig = new double[steps];
        for (int i = 0; i < steps; i++) sig[i] = Interp(ts[i], trainSigmas);

        double[] sigmasOut;
        float[] timesteps;
        if (karras)
        {
            double[] k = Schedules.Karras(sig[^1], sig[0], steps);
            sigmasOut = k.Select(v => (double)(float)v).ToArray();
            timesteps = k.Take(steps).Select(v => (float)schedule.TimestepAt(v)).ToArray();
        }
        else
        {
            sigmasOut = sig.Append(0.0).Select(v => (double)(float)v).ToArray();
            timesteps = ts.Select(v => (float)v).ToArray();
        }
        return new EulerSchedule(sigmasOut, timesteps);
    }

    private static double Interp(double x, float[] fp)
    {
        if (x <= 0) return fp[0];
        if (x >= fp.Length - 1) return fp[^1];
        int j = (int)Math.Floor(x);
        if (x == j) return fp[j];
        double slope = (double)fp[j + 1] - fp[j];           // xp spacing is 1
        return slope * (x - j) + fp[j];
    }

    /// <summary>
    /// diffusers' Euler/Euler-a test loop, including its quirk: each step first divides the sample by
    /// sqrt(σ²+1) (scale_model_input) and then steps from that scaled sample. We reproduce it by running
    /// our sampler one step at a time on the rescaled sample; the denoiser sees the scaled sample y and
    /// returns y − σ·eps(y, t) (epsilon) or v·(−σ/sqrt(σ²+1)) + y/(σ²+1) (v-prediction), in float32.
    /// </summary>
    public static Tensor RunEulerQuirk(ISampler sampler, EulerSchedule sched, int startIndex, Tensor start,
        bool vPrediction, Func<Tensor> nextNoise)
    {
        var timeOf = new Dictionary<double, float>();
        for (int i = 0; i < sched.Timesteps.Length; i++) timeOf[sched.Sigmas[i]] = sched.Timesteps[i];

        Tensor Denoise(Tensor y, double sigma)
        {
            float s = (float)sigma;
            var output = Model(y, timeOf[sigma]);
            if (!vPrediction) return y - output * (double)s;
            float k1 = -s / MathF.Sqrt(s * s + 1f), k2 = s * s + 1f;
            return output * (double)k1 + y / (double)k2;
        }

        var x = start.alias();
        for (int i = startIndex; i < sched.Sigmas.Length - 1; i++)
        {
            using var scope = NewDisposeScope();
            float s = (float)sched.Sigmas[i];
            var scaled = x / (double)MathF.Sqrt(s * s + 1f);
            var next = sampler.Sample(Denoise, scaled, [sched.Sigmas[i], sched.Sigmas[i + 1]], nextNoise, null, CancellationToken.None);
            x.Dispose();
            x = next.MoveToOuterDisposeScope();
        }
        return x;
    }

    // ---------------------------------------------------------------- LMS / Heun (sigma space, whole run)

    /// <summary>
    /// diffusers' LMS/Heun test loop in one run of our sampler. The tests pass scale_model_input's output
    /// (x/sqrt(σ²+1)) back into step, so the scheduler continues from the scaled sample. The sampler is not
    /// bent for this: the adapter's denoiser divides the latent it is handed by sqrt(σ²+1) in place (float32, as
    /// scale_model_input), which is the tensor the sampler then steps from, and returns y − σ·eps(y, t)
    /// (or the v-prediction x0) for the scaled y, with t the float32 timestep diffusers pairs with σ.
    /// This relies on the sampler evaluating and stepping from the same tensor, which LMS and Heun do.
    /// </summary>
    public static Tensor RunScaledInPlace(ISampler sampler, EulerSchedule sched, int startIndex, Tensor start, bool vPrediction)
    {
        var timeOf = new Dictionary<double, float>();
        for (int i = 0; i < sched.Timesteps.Length; i++) timeOf[sched.Sigmas[i]] = sched.Timesteps[i];

        Tensor Denoise(Tensor y, double sigma)
        {
            float s = (float)sigma;
            y.div_((double)MathF.Sqrt(s * s + 1f));                   // scale_model_input, kept by the loop
            var output = Model(y, timeOf[sigma]);
            if (!vPrediction) return y - output * (double)s;
            float k1 = -s / MathF.Sqrt(s * s + 1f), k2 = s * s + 1f;
            return output * (double)k1 + y / (double)k2;
        }

        using var scope = NewDisposeScope();
        var x = start.clone();                                         // the first step scales it in place
        var result = sampler.Sample(Denoise, x, sched.Sigmas[startIndex..], () => throw new InvalidOperationException("deterministic sampler drew noise"), null, CancellationToken.None);
        return result.MoveToOuterDisposeScope();
    }

    // ---------------------------------------------------------------- DPM-Solver multistep (DDPM space)

    /// <summary>σ_train = sqrt((1 − ᾱ)/ᾱ) computed in float32 torch arithmetic, as diffusers' sigma schedulers do.</summary>
    public static float[] TrainSigmasF32(NoiseSchedule schedule)
    {
        using var scope = NewDisposeScope();
        var acp = tensor(schedule.AlphasCumprod.Select(v => (float)v).ToArray(), dtype: float32);
        return ((1.0 - acp) / acp).pow(0.5).data<float>().ToArray();
    }

    /// <summary>diffusers' DPMSolverMultistep sigma list (float32) and the integer timestep of each model call.</summary>
    public sealed record DpmSchedule(double[] Sigmas, int[] Timesteps);

    /// <summary>
    /// DPMSolverMultistepScheduler.set_timesteps with "linspace" spacing and final_sigmas_type "sigma_min":
    /// t = round(linspace(0, N−1, steps + 1)) reversed without its last entry, σ = σ_train[t]; or, for Karras /
    /// "lu" (uniform log-SNR, i.e. evenly spaced log σ) spacing, those sigmas between σ_train[0] and σ_train[N−1]
    /// with t = round(sigma_to_t(σ)). The last level is σ_train[0]; everything is stored as float32.
    /// </summary>
    public static DpmSchedule DiffusersDpmSchedule(NoiseSchedule schedule, int steps, string spacing)
    {
        int n = schedule.TrainSteps;
        float[] train = TrainSigmasF32(schedule);
        double[] sig;
        int[] ts;
        if (spacing == "linspace")
        {
            double step = (double)(n - 1) / steps;
            ts = Enumerable.Range(0, steps + 1).Select(i => (int)Math.Round(i == steps ? n - 1 : i * step, MidpointRounding.ToEven))
                .Reverse().Take(steps).ToArray();
            sig = ts.Select(t => (double)train[t]).ToArray();
        }
        else
        {
            double lo = train[0], hi = train[^1];
            sig = spacing switch
            {
                "karras" => Schedules.Karras(lo, hi, steps).Take(steps).ToArray(),
                "lu" => Enumerable.Range(0, steps)
                    .Select(i => Math.Exp(i == steps - 1 ? Math.Log(lo) : Math.Log(hi) + i * (Math.Log(lo) - Math.Log(hi)) / (steps - 1))).ToArray(),
                _ => throw new NotSupportedException(spacing),
            };
            ts = sig.Select(v => (int)Math.Round(schedule.TimestepAt(v), MidpointRounding.ToEven)).ToArray();
        }
        var sigmas = sig.Append(train[0]).Select(v => (double)(float)v).ToArray();
        return new DpmSchedule(sigmas, ts);
    }

    /// <summary>
    /// diffusers' DPMSolverMultistep test loop (dpmsolver++, order 2, midpoint) via our sampler: the model sees
    /// DDPM-space samples x = x'/sqrt(σ²+1) and the integer timestep; its output becomes x0 =
    /// (x − σ_t·eps)/α_t or α_t·x − σ_t·v with α_t = 1/sqrt(σ²+1), σ_t = σ·α_t (float32), optionally
    /// dynamically thresholded (a transform of the model's x0, so it belongs to the denoiser).
    /// Start and result are DDPM-space; the sampler works in sigma space.
    /// </summary>
    public static Tensor RunDpmSolver(ISampler sampler, DpmSchedule sched, int startIndex, Tensor ddpmStart, bool vPrediction,
        (double Ratio, double MaxValue)? thresholding = null)
    {
        var timeOf = new Dictionary<double, int>();
        for (int i = 0; i < sched.Timesteps.Length; i++) timeOf[sched.Sigmas[i]] = sched.Timesteps[i];

        Tensor Denoise(Tensor xs, double sigma)
        {
            float s = (float)sigma;
            float alpha = 1f / MathF.Sqrt(s * s + 1f), sigmaT = s * alpha;
            var x = xs * (double)alpha;
            var output = Model(x, timeOf[sigma]);
            var x0 = vPrediction ? x * (double)alpha - output * (double)sigmaT : (x - output * (double)sigmaT) / (double)alpha;
            if (thresholding is { } th) x0 = DynamicThreshold(x0, th.Ratio, th.MaxValue);
            return x0;
        }

        var sigmas = sched.Sigmas[startIndex..];
        using var scope = NewDisposeScope();
        var start = ddpmStart * Math.Sqrt(sigmas[0] * sigmas[0] + 1);
        var end = sampler.Sample(Denoise, start, sigmas, () => throw new InvalidOperationException("deterministic sampler drew noise"), null, CancellationToken.None);
        return (end / Math.Sqrt(sigmas[^1] * sigmas[^1] + 1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// diffusers' dynamic thresholding of x0 (Imagen): per sample, s = the <paramref name="ratio"/> quantile of |x0|,
    /// clamped as torch.clamp(s, min 1, max <paramref name="maxValue"/>) (max wins when min &gt; max); x0 ← clamp(x0, −s, s)/s.
    /// </summary>
    public static Tensor DynamicThreshold(Tensor x0, double ratio, double maxValue)
    {
        long b = x0.shape[0];
        var flat = x0.reshape(b, -1).abs();
        var q = flat.quantile(tensor(ratio, dtype: flat.dtype), dim: 1);
        var sv = q.clamp(1.0, maxValue);                               // torch.clamp(min=1, max=maxValue)
        var sh = sv.reshape(b, 1, 1, 1);
        return x0.clamp(-sh, sh) / sh;
    }

    /// <summary>DPMSolverMultistep's add_noise: α_t·x0 + σ_t·noise with α_t = 1/sqrt(σ²+1), σ_t = σ·α_t (float32).</summary>
    public static Tensor AddNoiseDpm(Tensor x0, Tensor noise, double sigma)
    {
        float s = (float)sigma;
        float alpha = 1f / MathF.Sqrt(s * s + 1f), sigmaT = s * alpha;
        return x0 * (double)alpha + noise * (double)sigmaT;
    }
}
