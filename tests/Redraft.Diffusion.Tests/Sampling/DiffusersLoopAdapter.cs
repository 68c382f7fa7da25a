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
}
