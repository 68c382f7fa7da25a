using Redraft.Diffusion.Sampling;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Sampling;

/// <summary>Heun, LMS, DPM2, DPM++ 2M (Karras), DPM++ 2M SDE and DPM++ SDE (Karras): names, behaviour, noise.</summary>
public class KSamplerTests(ITestOutputHelper output)
{
    private static readonly NoiseSchedule Sd = NoiseSchedule.ScaledLinear();

    public static readonly TheoryData<string> Names =
        ["Heun", "LMS", "DPM2", "DPM++ 2M", "DPM++ 2M Karras", "DPM++ 2M SDE", "DPM++ SDE Karras", "DPM++ SDE"];

    private static readonly string[] Stochastic = ["DPM++ 2M SDE", "DPM++ SDE Karras", "DPM++ SDE"];

    [Theory]
    [InlineData("Heun", "Heun")]
    [InlineData("k_heun", "Heun")]
    [InlineData("lms", "LMS")]
    [InlineData("k_lms", "LMS")]
    [InlineData("k_dpm_2", "DPM2")]
    [InlineData("dpm2", "DPM2")]
    [InlineData("dpm++ 2m", "DPM++ 2M")]
    [InlineData("k_dpmpp_2m", "DPM++ 2M")]
    [InlineData("DPM++ 2M Karras", "DPM++ 2M Karras")]
    [InlineData("k_dpmpp_2m_ka", "DPM++ 2M Karras")]
    [InlineData("dpmpp_2m_sde", "DPM++ 2M SDE")]
    [InlineData("k_dpmpp_2m_sde", "DPM++ 2M SDE")]
    [InlineData("DPM++ SDE Karras", "DPM++ SDE Karras")]
    [InlineData("k_dpmpp_sde_ka", "DPM++ SDE Karras")]
    [InlineData("k_dpmpp_sde", "DPM++ SDE")]
    [InlineData("DPM++ SDE", "DPM++ SDE")]
    public void Finds_by_name_or_alias(string query, string name) => Assert.Equal(name, SamplerRegistry.Get(query).Name);

    [Theory]
    [MemberData(nameof(Names))]
    public void Schedules_and_noise_scale(string name)
    {
        var s = SamplerRegistry.Get(name);
        Assert.Equal(name.Contains("Karras") ? ScheduleKind.Karras : ScheduleKind.Normal, s.DefaultSchedule);
        Assert.Equal(ISampler.KSamplerSchedules, s.SupportedSchedules);
        Assert.Equal(3.5, s.InitialNoiseScale(3.5));
        Assert.Equal(Stochastic.Contains(name), s is ISeededSampler);
        double[] sig = s.Sigmas(Sd, 12);
        Assert.Equal(13, sig.Length);
        Assert.Equal(0, sig[^1]);
        if (name != "DPM2") Assert.Equal(Schedules.Build(s.DefaultSchedule, Sd, 12), sig);
        Assert.Throws<RedraftInputException>(() => s.Sigmas(Sd, 12, ScheduleKind.Ddim));
    }

    [Fact]
    public void Dpm2_drops_the_next_to_last_sigma_as_a1111()
    {
        ISampler s = new Dpm2Sampler();
        foreach (var kind in new[] { ScheduleKind.Normal, ScheduleKind.Karras })
        {
            double[] full = Schedules.Build(kind, Sd, 11);
            double[] expected = [.. full.Take(10), 0.0];
            Assert.Equal(expected, s.Sigmas(Sd, 10, kind));
        }
    }

