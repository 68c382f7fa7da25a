using Redraft.Diffusion.Sampling;

namespace Redraft.Diffusion.Tests.Sampling;

public class NoiseScheduleTests
{
    private static readonly NoiseSchedule Sd = NoiseSchedule.ScaledLinear();

    [Fact]
    public void Sd_schedule_has_the_known_end_points()
    {
        Assert.Equal(1000, Sd.TrainSteps);
        Assert.Equal(0.00085, Sd.Betas[0], 1e-9);
        Assert.Equal(0.012, Sd.Betas[^1], 1e-9);
        Assert.Equal(14.6146, Sd.SigmaMax, 1e-4);
        Assert.Equal(0.0292, Sd.SigmaMin, 1e-4);
        Assert.Equal(0.99915, Sd.AlphasCumprod[0], 1e-7);
        Assert.Equal(0.0047, Sd.AlphasCumprod[^1], 1e-4);
        for (int i = 1; i < Sd.TrainSteps; i++) Assert.True(Sd.Sigmas[i] > Sd.Sigmas[i - 1]);
    }

    [Fact]
    public void Alphas_cumprod_are_float32_values()
    {
        foreach (var a in Sd.AlphasCumprod) Assert.Equal(a, (double)(float)a);
    }

    [Fact]
    public void Timestep_of_an_integer_timesteps_sigma_is_exact()
    {
        for (int t = 0; t < Sd.TrainSteps; t++)
        {
            Assert.Equal(Sd.Sigmas[t], Sd.SigmaAt(t));
            Assert.Equal((double)t, Sd.TimestepAt(Sd.SigmaAt(t)));
        }
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(12.25)]
    [InlineData(500.75)]
    [InlineData(998.999)]
    public void Fractional_timesteps_round_trip(double t)
    {
        Assert.Equal(t, Sd.TimestepAt(Sd.SigmaAt(t)), 1e-9);
        // log σ is interpolated linearly
        int lo = (int)Math.Floor(t);
        double w = t - lo;
        Assert.Equal(Math.Exp((1 - w) * Math.Log(Sd.Sigmas[lo]) + w * Math.Log(Sd.Sigmas[lo + 1])), Sd.SigmaAt(t), 1e-12);
    }

