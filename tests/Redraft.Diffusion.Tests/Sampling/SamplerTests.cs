using Redraft.Diffusion.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Sampling;

public class SamplerRegistryTests
{
    [Theory]
    [InlineData("Euler", "Euler")]
    [InlineData("euler", "Euler")]
    [InlineData("k_euler", "Euler")]
    [InlineData("Euler a", "Euler a")]
    [InlineData("EULER A", "Euler a")]
    [InlineData("k_euler_a", "Euler a")]
    [InlineData("euler_ancestral", "Euler a")]
    [InlineData("Euler_A", "Euler a")]
    [InlineData("DDIM", "DDIM")]
    [InlineData("ddim", "DDIM")]
    [InlineData(" ddim ", "DDIM")]
    public void Finds_by_name_or_alias(string query, string name) => Assert.Equal(name, SamplerRegistry.Get(query).Name);

    [Fact]
    public void Unknown_name_lists_the_valid_ones()
    {
        var ex = Assert.Throws<RedraftInputException>(() => SamplerRegistry.Get("DPM++ 9M"));
        Assert.StartsWith("unknown sampler \"DPM++ 9M\"; valid: Euler, Euler a, DDIM", ex.Message);
        Assert.Contains("PLMS", ex.Message);
        Assert.Contains("DPM++ 2M Karras", ex.Message);
        Assert.False(SamplerRegistry.TryGet("", out _));
        Assert.False(SamplerRegistry.TryGet(null, out _));
    }

    [Fact]
    public void All_lists_every_sampler_once()
    {
        Assert.Equal(new[] { "Euler", "Euler a", "DDIM" }, SamplerRegistry.All.Select(s => s.Name).Take(3));
        Assert.Equal(SamplerRegistry.All.Count, SamplerRegistry.All.Select(s => s.Name).Distinct().Count());
        // no name or alias leads to two different samplers
        var owners = SamplerRegistry.All
            .SelectMany(s => s.Aliases.Append(s.Name).Select(n => (Key: n.ToLowerInvariant(), s.Name)))
            .GroupBy(p => p.Key).Where(g => g.Select(p => p.Name).Distinct().Count() > 1).Select(g => g.Key);
        Assert.Empty(owners);
        foreach (var s in SamplerRegistry.All)
            foreach (var alias in s.Aliases) Assert.Same(s, SamplerRegistry.Get(alias));
    }
}

public class SamplerBehaviourTests
{
    private static readonly NoiseSchedule Sd = NoiseSchedule.ScaledLinear();

    /// <summary>Ideal denoiser for data ~ N(0, s²): E[x0 | x] = x·s²/(s² + σ²).</summary>
    private static Denoiser Gaussian(double s) => (x, sigma) => x * (s * s / (s * s + sigma * sigma));

