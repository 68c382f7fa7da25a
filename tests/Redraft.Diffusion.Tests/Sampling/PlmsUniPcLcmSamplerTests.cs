using Redraft.Diffusion.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Sampling;

/// <summary>Behaviour of PLMS, UniPC and LCM: registry, convergence on a Gaussian toy problem, determinism, progress, cancellation.</summary>
public class PlmsUniPcLcmSamplerTests
{
    private static readonly NoiseSchedule Sd = NoiseSchedule.ScaledLinear();
    private const double Mu = 0.3, S = 0.5;

    /// <summary>Exact posterior mean for data ~ N(μ, s²) and x = x0 + σ·z: E[x0 | x] = (s²·x + σ²·μ)/(s² + σ²).</summary>
    private static Tensor Posterior(Tensor x, double sigma) => (x * (S * S) + sigma * sigma * Mu) / (S * S + sigma * sigma);

    /// <summary>Probability-flow ODE solution for that data: x(σ) = μ + (x(σ0) − μ)·sqrt(s² + σ²)/sqrt(s² + σ0²).</summary>
    private static Tensor OdeSolution(Tensor start, double sigma0, double sigma)
        => (start - Mu) * (Math.Sqrt(S * S + sigma * sigma) / Math.Sqrt(S * S + sigma0 * sigma0)) + Mu;

    private static double MaxRelError(Tensor actual, Tensor expected, Tensor start)
        => (actual - expected).abs().max().item<double>() / (start - Mu).abs().max().item<double>();

    [Theory]
    [InlineData("PLMS", "PLMS")]
    [InlineData("plms", "PLMS")]
    [InlineData("UniPC", "UniPC")]
    [InlineData("unipc", "UniPC")]
    [InlineData("uni_pc", "UniPC")]
    [InlineData("LCM", "LCM")]
    [InlineData("lcm", "LCM")]
    [InlineData("k_lcm", "LCM")]
    public void Registered_by_name_and_alias(string query, string name) => Assert.Equal(name, SamplerRegistry.Get(query).Name);

    [Fact]
    public void Schedules_and_initial_noise()
    {
        ISampler plms = new PlmsSampler(), unipc = new UniPcSampler(), lcm = new LcmSampler();
        Assert.Equal(ScheduleKind.Ddim, plms.DefaultSchedule);
        Assert.Equal(new[] { ScheduleKind.Ddim }, plms.SupportedSchedules);
        Assert.Throws<RedraftInputException>(() => plms.Sigmas(Sd, 10, ScheduleKind.Karras));
        Assert.Equal(Schedules.DdimLeading(Sd, 10), plms.Sigmas(Sd, 10));
        // UniPC's default is AUTOMATIC1111's grid (VP time, CompVis step count); it still accepts the sigma schedules.
        Assert.Equal(ScheduleKind.TimeUniform, unipc.DefaultSchedule);
        Assert.Equal(Schedules.UniPcTimeUniform(Sd, 10), unipc.Sigmas(Sd, 10));
        Assert.Throws<RedraftInputException>(() => plms.Sigmas(Sd, 10, ScheduleKind.TimeUniform));
        Assert.Throws<RedraftInputException>(() => lcm.Sigmas(Sd, 10, ScheduleKind.TimeUniform));
        Assert.Equal(ScheduleKind.Normal, lcm.DefaultSchedule);
        foreach (var k in ISampler.KSamplerSchedules)
        {
            Assert.Contains(k, unipc.SupportedSchedules);
            Assert.Contains(k, lcm.SupportedSchedules);
        }
        Assert.Equal(Math.Sqrt(14.6 * 14.6 + 1), plms.InitialNoiseScale(14.6));
        Assert.Equal(Math.Sqrt(14.6 * 14.6 + 1), unipc.InitialNoiseScale(14.6));
        Assert.Equal(14.6, lcm.InitialNoiseScale(14.6));
        Assert.Equal(UniPcVariant.Bh1, new UniPcSampler().Variant);
        Assert.Equal(3, new UniPcSampler().Order);
        Assert.True(new UniPcSampler().LowerOrderFinal);
        Assert.Throws<RedraftInputException>(() => new UniPcSampler { Order = 0 });
    }