    [Fact]
    public void Timestep_clamps_outside_the_table()
    {
        Assert.Equal(0.0, Sd.TimestepAt(0));
        Assert.Equal(0.0, Sd.TimestepAt(Sd.SigmaMin / 2));
        Assert.Equal(999.0, Sd.TimestepAt(Sd.SigmaMax * 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sd.SigmaAt(-0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sd.SigmaAt(999.5));
    }

    [Fact]
    public void General_constructor_matches_the_factory()
    {
        var linear = NoiseSchedule.Linear(1000, 0.0001, 0.02);
        var again = new NoiseSchedule(linear.Betas.Select(b => (float)b).ToArray());
        Assert.Equal(linear.AlphasCumprod, again.AlphasCumprod);
        Assert.Equal(linear.Sigmas, again.Sigmas);
    }
}

public class SchedulesTests
{
    private static readonly NoiseSchedule Sd = NoiseSchedule.ScaledLinear();

    [Fact]
    public void Ddim_leading_20_steps_are_951_to_1()
    {
        var expected = Enumerable.Range(0, 20).Select(i => 951 - 50 * i).ToArray();
        Assert.Equal(expected, Schedules.DdimLeadingTimesteps(1000, 20));
        Assert.Equal(new[] { 900, 800, 700, 600, 500, 400, 300, 200, 100, 0 }, Schedules.DdimLeadingTimesteps(1000, 10, offset: 0));
        Assert.Equal(new[] { 801, 601, 401, 201, 1 }, Schedules.DdimLeadingTimesteps(1000, 5, offset: 1)); // asserted by diffusers' test
    }

    [Fact]
    public void Ddim_leading_sigmas_end_at_alpha0_or_zero()
    {
        var s = Schedules.DdimLeading(Sd, 20);
        Assert.Equal(21, s.Length);
        Assert.Equal(Sd.Sigmas[951], s[0]);
        Assert.Equal(Sd.Sigmas[1], s[19]);
        Assert.Equal(Sd.Sigmas[0], s[20], 15);  // σ(ᾱ_0)
        Assert.Equal(951.0, Sd.TimestepAt(s[0]));
        Assert.Equal(0.0, Schedules.DdimLeading(Sd, 20, setAlphaToOne: true)[^1]);
        Assert.Equal(s, ((ISampler)new DdimSampler()).Sigmas(Sd, 20)); // 20 divides 1000: the CompVis timesteps are the same
    }

    [Fact]
    public void CompVis_ddim_timesteps_are_range_0_1000_by_1000_over_steps_plus_one()
    {
        // A1111's get_timesteps: clip(range(0, 1000, 1000 // steps) + 1, 0, 999); a step count that does not divide
        // 1000 runs more steps than asked.
        int[] Expected(int steps) => [.. Enumerable.Range(0, 1000).Where(t => t % (1000 / steps) == 0).Select(t => Math.Min(t + 1, 999)).Reverse()];
        foreach (int steps in new[] { 1, 5, 6, 20, 30, 50, 7, 999, 1000 })
            Assert.Equal(Expected(steps), Schedules.CompVisDdimTimesteps(1000, steps));
        Assert.Equal(31, Schedules.CompVisDdimTimesteps(1000, 30).Length);
        Assert.Equal(991, Schedules.CompVisDdimTimesteps(1000, 30)[0]);
        Assert.Equal(7, Schedules.CompVisDdimTimesteps(1000, 6).Length);
        Assert.Equal(new[] { 801, 601, 401, 201, 1 }, Schedules.CompVisDdimTimesteps(1000, 5));
        var sigmas = ((ISampler)new DdimSampler()).Sigmas(Sd, 6);
        Assert.Equal(8, sigmas.Length);
        Assert.Equal(Sd.Sigmas[997], sigmas[0]);
        Assert.Equal(Sd.Sigmas[0], sigmas[^1], 15);
        Assert.Equal(sigmas, ((ISampler)new PlmsSampler()).Sigmas(Sd, 6));
        Assert.Throws<RedraftInputException>(() => Schedules.CompVisDdimTimesteps(1000, 1001));
    }

    [Fact]
    public void Ddim_with_too_many_steps_is_a_user_error()
    {
        var ex = Assert.Throws<RedraftInputException>(() => Schedules.DdimLeading(Sd, 1000));
        Assert.Contains("at most 999", ex.Message);
        Assert.Equal(999, Schedules.DdimLeading(Sd, 999).Length - 1);
        Assert.Throws<RedraftInputException>(() => Schedules.Normal(Sd, 0));
    }

    [Fact]
    public void Normal_schedule_is_k_diffusion_discrete()
    {
        var s = Schedules.Normal(Sd, 20);
        Assert.Equal(21, s.Length);
        Assert.Equal(Sd.SigmaMax, s[0]);
        Assert.Equal(Sd.SigmaMin, s[19]);
        Assert.Equal(0.0, s[20]);
        for (int i = 1; i < 20; i++) Assert.True(s[i] < s[i - 1]);
        // t = linspace(999, 0, 20): step 999/19
        Assert.Equal(999 - 999.0 / 19, Sd.TimestepAt(s[1]), 1e-9);
        Assert.Equal(s, ((ISampler)new EulerSampler()).Sigmas(Sd, 20));
        Assert.Equal(s, ((ISampler)new EulerAncestralSampler()).Sigmas(Sd, 20));
        Assert.Equal(new[] { Sd.SigmaMax, 0.0 }, Schedules.Normal(Sd, 1));
    }

    [Fact]
    public void Karras_runs_from_max_to_min_then_zero()
    {
        var s = Schedules.Karras(Sd, 10);
        Assert.Equal(11, s.Length);
        Assert.Equal(Sd.SigmaMax, s[0], 1e-12);
        Assert.Equal(Sd.SigmaMin, s[9], 1e-12);
        Assert.Equal(0.0, s[10]);
        double rho = 7, mx = Math.Pow(Sd.SigmaMax, 1 / rho), mn = Math.Pow(Sd.SigmaMin, 1 / rho);
        Assert.Equal(Math.Pow(mx + 0.5 * (mn - mx), rho), Schedules.Karras(Sd, 3)[1], 1e-12);
    }
}