    [Fact]
    public void Lms_coefficients_integrate_the_lagrange_basis()
    {
        double[] t = [14.6, 9.7, 6.1, 3.3, 1.2, 0.4];
        Assert.Equal(t[1] - t[0], LmsSampler.Coefficient(1, t, 0, 0), 14);
        for (int i = 0; i < 5; i++)
        {
            int order = Math.Min(i + 1, 4);
            // the basis sums to 1, and Σ_j c_j·p(t[i−j]) = ∫ p for any polynomial p of degree < order
            double sum = Enumerable.Range(0, order).Sum(j => LmsSampler.Coefficient(order, t, i, j));
            Assert.Equal(t[i + 1] - t[i], sum, 12);
            Func<double, double> p = u => 2 * Math.Pow(u, order - 1) + 0.5;
            Func<double, double> integral = u => 2 * Math.Pow(u, order) / order + 0.5 * u;
            double quad = Enumerable.Range(0, order).Sum(j => LmsSampler.Coefficient(order, t, i, j) * p(t[i - j]));
            double exact = integral(t[i + 1]) - integral(t[i]);
            Assert.True(Math.Abs(quad - exact) <= 1e-11 * Math.Abs(exact), $"order {order}: {quad} vs {exact}");
        }
        // k-diffusion's 2-point coefficient in closed form: ∫ (τ − t1)/(t0 − t1) over [t1, t2]
        double c = LmsSampler.Coefficient(2, t, 1, 1);
        Assert.Equal((t[2] - t[1]) * (t[2] - t[1]) / 2 / (t[0] - t[1]), c, 12);
    }

    /// <summary>The exact posterior mean for data ~ N(μ, s²): E[x0 | x] = μ + (x − μ)·s²/(s² + σ²).</summary>
    private static Denoiser Gaussian(double mu, double s) => (x, sigma) => (x - mu) * (s * s / (s * s + sigma * sigma)) + mu;

