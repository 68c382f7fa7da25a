using System.Text.Json;
using Redraft.Diffusion.Sampling;
using TorchSharp;
using Xunit.Abstractions;
using static Redraft.Diffusion.Tests.Sampling.DiffusersLoopAdapter;

namespace Redraft.Diffusion.Tests.Sampling;

/// <summary>
/// diffusers' DDIM, EulerDiscrete and EulerAncestralDiscrete full-loop tests, re-run with our samplers
/// through <see cref="DiffusersLoopAdapter"/>; expected numbers and tolerances come from
/// shared/oracles/diffusers_scheduler_full_loops.json.
/// </summary>
public partial class DiffusersFullLoopTests(ITestOutputHelper output)
{
    private sealed record OracleCase(JsonElement BaseConfig, JsonElement Overrides, int Steps, double Sum, double SumTol, double Mean, double MeanTol, bool HasSum);

    private static OracleCase Case(string scheduler, string test)
    {
        using var doc = OracleData.Load("diffusers_scheduler_full_loops.json");
        var s = doc.RootElement.GetProperty("schedulers").GetProperty(scheduler);
        foreach (var c in s.GetProperty("cases").EnumerateArray())
        {
            if (c.GetProperty("test").GetString() != test) continue;
            var e = c.GetProperty("expected");
            bool hasSum = e.TryGetProperty("sum_abs", out var sum);
            return new OracleCase(
                s.GetProperty("base_config").Clone(), c.GetProperty("config_overrides").Clone(),
                c.TryGetProperty("num_inference_steps", out var n) ? n.GetInt32() : 10,
                hasSum ? sum.GetDouble() : 0, hasSum ? e.GetProperty("sum_abs_tol").GetDouble() : 0,
                e.GetProperty("mean_abs").GetDouble(), e.GetProperty("mean_abs_tol").GetDouble(), hasSum);
        }
        throw new Xunit.Sdk.XunitException($"{scheduler}.{test} not in the oracle file");
    }

    private static JsonElement? Config(OracleCase c, string key)
    {
        if (c.Overrides.TryGetProperty(key, out var v)) return v;
        if (c.BaseConfig.TryGetProperty(key, out v)) return v;
        return null;
    }

    private static NoiseSchedule ScheduleOf(OracleCase c)
    {
        int n = Config(c, "num_train_timesteps")!.Value.GetInt32();
        double b0 = Config(c, "beta_start")!.Value.GetDouble(), b1 = Config(c, "beta_end")!.Value.GetDouble();
        string kind = Config(c, "beta_schedule")!.Value.GetString()!;
        return kind switch
        {
            "linear" => NoiseSchedule.Linear(n, b0, b1),
            "scaled_linear" => NoiseSchedule.ScaledLinear(n, b0, b1),
            _ => throw new NotSupportedException(kind),
        };
    }

    private static bool Flag(OracleCase c, string key, bool dflt) => Config(c, key) is { } v ? v.GetBoolean() : dflt;
    private static string Str(OracleCase c, string key, string dflt) => Config(c, key) is { } v ? v.GetString()! : dflt;

    private void AssertMetrics(string label, OracleCase c, torch.Tensor result)
    {
        var (sum, mean) = Metrics(result);
        output.WriteLine($"{label}: sum_abs {sum:R} (expected {c.Sum} ± {c.SumTol}), mean_abs {mean:R} (expected {c.Mean} ± {c.MeanTol})");
        if (c.HasSum)
            Assert.True(Math.Abs(sum - c.Sum) < c.SumTol, $"{label}: sum_abs {sum:R}, expected {c.Sum} ± {c.SumTol}");
        Assert.True(Math.Abs(mean - c.Mean) < c.MeanTol, $"{label}: mean_abs {mean:R}, expected {c.Mean} ± {c.MeanTol}");
    }

    [OracleTheory]
    [InlineData("test_full_loop_no_noise")]
    [InlineData("test_full_loop_with_v_prediction")]
    [InlineData("test_full_loop_with_set_alpha_to_one")]
    [InlineData("test_full_loop_with_no_set_alpha_to_one")]
    [InlineData("test_full_loop_with_noise")]
    public void Ddim(string test)
    {
        var c = Case("DDIMScheduler", test);
        var schedule = ScheduleOf(c);
        bool v = Str(c, "prediction_type", "epsilon") == "v_prediction";
        bool setOne = Flag(c, "set_alpha_to_one", true);
        bool clip = Flag(c, "clip_sample", true);

        using var scope = torch.NewDisposeScope();
        var sample = DummySample();
        int startIndex = 0;
        if (test == "test_full_loop_with_noise")
        {
            // timesteps[8:] = [100, 0]; the sample is noised to t = 100 first.
            startIndex = 8;
            int t0 = Schedules.DdimLeadingTimesteps(schedule.TrainSteps, c.Steps, offset: 0)[startIndex];
            Assert.Equal(100, t0);
            sample = AddNoiseDdpm(schedule, sample, DummyNoise(), t0);
        }
        var result = RunDdim(schedule, c.Steps, setOne, v, clip, startIndex, sample, out long clipped);
        output.WriteLine($"clip_sample clamped {clipped} elements");
        AssertMetrics($"DDIM {test}", c, result);
    }

    [OracleTheory]
    [InlineData("EulerDiscreteScheduler", "test_full_loop_no_noise")]
    [InlineData("EulerDiscreteScheduler", "test_full_loop_with_v_prediction")]
    [InlineData("EulerDiscreteScheduler", "test_full_loop_device")]
    [InlineData("EulerDiscreteScheduler", "test_full_loop_device_karras_sigmas")]
    [InlineData("EulerDiscreteScheduler", "test_full_loop_with_noise")]
    [InlineData("EulerAncestralDiscreteScheduler", "test_full_loop_no_noise")]
    [InlineData("EulerAncestralDiscreteScheduler", "test_full_loop_with_v_prediction")]
    [InlineData("EulerAncestralDiscreteScheduler", "test_full_loop_device")]
    [InlineData("EulerAncestralDiscreteScheduler", "test_full_loop_with_noise")]
    public void Euler(string scheduler, string test)
    {
        var c = Case(scheduler, test);
        var schedule = ScheduleOf(c);
        bool v = Str(c, "prediction_type", "epsilon") == "v_prediction";
        bool karras = Flag(c, "use_karras_sigmas", false);
        ISampler sampler = scheduler == "EulerDiscreteScheduler" ? new EulerSampler() : new EulerAncestralSampler();

        var sched = DiffusersEulerSchedule(schedule, c.Steps, karras);
        var gen = new torch.Generator(0);   // torch.manual_seed(0), seeded once after set_timesteps
        torch.Tensor NextNoise() => torch.randn([B, C, H, W], dtype: torch.float32, generator: gen);

        using var scope = torch.NewDisposeScope();
        double initNoiseSigma = (float)sched.Sigmas.Max();               // sigmas.max() ("linspace" spacing)
        var x = DummySample() * initNoiseSigma;
        int startIndex = 0;
        if (test == "test_full_loop_with_noise")
        {
            startIndex = sched.Timesteps.Length - 2;                       // timesteps[8:]
            x = x + DummyNoise() * sched.Sigmas[startIndex];               // add_noise: x + noise·σ
        }
        var result = RunEulerQuirk(sampler, sched, startIndex, x, v, NextNoise);
        AssertMetrics($"{scheduler} {test}", c, result);
    }
}
