using Redraft.Diffusion.Sampling;
using TorchSharp;
using static Redraft.Diffusion.Tests.Sampling.DiffusersLoopAdapter;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Sampling;

/// <summary>
/// Runs diffusers' PNDM, LCM and DDPM full-loop tests with <see cref="PlmsSampler"/>, <see cref="LcmSampler"/> and
/// <see cref="DdimSampler"/> (η = 1). Test-only pieces live here: the DDPM-space dummy model as a <see cref="Denoiser"/>,
/// diffusers' timestep lists, PNDM's Runge–Kutta warm-up and LCM's boundary condition.
/// </summary>
internal static class DiffusersMultistepAdapter
{
    /// <summary>
    /// The dummy model eps = x·t/(t+1) on DDPM-space x = x'/sqrt(σ²+1) at the integer timestep of σ, turned into x0
    /// (ε- or v-prediction; clamped to [−1, 1] when <paramref name="clipSample"/>).
    /// </summary>
    public static Denoiser DdpmDenoiser(NoiseSchedule schedule, bool vPrediction, bool clipSample)
        => (xs, sigma) =>
        {
            double t = schedule.TimestepAt(sigma);
            Assert.Equal(Math.Round(t), t);
            var x = xs / Math.Sqrt(sigma * sigma + 1);
            var output = Model(x, (float)t);
            double acp = schedule.AlphasCumprod[(int)t];
            var x0 = vPrediction ? x * Math.Sqrt(acp) - output * Math.Sqrt(1 - acp) : xs - output * sigma;
            return clipSample ? x0.clamp(-1.0, 1.0) : x0;
        };

    // ---------------------------------------------------------------- PNDM = PRK warm-up + PLMS

    /// <summary>
    /// diffusers' PNDMScheduler with its default PRK warm-up (skip_prk_steps = false, "leading" timesteps, offset 0).
    /// The warm-up is three pseudo Runge–Kutta steps (900 → 800 → 700 → 600 for 10 steps) through the half-way
    /// timestep, each built from DDIM transfers in sigma space (x + (σ_to − σ_from)·ε); its first ε of each step is the
    /// PLMS history. <see cref="PlmsSampler"/> then runs the remaining steps with that history (4th order from the start).
    /// </summary>
    public static Tensor RunPndm(NoiseSchedule schedule, int steps, bool setAlphaToOne, Tensor ddpmStart)
    {
        const int prkSteps = 3;                                   // pndm_order − 1
        int[] ts = Schedules.DdimLeadingTimesteps(schedule.TrainSteps, steps, offset: 0);
        double[] sigmas = Schedules.DdimLeading(schedule, steps, offset: 0, setAlphaToOne: setAlphaToOne);
        int half = schedule.TrainSteps / steps / 2;
        var denoise = DdpmDenoiser(schedule, vPrediction: false, clipSample: false);
        Tensor Eps(Tensor x, double sigma) => (x - denoise(x, sigma)) / sigma;

        using var scope = NewDisposeScope();
        var xs = ddpmStart * Math.Sqrt(sigmas[0] * sigmas[0] + 1);
        var history = new List<Tensor>();
        for (int i = 0; i < prkSteps; i++)
        {
            double s = sigmas[i], sm = schedule.Sigmas[ts[i] - half], sn = sigmas[i + 1];
            var e1 = Eps(xs, s);
            var e2 = Eps(xs + e1 * (sm - s), sm);
            var e3 = Eps(xs + e2 * (sm - s), sm);
            var e4 = Eps(xs + e3 * (sn - s), sn);
            xs = xs + (e1 + e2 * 2 + e3 * 2 + e4) / 6 * (sn - s);
            history.Add(e1);
        }
        double[] rest = sigmas[prkSteps..];
        var end = new PlmsSampler().Sample(denoise, xs, rest, null, CancellationToken.None, history);
        return (end / Math.Sqrt(rest[^1] * rest[^1] + 1)).MoveToOuterDisposeScope();
    }

    // ---------------------------------------------------------------- LCM

    /// <summary>diffusers' LCM timesteps: the 50 "original" ones (19, 39, …, 999) reversed, taken at floor(linspace(0, 50, steps)).</summary>
    public static int[] LcmTimesteps(int trainSteps, int steps, int originalSteps = 50)
    {
        int k = trainSteps / originalSteps;
        var origin = Enumerable.Range(1, originalSteps).Select(i => i * k - 1).Reverse().ToArray();
        return Enumerable.Range(0, steps).Select(i => origin[(int)Math.Floor((double)i * originalSteps / steps)]).ToArray();
    }

    /// <summary>
    /// diffusers' LCMScheduler loop via <see cref="LcmSampler"/>: sigmas of the LCM timesteps, then 0; the denoiser
    /// applies LCM's boundary condition c_skip·x + c_out·x̂0 (t scaled by 10, σ_data = 0.5) on DDPM-space x.
    /// </summary>
    public static Tensor RunLcm(NoiseSchedule schedule, int steps, Tensor ddpmStart, Func<Tensor> nextNoise)
    {
        int[] ts = LcmTimesteps(schedule.TrainSteps, steps);
        double[] sigmas = ts.Select(t => schedule.Sigmas[t]).Append(0.0).ToArray();
        Tensor Denoise(Tensor xs, double sigma)
        {
            double t = schedule.TimestepAt(sigma);
            Assert.Equal(Math.Round(t), t);
            var x = xs / Math.Sqrt(sigma * sigma + 1);
            var eps = Model(x, (float)t);
            float acp = (float)schedule.AlphasCumprod[(int)t];
            var x0 = (x - eps * (double)MathF.Sqrt(1f - acp)) / (double)MathF.Sqrt(acp);
            float scaled = (float)t * 10f;
            float cSkip = 0.25f / (scaled * scaled + 0.25f), cOut = scaled / MathF.Sqrt(scaled * scaled + 0.25f);
            return x0 * (double)cOut + x * (double)cSkip;
        }
        using var scope = NewDisposeScope();
        var start = ddpmStart * Math.Sqrt(sigmas[0] * sigmas[0] + 1);
        return new LcmSampler().Sample(Denoise, start, sigmas, nextNoise, null, CancellationToken.None).MoveToOuterDisposeScope();
    }

    // ---------------------------------------------------------------- DDPM = DDIM with η = 1 on every timestep

    /// <summary>
    /// diffusers' DDPMScheduler loop (no set_timesteps: t = 999 … 0, "fixed_small" variance) as <see cref="DdimSampler"/>
    /// with η = 1 on all timesteps ending at σ = 0: DDIM's η = 1 noise for consecutive timesteps is exactly the DDPM
    /// posterior variance (1 − ᾱ_{t−1})/(1 − ᾱ_t)·β_t, and its mean the posterior mean for any (clipped) x̂0.
    /// <paramref name="sigmaStart"/> is in sigma space at sigmas[startIndex].
    /// </summary>
    public static Tensor RunDdpm(NoiseSchedule schedule, bool vPrediction, int startIndex, Tensor sigmaStart, Func<Tensor> nextNoise)
    {
        double[] sigmas = Schedules.DdimLeading(schedule, schedule.TrainSteps, offset: 0, setAlphaToOne: true)[startIndex..];
        var denoise = DdpmDenoiser(schedule, vPrediction, clipSample: true);
        return new DdimSampler { Eta = 1.0 }.Sample(denoise, sigmaStart, sigmas, nextNoise, null, CancellationToken.None);
    }
}
