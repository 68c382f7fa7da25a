using Redraft.Diffusion.Sampling;

namespace Redraft.Diffusion.Tests.Sampling;

/// <summary>
/// AUTOMATIC1111's UniPC time parameterisation: the discrete schedule as continuous VP time, its time-uniform grid,
/// and the timestep its model wrapper gives the UNet. Expected values are computed here from the definitions, not from
/// the code under test.
/// </summary>
public class DiscreteVpTimeTests
{
    private static readonly NoiseSchedule Sd = NoiseSchedule.ScaledLinear();

    /// <summary>SD's ᾱ computed independently in double: β = linspace(√0.00085, √0.012, 1000)², ᾱ = Π(1 − β).</summary>
    private static readonly double[] AlphasCumprod = MakeAlphasCumprod();

    private static double[] MakeAlphasCumprod()
    {
        double from = Math.Sqrt(0.00085), to = Math.Sqrt(0.012), product = 1;
        var result = new double[1000];
        for (int i = 0; i < 1000; i++)
        {
            double root = from + (to - from) * i / 999;
            product *= 1 - root * root;
            result[i] = product;
        }
        return result;
    }

    /// <summary>len(range(0, 1000, 1000 // steps)): the number of CompVis timesteps A1111 hands UniPC.</summary>
    private static int CompVisCount(int steps) => Enumerable.Range(0, 1000).Count(t => t % (1000 / steps) == 0);

