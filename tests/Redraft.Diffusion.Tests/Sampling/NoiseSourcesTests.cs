using System.Text.Json;
using Redraft.Diffusion.Sampling;
using TorchSharp;

namespace Redraft.Diffusion.Tests.Sampling;

/// <summary>
/// <see cref="NoiseSources"/> and <see cref="CpuNoiseSource"/>: the CPU source must reproduce PyTorch's
/// <c>torch.manual_seed(s); torch.randn(...)</c> values recorded in shared/oracles/torch_randn_facts.json.
/// </summary>
public class NoiseSourcesTests
{
    [Theory]
    [InlineData("cpu", typeof(CpuNoiseSource))]
    [InlineData("nv", typeof(PhiloxNormalSource))]
    [InlineData(" NV ", typeof(PhiloxNormalSource))]
    [InlineData("CPU", typeof(CpuNoiseSource))]
    public void Create_returns_the_named_kind(string kind, Type expected)
    {
        using var source = NoiseSources.Create(kind, 1);
        Assert.IsType(expected, source);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("")]
    [InlineData(null)]
    public void Unknown_kinds_are_input_errors_listing_the_valid_ones(string? kind)
    {
        var e = Assert.Throws<RedraftInputException>(() => NoiseSources.Create(kind!, 1));
        Assert.Contains("cpu", e.Message);
        Assert.Contains("nv", e.Message);
    }

    [Fact]
    public void Nv_kind_draws_the_Philox_stream()
    {
        using var source = NoiseSources.Create("nv", 0);
        using var t = source.Randn([1]);
        // A1111 rng_philox.py docstring, seed 0: first value -0.92466259 (8 printed decimals; see PhiloxNormalSourceTests).
        Assert.Equal(-0.92466259, t.data<float>()[0], 1e-6);
    }

    [OracleFact]
    public void Cpu_source_reproduces_manual_seed0_randn_1x4x64x64()
    {
        var c = Case("seed0_randn_1x4x64x64");
        using var source = NoiseSources.Create("cpu", 0);
        using var t = source.Randn([1, 4, 64, 64]);
        Assert.Equal(torch.float32, t.dtype);
        Check(c, t.data<float>().ToArray());
    }

    [OracleFact]
    public void Cpu_source_continues_its_stream_like_one_generator()
    {
        // Draw 2 of shape 1x4x32x32 after draw 1 of the same shape, seed 42 (img2img order).
        var c = Case("seed42_second_randn_1x4x32x32");
        using var source = new CpuNoiseSource(42);
        source.Randn([1, 4, 32, 32]).Dispose();
        using var second = source.Randn([1, 4, 32, 32]);
        Check(c, second.data<float>().ToArray());
    }

    private static JsonElement Case(string prefix)
    {
        using var doc = OracleData.Load("torch_randn_facts.json");
        foreach (var p in doc.RootElement.GetProperty("cases").EnumerateObject())
            if (p.Name.StartsWith(prefix, StringComparison.Ordinal))
                return p.Value.Clone();
        throw new InvalidOperationException($"No case {prefix} in torch_randn_facts.json");
    }

    private static void Check(JsonElement c, float[] values)
    {
        var first5Hex = c.GetProperty("first5_f32_le_hex").EnumerateArray().Select(e => e.GetString()).ToArray();
        var actualHex = values.Take(5).Select(v => Convert.ToHexString(BitConverter.GetBytes(v)).ToLowerInvariant()).ToArray();
        Assert.Equal(first5Hex, actualHex);
        var last5 = c.GetProperty("last5").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
        Assert.Equal(last5, values.Skip(values.Length - 5).ToArray());
        Assert.Equal(c.GetProperty("sum_f64").GetDouble(), values.Sum(v => (double)v), 1e-9);
    }
}