    [Theory]
    [InlineData(10, 3e-3)]
    [InlineData(20, 1e-3)]
    public void Plms_follows_the_ode(int steps, double tol)
    {
        var sampler = new PlmsSampler();
        double[] sigmas = ((ISampler)sampler).Sigmas(Sd, steps);
        using var scope = NewDisposeScope();
        var start = randn(new long[] { 2, 4, 8, 8 }, dtype: float64, generator: new Generator(1)) * sigmas[0] + Mu;
        var result = sampler.Sample(Posterior, start, sigmas, () => throw new InvalidOperationException(), null, default);
        var expected = OdeSolution(start, sigmas[0], sigmas[^1]);
        double plmsErr = MaxRelError(result, expected, start);
        var euler = new DdimSampler().Sample(Posterior, start, sigmas, () => throw new InvalidOperationException(), null, default);
        double ddimErr = MaxRelError(euler, expected, start);
        Assert.True(plmsErr < tol, $"PLMS relative error {plmsErr}");
        Assert.True(plmsErr < ddimErr / 3, $"PLMS {plmsErr} vs DDIM {ddimErr}");
    }

    [Fact]
    public void Plms_first_step_is_pseudo_improved_euler_then_adams_bashforth()
    {
        // Check the combination against the original formulas, written out, for a nonlinear toy denoiser.
        double[] sigmas = Schedules.DdimLeading(Sd, 6);
        Denoiser d = (x, s) => (x * (0.4 / (1 + 0.1 * s))).tanh();
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 1, 4, 4, 4 }, dtype: float64, generator: new Generator(2)) * sigmas[0];

        var cur = x;
        var old = new List<Tensor>();
        for (int i = 0; i < 6; i++)
        {
            double s = sigmas[i], n = sigmas[i + 1];
            var e = (cur - d(cur, s)) / s;
            Tensor ep = old.Count switch
            {
                0 => (e + (cur + e * (n - s) - d(cur + e * (n - s), n)) / n) / 2,
                1 => (3 * e - old[^1]) / 2,
                2 => (23 * e - 16 * old[^1] + 5 * old[^2]) / 12,
                _ => (55 * e - 59 * old[^1] + 37 * old[^2] - 9 * old[^3]) / 24,
            };
            cur = cur + ep * (n - s);
            old.Add(e);
        }
        int calls = 0;
        var ours = new PlmsSampler().Sample((xx, ss) => { calls++; return d(xx, ss); }, x, sigmas, () => throw new InvalidOperationException(), null, default);
        Assert.Equal(7, calls);                          // twice on the first step
        Assert.True(ours.allclose(cur, rtol: 1e-12, atol: 1e-12));
    }

    [Theory]
    [InlineData("Bh1", ScheduleKind.Karras, 20, 2e-4)]
    [InlineData("Bh2", ScheduleKind.Karras, 20, 2e-4)]
    [InlineData("Bh1", ScheduleKind.Exponential, 20, 2e-4)]
    [InlineData("Bh1", ScheduleKind.Normal, 30, 1e-2)]
    [InlineData("Bh2", ScheduleKind.Normal, 30, 5e-3)]
    [InlineData("Bh1", ScheduleKind.TimeUniform, 20, 5e-3)]
    public void UniPc_converges_to_the_data(string variantName, ScheduleKind kind, int steps, double tol)
    {
        var variant = Enum.Parse<UniPcVariant>(variantName);
        // Schedules ending at σ = 0 end with a first-order step from σ_min, landing on the exact posterior mean there
        // (the ODE limit up to O(σ_min²)). The "normal" schedule's last steps are huge in λ (σ ≈ 0.3 → 0.03 → 0), which
        // costs a multistep method more than Euler on this toy problem; the other schedules show the order.
        var sampler = new UniPcSampler { Variant = variant };
        double[] sigmas = ((ISampler)sampler).Sigmas(Sd, steps, kind);
        using var scope = NewDisposeScope();
        var start = randn(new long[] { 2, 4, 8, 8 }, dtype: float64, generator: new Generator(3)) * sigmas[0] + Mu;
        var result = sampler.Sample(Posterior, start, sigmas, () => throw new InvalidOperationException(), null, default);
        // time_uniform stops at σ(ᾱ_0), as A1111's UniPC does; the others end at 0.
        double err = MaxRelError(result, OdeSolution(start, sigmas[0], sigmas[^1]), start);
        Assert.True(err < tol, $"relative error {err}");
    }

    [Theory]
    [InlineData("Bh1", 1)]
    [InlineData("Bh1", 2)]
    [InlineData("Bh2", 2)]
    [InlineData("Bh1", 3)]
    [InlineData("Bh2", 3)]
    [InlineData("Bh1", 4)]
    public void UniPc_order_p_converges_with_order_p_plus_1(string variantName, int order)
    {
        var variant = Enum.Parse<UniPcVariant>(variantName);
        // UniPC's corrector raises the predictor's order p to p + 1 (Zhao et al. 2023). Steps uniform in λ from 14.6 to
        // 0.03 (no step to 0, no lower-order final steps); the error against the exact ODE solution must shrink by
        // about 2^(p+1) when the steps double.
        const double sMax = 14.6, sMin = 0.03;
        var sampler = new UniPcSampler { Variant = variant, Order = order, LowerOrderFinal = false };
        double Error(int n)
        {
            double[] sig = Enumerable.Range(0, n + 1).Select(i => Math.Exp(Math.Log(sMax) + (Math.Log(sMin) - Math.Log(sMax)) * i / n)).ToArray();
            using var scope = NewDisposeScope();
            var start = randn(new long[] { 1, 4, 8, 8 }, dtype: float64, generator: new Generator(4)) * sMax + Mu;
            var r = sampler.Sample(Posterior, start, sig, () => throw new InvalidOperationException(), null, default);
            return MaxRelError(r, OdeSolution(start, sMax, sMin), start);
        }
        double e20 = Error(20), e40 = Error(40), e80 = Error(80);
        double observed = (Math.Log2(e20 / e40) + Math.Log2(e40 / e80)) / 2;
        Assert.True(observed > order + 0.3, $"order {order}: errors {e20:E2}, {e40:E2}, {e80:E2}; observed order {observed:F2}");
    }

    [Fact]
    public void UniPc_calls_the_model_once_per_step()
    {
        var sampler = new UniPcSampler();
        double[] sigmas = ((ISampler)sampler).Sigmas(Sd, 8);
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 1, 4, 8, 8 }, generator: new Generator(5)) * sigmas[0];
        int calls = 0;
        sampler.Sample((xx, s) => { calls++; return Posterior(xx, s); }, x, sigmas, () => throw new InvalidOperationException(), null, default);
        Assert.Equal(8, calls);
        // fewer steps than the order
        calls = 0;
        var r = sampler.Sample((xx, s) => { calls++; return Posterior(xx, s); }, x, ((ISampler)sampler).Sigmas(Sd, 2), () => throw new InvalidOperationException(), null, default);
        Assert.Equal(2, calls);
        Assert.False(r.isnan().any().item<bool>());
    }

    [Fact]
    public void Lcm_gives_the_predicted_mean_and_variance()
    {
        // x ← D(x, σ_i) + σ_{i+1}·z with the exact posterior mean D = a·x + (1 − a)·μ, a = s²/(s² + σ²):
        // the mean stays μ and the variance follows v' = a²·v + σ_{i+1}² (no noise after the last step).
        double[] sigmas = ((ISampler)new LcmSampler()).Sigmas(Sd, 4);
        long[] shape = [1, 4, 128, 128];
        var gen = new Generator(6);
        using var scope = NewDisposeScope();
        var start = randn(shape, dtype: float64, generator: gen) * Math.Sqrt(S * S + sigmas[0] * sigmas[0]) + Mu;
        int draws = 0;
        var result = new LcmSampler().Sample(Posterior, start, sigmas, () => { draws++; return randn(shape, dtype: float64, generator: gen); }, null, default);
        Assert.Equal(3, draws);
        double v = S * S + sigmas[0] * sigmas[0];
        for (int i = 0; i < sigmas.Length - 1; i++)
        {
            double a = S * S / (S * S + sigmas[i] * sigmas[i]);
            v = a * a * v + sigmas[i + 1] * sigmas[i + 1];
        }
        Assert.Equal(Mu, result.mean().item<double>(), 0.01);
        Assert.Equal(Math.Sqrt(v), result.std().item<double>(), 0.01);
        // (≈ 0.21 here, not the data's 0.5: with a posterior-mean denoiser LCM shrinks the spread — it is meant for
        // consistency models, whose output is a sample-like point, not a mean.)
    }

    [Fact]
    public void Lcm_one_step_is_the_denoised_estimate()
    {
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 1, 4, 8, 8 }, generator: new Generator(7)) * 14.6;
        var r = new LcmSampler().Sample(Posterior, x, [14.6, 0], () => throw new InvalidOperationException(), null, default);
        Assert.True(r.allclose(Posterior(x, 14.6)));
        Assert.False(x.IsInvalid);
    }

    public static TheoryData<string, int> CallsBeforeCancel => new()
    {
        { "PLMS", 4 },    // first step runs the model twice
        { "UniPC", 4 },   // first step: start point + corrector; then one corrector per step
        { "LCM", 3 },
    };

    [Theory]
    [MemberData(nameof(CallsBeforeCancel))]
    public void Reports_each_step_is_deterministic_and_honours_cancellation(string name, int callsAfterThreeSteps)
    {
        var sampler = SamplerRegistry.Get(name);
        double[] sigmas = sampler.Sigmas(Sd, 6);
        long[] shape = [1, 4, 8, 8];
        using var scope = NewDisposeScope();
        var x = randn(shape, generator: new Generator(0)) * sampler.InitialNoiseScale(sigmas[0]);
        Denoiser d = (xx, sg) => (xx * 0.5).tanh();

        Tensor Run(Action<SamplerStep>? onStep, CancellationToken ct, Denoiser? den = null)
        {
            var gen = new Generator(42);
            return sampler.Sample(den ?? d, x, sigmas, () => randn(shape, generator: gen), onStep, ct);
        }

        var seen = new List<SamplerStep>();
        var r1 = Run(st => seen.Add(st with { Latent = null!, Denoised = null! }), default);
        // PLMS and UniPC run as many steps as the CompVis timesteps: 6 does not divide 1000, so 7 steps.
        int stepCount = sigmas.Length - 1;
        Assert.Equal(name is "PLMS" or "UniPC" ? 7 : 6, stepCount);
        Assert.Equal(Enumerable.Range(0, stepCount), seen.Select(st => st.Index));
        Assert.All(seen, st => Assert.Equal(stepCount, st.Total));
        Assert.Equal(sigmas.Take(stepCount), seen.Select(st => st.Sigma));
        var r2 = Run(null, default);
        Assert.True(r1.eq(r2).all().item<bool>(), "same inputs and seed give the same result");
        Assert.NotSame(x, r1);
        Assert.False(x.IsInvalid);

        using var cts = new CancellationTokenSource();
        int calls = 0;
        Assert.ThrowsAny<OperationCanceledException>(() =>
            Run(st => { if (st.Index == 2) cts.Cancel(); }, cts.Token, (xx, sg) => { calls++; return d(xx, sg); }));
        Assert.Equal(callsAfterThreeSteps, calls);
        Assert.False(x.IsInvalid);

        var same = sampler.Sample(d, x, [sigmas[0]], () => throw new InvalidOperationException(), null, default);
        Assert.NotSame(x, same);
        Assert.True(same.eq(x).all().item<bool>());
    }

    [Theory]
    [InlineData("PLMS")]
    [InlineData("UniPC")]
    [InlineData("LCM")]
    public void Step_temporaries_and_history_are_freed(string name)
    {
        var sampler = SamplerRegistry.Get(name);
        double[] sigmas = sampler.Sigmas(Sd, 20);
        var x = randn(1, 4, 16, 16);
        var gen = new Generator(0);
        Denoiser d = (xx, sg) => (xx * 0.5).tanh() * 2 - xx * 0.01;

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var r = sampler.Sample(d, x, sigmas, () => randn(new long[] { 1, 4, 16, 16 }, generator: gen), null, default);
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.True(after - before <= 1, $"{after - before} tensors left alive by 20 steps");
        r.Dispose();

        // cancelled midway: the history is freed too
        using var cts = new CancellationTokenSource();
        before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.ThrowsAny<OperationCanceledException>(() =>
            sampler.Sample(d, x, sigmas, () => randn(new long[] { 1, 4, 16, 16 }, generator: gen), st => { if (st.Index == 10) cts.Cancel(); }, cts.Token));
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        x.Dispose();
    }
}