    [Fact]
    public void Euler_follows_the_probability_flow_ode()
    {
        // For data N(0, s²) the ODE solution is x(σ) = x(σ0)·sqrt(s² + σ²)/sqrt(s² + σ0²).
        const double s = 0.5;
        double[] sigmas = Schedules.Normal(Sd, 400);
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 2, 4, 8, 8 }, dtype: float64, generator: new Generator(1)) * sigmas[0];
        var result = new EulerSampler().Sample(Gaussian(s), x, sigmas, () => throw new InvalidOperationException(), null, CancellationToken.None);
        var expected = x * (s / Math.Sqrt(s * s + sigmas[0] * sigmas[0]));
        Assert.True(result.allclose(expected, rtol: 2e-2, atol: 1e-3));
        Assert.False(x.IsInvalid);
    }

    [Fact]
    public void Euler_a_gives_the_data_variance()
    {
        const double s = 0.5;
        double[] sigmas = Schedules.Normal(Sd, 100);
        using var scope = NewDisposeScope();
        var gen = new Generator(3);
        long[] shape = [1, 4, 64, 64];
        var x = randn(shape, dtype: float64, generator: gen) * sigmas[0];
        int draws = 0;
        var result = new EulerAncestralSampler().Sample(Gaussian(s), x, sigmas,
            () => { draws++; return randn(shape, dtype: float64, generator: gen); }, null, CancellationToken.None);
        Assert.Equal(99, draws);                          // none for the final step to σ = 0

        // Exact variance recursion of the ancestral step for this denoiser (x' = x·(a + σd(1 − a)/σ) + σu·z,
        // a = s²/(s²+σ²)): Euler a is biased low at finite steps (≈ 0.4705 for 100 steps), not 0.5.
        double v = sigmas[0] * sigmas[0];
        for (int i = 0; i < sigmas.Length - 1; i++)
        {
            double sg = sigmas[i], nx = sigmas[i + 1], a = s * s / (s * s + sg * sg);
            double up = nx > 0 ? Math.Min(nx, Math.Sqrt(nx * nx * (sg * sg - nx * nx) / (sg * sg))) : 0;
            double down = Math.Sqrt(nx * nx - up * up);
            v = v * Math.Pow(a + down * (1 - a) / sg, 2) + up * up;
        }
        Assert.InRange(Math.Sqrt(v), 0.46, 0.48);
        Assert.Equal(Math.Sqrt(v), result.std().item<double>(), 0.01);
    }

    [Fact]
    public void Ddim_eta0_is_euler_on_the_ddim_sigmas()
    {
        double[] sigmas = ((ISampler)new DdimSampler()).Sigmas(Sd, 10);
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 1, 4, 8, 8 }, generator: new Generator(5)) * sigmas[0];
        Denoiser d = (xx, sg) => (xx * 0.3).tanh();
        var a = new DdimSampler().Sample(d, x, sigmas, () => throw new InvalidOperationException(), null, default);
        var b = new EulerSampler().Sample(d, x, sigmas, () => throw new InvalidOperationException(), null, default);
        Assert.True(a.eq(b).all().item<bool>());
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    public void Ddim_matches_the_original_ddpm_space_formula(double eta)
    {
        // Original DDIM: x_p = sqrt(ᾱp)·x0 + sqrt(1 − ᾱp − s²)·ε + s·z,
        // s = η·sqrt((1 − ᾱp)/(1 − ᾱt))·sqrt(1 − ᾱt/ᾱp), on DDPM-space x, with the same noise draws.
        int[] ts = Schedules.DdimLeadingTimesteps(1000, 8);
        double[] sigmas = Schedules.DdimLeading(Sd, 8);
        long[] shape = [1, 4, 8, 8];
        static Tensor Eps(Tensor xDdpm, int t) => (xDdpm * (0.001 * t + 0.2)).sin();

        using var scope = NewDisposeScope();
        var xT = randn(shape, dtype: float64, generator: new Generator(11));

        // reference, DDPM space
        var genRef = new Generator(12);
        var xr = xT.clone();
        for (int i = 0; i < ts.Length; i++)
        {
            double at = Sd.AlphasCumprod[ts[i]];
            double ap = i + 1 < ts.Length ? Sd.AlphasCumprod[ts[i + 1]] : Sd.AlphasCumprod[0];
            var e = Eps(xr, ts[i]);
            var x0 = (xr - e * Math.Sqrt(1 - at)) / Math.Sqrt(at);
            double sd = eta * Math.Sqrt((1 - ap) / (1 - at)) * Math.Sqrt(1 - at / ap);
            xr = x0 * Math.Sqrt(ap) + e * Math.Sqrt(1 - ap - sd * sd);
            if (sd > 0) xr = xr + randn(shape, dtype: float64, generator: genRef) * sd;
        }

        // ours, sigma space
        var gen = new Generator(12);
        Denoiser denoise = (xs, sigma) =>
        {
            int t = (int)Sd.TimestepAt(sigma);
            return xs - Eps(xs / Math.Sqrt(sigma * sigma + 1), t) * sigma;
        };
        var sampler = new DdimSampler { Eta = eta };
        var start = xT * sampler.InitialNoiseScale(sigmas[0]);
        var end = sampler.Sample(denoise, start, sigmas, () => randn(shape, dtype: float64, generator: gen), null, default);
        var ours = end / Math.Sqrt(sigmas[^1] * sigmas[^1] + 1);

        Assert.True(ours.allclose(xr, rtol: 1e-9, atol: 1e-9), $"max diff {(ours - xr).abs().max().item<double>()}");
    }

    [Fact]
    public void Ddim_eta_out_of_range_is_a_user_error()
    {
        Assert.Throws<RedraftInputException>(() => new DdimSampler { Eta = 1.5 });
        Assert.Throws<RedraftInputException>(() => new DdimSampler { Eta = -0.1 });
    }

    [Fact]
    public void Initial_noise_scales()
    {
        Assert.Equal(14.6, new EulerSampler().InitialNoiseScale(14.6));
        Assert.Equal(14.6, new EulerAncestralSampler().InitialNoiseScale(14.6));
        Assert.Equal(Math.Sqrt(14.6 * 14.6 + 1), new DdimSampler().InitialNoiseScale(14.6));
    }

    [Theory]
    [InlineData("Euler")]
    [InlineData("Euler a")]
    [InlineData("DDIM")]
    public void Reports_each_step_and_honours_cancellation(string name)
    {
        var sampler = SamplerRegistry.Get(name);
        double[] sigmas = sampler.Sigmas(Sd, 6);
        using var scope = NewDisposeScope();
        var gen = new Generator(0);
        var x = randn(new long[] { 1, 4, 8, 8 }, generator: gen) * sigmas[0];
        Func<Tensor> noise = () => randn(new long[] { 1, 4, 8, 8 }, generator: gen);
        Denoiser d = (xx, sg) => xx * 0.5;

        var seen = new List<SamplerStep>();
        var r = sampler.Sample(d, x, sigmas, noise, st => seen.Add(st with { Latent = null!, Denoised = null! }), default);
        // DDIM runs the CompVis timesteps: 6 does not divide 1000, so 7 steps.
        int stepCount = sigmas.Length - 1;
        Assert.Equal(name == "DDIM" ? 7 : 6, stepCount);
        Assert.Equal(Enumerable.Range(0, stepCount), seen.Select(st => st.Index));
        Assert.All(seen, st => Assert.Equal(stepCount, st.Total));
        Assert.Equal(sigmas.Take(stepCount), seen.Select(st => st.Sigma));
        Assert.NotSame(x, r);
        Assert.False(x.IsInvalid);

        using var cts = new CancellationTokenSource();
        int calls = 0;
        Denoiser counting = (xx, sg) => { calls++; return xx * 0.5; };
        Assert.ThrowsAny<OperationCanceledException>(() =>
            sampler.Sample(counting, x, sigmas, noise, st => { if (st.Index == 2) cts.Cancel(); }, cts.Token));
        Assert.Equal(3, calls);
        Assert.False(x.IsInvalid);

        // no steps: a separate handle on the same values
        var same = sampler.Sample(d, x, [sigmas[0]], noise, null, default);
        Assert.NotSame(x, same);
        Assert.True(same.eq(x).all().item<bool>());
    }

    [Fact]
    public void Step_temporaries_are_freed()
    {
        double[] sigmas = Schedules.Normal(Sd, 50);
        var x = randn(1, 4, 16, 16);
        var gen = new Generator(0);
        Denoiser d = (xx, sg) => (xx * 0.5).tanh() * 2 - xx * 0.01;   // several temporaries per call
        var sampler = new EulerAncestralSampler();

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var probe = x * 2)   // the counter does see unscoped tensors
            Assert.Equal(before + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        var r = sampler.Sample(d, x, sigmas, () => randn(new long[] { 1, 4, 16, 16 }, generator: gen), null, default);
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.True(after - before <= 1, $"{after - before} tensors left alive by 50 steps");
        r.Dispose();
        x.Dispose();
    }
}