    [Theory]
    [InlineData(5, 5)]
    [InlineData(6, 7)]
    [InlineData(20, 20)]
    [InlineData(30, 31)]
    [InlineData(3, 4)]
    [InlineData(7, 8)]
    public void Txt2img_grid_is_time_uniform_from_1_to_one_thousandth_over_the_CompVis_count(int steps, int expectedCount)
    {
        // A1111: unipc(…, timesteps) runs len(timesteps) steps on linspace(t_T = 1, t_0 = 1/1000, len + 1).
        int n = CompVisCount(steps);
        Assert.Equal(expectedCount, n);
        var times = Schedules.UniPcTimes(1000, steps);
        Assert.Equal(n + 1, times.Length);
        Assert.Equal(1.0, times[0]);
        Assert.Equal((double)0.001f, times[^1]);               // float32, as torch.linspace makes it
        for (int i = 0; i <= n; i++)
        {
            Assert.Equal(1 - i * 0.999 / n, times[i], 1e-6);
            Assert.Equal(times[i], (double)(float)times[i]);    // float32 values
        }
        var sigmas = ((ISampler)new UniPcSampler()).Sigmas(Sd, steps);
        Assert.Equal(n + 1, sigmas.Length);
        Assert.Equal(Sd.SigmaMax, sigmas[0], 1e-12);            // t = 1 is timestep 999
        Assert.Equal(Sd.SigmaMin, sigmas[^1], 1e-6);            // t = 1/1000 is timestep 0: UniPC stops there, not at 0
    }

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(20)]
    [InlineData(30)]
    public void Alpha_sigma_and_lambda_interpolate_log_alpha_of_alphas_cumprod(int steps)
    {
        // The schedule's ᾱ are float32 values (the reference implementations store them so); they are SD's.
        for (int i = 0; i < 1000; i++) Assert.Equal(1, Sd.AlphasCumprod[i] / AlphasCumprod[i], 2e-6);
        // NoiseScheduleVP('discrete'): log α is ½·log ᾱ_n at t = (n + 1)/1000, linear in t in between.
        var time = new DiscreteVpTime(Sd);
        foreach (double t in Schedules.UniPcTimes(1000, steps))
        {
            double position = t * 1000 - 1;
            int n = Math.Min((int)Math.Floor(position), 998);
            double w = position - n;
            double logAlpha = 0.5 * ((1 - w) * Math.Log(Sd.AlphasCumprod[n]) + w * Math.Log(Sd.AlphasCumprod[n + 1]));
            double alpha = Math.Exp(logAlpha), std = Math.Sqrt(1 - alpha * alpha);
            Assert.Equal(1, time.Alpha(t) / alpha, 1e-12);
            Assert.Equal(1, time.Std(t) / std, 1e-12);
            Assert.Equal(Math.Log(alpha / std), time.Lambda(t), 1e-12);
            Assert.Equal(1, time.Sigma(t) / (std / alpha), 1e-12);
            Assert.Equal(t, time.TimeOfSigma(time.Sigma(t)), 1e-12);
        }
        // At integer timesteps the level is the table's: t = (n + 1)/1000 ↔ σ_n.
        foreach (int n in new[] { 0, 1, 333, 500, 998, 999 })
            Assert.Equal(1, time.Sigma((n + 1) / 1000.0) / Sd.Sigmas[n], 1e-12);
        // Between them it is not k-diffusion's log-σ interpolation (which UniPC used before).
        double between = 0.5 + 0.25 / 1000;
        Assert.True(Math.Abs(Sd.SigmaAt(between * 1000 - 1) / time.Sigma(between) - 1) > 1e-7);
    }

    [Fact]
    public void The_unet_is_told_timestep_1000t_minus_1_in_float32()
    {
        var time = new DiscreteVpTime(Sd);
        Assert.Equal(999f, time.ModelTimestep(1.0));
        Assert.Equal(0f, time.ModelTimestep(0.001));
        Assert.Equal(949.05, time.ModelTimestep(1 - 0.999 / 20), 1e-3);
        // img2img starts at timesteps[t_enc − 1]/1000 + 1/1000 (float32): timestep 333 → 0.334 → the UNet sees 333.
        Assert.Equal(0.334, time.Img2ImgStart(333), 1e-7);
        Assert.Equal(333f, time.ModelTimestep(time.Img2ImgStart(333)));
        // float32 rounding lands a few starts just below the integer (worked out with IEEE single arithmetic:
        // 250/1000 + 1/1000 − 1/1000, × 1000 = 249.99998), so A1111's int() for v-prediction reads ᾱ_249 there.
        Assert.Equal(249.99998474121094, time.ModelTimestep(time.Img2ImgStart(250)), 1e-12);
        Assert.Equal(249, (int)time.ModelTimestep(time.Img2ImgStart(250)));
    }

    [Fact]
    public void Img2img_runs_t_enc_steps_from_the_timestep_below_the_noised_one()
    {
        // 6 steps, strength 0.5: CompVis timesteps 1, 167, 333, 499, …; t_enc = 3; the init is noised at 499 and
        // UniPC runs linspace(0.334, 0.001, 4).
        var plan = SamplingPlan.Create(new UniPcSampler(), Sd, 6, null, 0.5);
        Assert.Equal(3, plan.Steps);
        Assert.Equal(new[] { 0.334, 0.223, 0.112, 0.001 }, plan.Times!, new ToleranceComparer(1e-6));
        var time = new DiscreteVpTime(Sd);
        Assert.Equal(new[] { 333.0, 222.0, 111.0 }, plan.Times!.Take(3).Select(t => (double)time.ModelTimestep(t)), new ToleranceComparer(1e-3));
        Assert.Equal(Sd.Sigmas[499], plan.InitSigma);
        // The VP latent sqrt(ᾱ_499)·(x0 + σ_499·ε) is read as the latent at t = 0.334 (α = sqrt(ᾱ_333)).
        Assert.Equal(Math.Sqrt(AlphasCumprod[499] / AlphasCumprod[333]), plan.InitScale, 1e-6);

        // Strength 1 is clamped to 0.999: 5 steps from timestep 665, noised at 831.
        var full = SamplingPlan.Create(new UniPcSampler(), Sd, 6, null, 1.0);
        Assert.Equal(5, full.Steps);
        Assert.Equal(665f, time.ModelTimestep(full.Times![0]));
        Assert.Equal(Sd.Sigmas[831], full.InitSigma);
        // Below one step nothing runs.
        Assert.Equal(0, SamplingPlan.Create(new UniPcSampler(), Sd, 6, null, 0.1).Steps);
        // The k-diffusion schedules keep k-diffusion's img2img: the last int(steps × strength) levels.
        var karras = SamplingPlan.Create(new UniPcSampler(), Sd, 6, ScheduleKind.Karras, 0.5);
        Assert.Equal(Schedules.Karras(Sd, 6)[3..], karras.Sigmas);
        Assert.Null(karras.Time);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }
}