    /// <remarks>
    /// On the Karras schedule at 30 steps. On the "normal" schedule at 30 steps the log-σ multistep methods are
    /// visibly off for this toy (its last steps are long in log σ: DPM++ 2M std ≈ 0.54, DPM++ 2M SDE ≈ 0.65,
    /// DPM2 ≈ 0.47 because A1111's dropped sigma makes its final Euler step start at σ ≈ 0.17) and converge as
    /// the steps grow; k-diffusion's formulas behave the same.
    /// </remarks>
    [Theory]
    [MemberData(nameof(Names))]
    public void Converges_on_a_gaussian(string name)
    {
        const double mu = 0.3, s = 0.5;
        var sampler = SamplerRegistry.Get(name);
        double[] sigmas = sampler.Sigmas(Sd, 30, ScheduleKind.Karras);
        using var scope = NewDisposeScope();
        long[] shape = [4, 4, 32, 32];
        var gen = new Generator(7);
        var eps = randn(shape, dtype: float64, generator: gen);
        var x = eps * Math.Sqrt(s * s + sigmas[0] * sigmas[0]) + mu;      // exact marginal at σ0
        if (sampler is ISeededSampler seeded) sampler = seeded.ForSeeds([11, 12, 13, 14]);
        var result = sampler.Sample(Gaussian(mu, s), x, sigmas, () => throw new InvalidOperationException("no stream noise with seeds"), null, default);
        double mean = result.mean().item<double>(), std = result.std().item<double>();
        // the probability-flow ODE maps x(σ0) to μ + (x − μ)·s/sqrt(s² + σ0²) exactly
        var ode = (x - mu) * (s / Math.Sqrt(s * s + sigmas[0] * sigmas[0])) + mu;
        double odeErr = (result - ode).abs().max().item<double>();
        output.WriteLine($"{name}: mean {mean:F4}, std {std:F4}, max |x − ODE solution| {odeErr:F4}");
        Assert.Equal(mu, mean, 0.02);
        Assert.Equal(s, std, 0.02);
        if (!Stochastic.Contains(name))
            Assert.True(odeErr < 0.02, $"{name} strays {odeErr} from the ODE solution");
        else
            Assert.True(odeErr > 0.1, "an SDE sampler should not follow the ODE");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Deterministic(string name)
    {
        var sampler = SamplerRegistry.Get(name);
        if (sampler is ISeededSampler seeded) sampler = seeded.ForSeeds([5, 6]);
        double[] sigmas = sampler.Sigmas(Sd, 8);
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 2, 4, 8, 8 }, generator: new Generator(1)) * sigmas[0];
        Denoiser d = (xx, sg) => (xx * 0.3).tanh();
        var a = sampler.Sample(d, x, sigmas, () => throw new InvalidOperationException(), null, default);
        var b = sampler.Sample(d, x, sigmas, () => throw new InvalidOperationException(), null, default);
        Assert.True(a.eq(b).all().item<bool>());
        if (Stochastic.Contains(name))
        {
            var other = ((ISeededSampler)SamplerRegistry.Get(name)).ForSeeds([5, 7]);
            var c = other.Sample(d, x, sigmas, () => throw new InvalidOperationException(), null, default);
            Assert.True(c[0].eq(a[0]).all().item<bool>(), "image 0 keeps its seed, so its result");
            Assert.False(c[1].eq(a[1]).all().item<bool>());
            // the batch does not matter: image 1 alone gives the same result
            var alone = ((ISeededSampler)SamplerRegistry.Get(name)).ForSeeds([6])
                .Sample(d, x[1..2], sigmas, () => throw new InvalidOperationException(), null, default);
            Assert.True(alone[0].allclose(a[1], rtol: 1e-5, atol: 1e-6));
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Reports_each_step_and_honours_cancellation(string name)
    {
        var sampler = SamplerRegistry.Get(name);
        double[] sigmas = sampler.Sigmas(Sd, 6);
        using var scope = NewDisposeScope();
        var gen = new Generator(0);
        var x = randn(new long[] { 1, 4, 8, 8 }, generator: gen) * sigmas[0];
        int draws = 0;
        Func<Tensor> noise = () => { draws++; return randn(new long[] { 1, 4, 8, 8 }, generator: gen); };
        Denoiser d = (xx, sg) => xx * 0.5;

        var seen = new List<SamplerStep>();
        var r = sampler.Sample(d, x, sigmas, noise, st => seen.Add(st with { Latent = null!, Denoised = null! }), default);
        Assert.Equal(Enumerable.Range(0, 6), seen.Select(st => st.Index));
        Assert.All(seen, st => Assert.Equal(6, st.Total));
        Assert.Equal(sigmas.Take(6), seen.Select(st => st.Sigma));
        Assert.NotSame(x, r);
        Assert.False(x.IsInvalid);
        // unseeded SDE samplers derive their tree seeds from one draw; the others draw nothing
        Assert.Equal(Stochastic.Contains(name) ? 1 : 0, draws);

        using var cts = new CancellationTokenSource();
        var steps = new List<int>();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            sampler.Sample(d, x, sigmas, noise, st => { steps.Add(st.Index); if (st.Index == 2) cts.Cancel(); }, cts.Token));
        Assert.Equal([0, 1, 2], steps);
        Assert.False(x.IsInvalid);

        var same = sampler.Sample(d, x, [sigmas[0]], noise, null, default);
        Assert.NotSame(x, same);
        Assert.True(same.eq(x).all().item<bool>());
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Step_temporaries_are_freed(string name)
    {
        var sampler = SamplerRegistry.Get(name);
        if (sampler is ISeededSampler seeded) sampler = seeded.ForSeeds([3]);
        double[] sigmas = sampler.Sigmas(Sd, 20);
        var x = randn(1, 4, 16, 16);
        Denoiser d = (xx, sg) => (xx * 0.5).tanh() * 2 - xx * 0.01;
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var r = sampler.Sample(d, x, sigmas, () => throw new InvalidOperationException(), null, default);
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.True(after - before <= 1, $"{after - before} tensors left alive by {name}");
        r.Dispose();
        x.Dispose();
    }

    [Fact]
    public void Seeded_samplers_check_the_batch()
    {
        var s = ((ISeededSampler)SamplerRegistry.Get("DPM++ 2M SDE")).ForSeeds([1, 2, 3]);
        Assert.Equal("DPM++ 2M SDE", s.Name);
        Assert.Null(((DpmPp2MSdeSampler)SamplerRegistry.Get("DPM++ 2M SDE")).Seeds);   // the registry's instance is unchanged
        using var scope = NewDisposeScope();
        var x = randn(2, 4, 8, 8);
        Assert.Throws<ArgumentException>(() => s.Sample((xx, sg) => xx * 0.5, x, s.Sigmas(Sd, 4), () => randn(2, 4, 8, 8), null, default));
        var k = ((ISeededSampler)new DpmPpSdeSampler(karras: true)).ForSeeds([1]);
        Assert.Equal("DPM++ SDE Karras", k.Name);
        Assert.Equal(ScheduleKind.Karras, k.DefaultSchedule);
    }

    // ---------------------------------------------------------------- Brownian tree

    private const double Lo = 0.0292, Hi = 14.6146;

    [Fact]
    public void Brownian_same_seed_same_noise_different_seed_different()
    {
        using var scope = NewDisposeScope();
        using var a = new BrownianTreeNoise([42, 43], [4, 8, 8], Lo, Hi);
        using var b = new BrownianTreeNoise([42, 44], [4, 8, 8], Lo, Hi);
        using var c = new BrownianTreeNoise([42], [4, 8, 8], Lo, Hi);
        var na = a.Noise(9.7, 6.1);
        var nb = b.Noise(9.7, 6.1);
        Assert.Equal(new long[] { 2, 4, 8, 8 }, na.shape);
        Assert.Equal(ScalarType.Float32, na.dtype);
        Assert.True(na[0].eq(nb[0]).all().item<bool>());
        Assert.False(na[1].eq(nb[1]).all().item<bool>());
        Assert.True(c.Noise(9.7, 6.1)[0].eq(na[0]).all().item<bool>(), "a row does not depend on the rest of the batch");
        Assert.False(na[0].eq(na[1]).all().item<bool>());
    }

    [Fact]
    public void Brownian_is_independent_of_query_order()
    {
        double[] points = [Hi, 11.2, 7.3, 5.0, 2.2, 0.9, 0.3, 0.1, Lo];
        using var scope = NewDisposeScope();
        using var forward = new BrownianTreeNoise([9], [4, 16, 16], Lo, Hi);
        using var backward = new BrownianTreeNoise([9], [4, 16, 16], Lo, Hi);
        var f = new Tensor[points.Length - 1];
        var g = new Tensor[points.Length - 1];
        for (int i = 0; i < f.Length; i++) f[i] = forward.Noise(points[i], points[i + 1]);
        for (int i = g.Length - 1; i >= 0; i--) g[i] = backward.Noise(points[i], points[i + 1]);
        // plus many unrelated queries in between, to churn the cache
        for (int k = 0; k < 40; k++) backward.Noise(Lo + 0.3 * k, Lo + 0.3 * k + 0.05);
        for (int i = 0; i < f.Length; i++)
        {
            Assert.True(f[i].eq(g[i]).all().item<bool>(), $"interval {i}");
            Assert.True(f[i].eq(backward.Noise(points[i], points[i + 1])).all().item<bool>(), $"interval {i} after churn");
            Assert.True(f[i].eq(-backward.Noise(points[i + 1], points[i])).all().item<bool>(), "reversed interval flips the sign");
        }
    }

    [Fact]
    public void Brownian_increments_are_standard_normal_independent_and_additive()
    {
        using var scope = NewDisposeScope();
        using var tree = new BrownianTreeNoise([1, 2, 3, 4], [4, 64, 64], Lo, Hi);
        double a = 8.1, b = 3.7, c = 0.45;
        var n1 = tree.Noise(a, b).to(float64);
        var n2 = tree.Noise(b, c).to(float64);
        var n13 = tree.Noise(a, c).to(float64);
        foreach (var n in new[] { n1, n2, n13 })
        {
            Assert.Equal(0, n.mean().item<double>(), 0.02);
            Assert.Equal(1, n.std().item<double>(), 0.02);
        }
        double corr = (n1 * n2).mean().item<double>();
        Assert.Equal(0, corr, 0.02);
        // W(c) − W(a) = (W(b) − W(a)) + (W(c) − W(b))
        var sum = n1 * Math.Sqrt(a - b) + n2 * Math.Sqrt(b - c);
        Assert.True((n13 * Math.Sqrt(a - c)).allclose(sum, rtol: 1e-4, atol: 1e-4));
        // correlation of overlapping increments: corr(W(a)−W(c), W(a)−W(b)) = sqrt((a−b)/(a−c))
        double overlap = (n13 * n1).mean().item<double>();
        Assert.Equal(Math.Sqrt((a - b) / (a - c)), overlap, 0.03);
        // endpoints: W(σ_min) = 0 and the full range is one N(0, σmax − σmin) draw
        Assert.True(tree.W(0, Lo).eq(0).all().item<bool>());
        Assert.Equal(Math.Sqrt(Hi - Lo), tree.W(0, Hi).std().item<float>(), 0.1);
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.Noise(Hi * 1.1, 1.0));
    }
}
