using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Networks;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Networks;

/// <summary>TAESD: key layout, loading of the real (BF16) weights, and the pipeline's image and latent conventions.</summary>
public sealed class TinyAutoencoderTests(ITestOutputHelper output)
{
    private static string TaesdDir => Path.Combine(SharedData.DataDir, "taesd");

    private static long Count(nn.Module m) => m.parameters().Sum(p => p.numel());

    /// <summary>
    /// A smooth 128×128 RGB test image in [-1, 1]: a different gradient in each channel, a filled disc and a
    /// filled rectangle, so every channel varies and the channels differ from each other.
    /// </summary>
    internal static Tensor TestImage(int size = 128)
    {
        using var scope = NewDisposeScope();
        var ramp = linspace(0.0, 1.0, size, dtype: float32);
        var yy = ramp.view(size, 1).expand(size, size);
        var xx = ramp.view(1, size).expand(size, size);
        var r = 0.15 + 0.7 * xx;
        var g = 0.15 + 0.7 * yy;
        var b = 0.5 + 0.35 * cos((xx - yy) * Math.PI);
        var disc = ((xx - 0.35).square() + (yy - 0.4).square()) < 0.04;
        r = where(disc, tensor(0.9f), r);
        g = where(disc, tensor(0.2f), g);
        b = where(disc, tensor(0.25f), b);
        var rect = (xx > 0.6) & (xx < 0.9) & (yy > 0.55) & (yy < 0.85);
        r = where(rect, tensor(0.1f), r);
        g = where(rect, tensor(0.45f), g);
        b = where(rect, tensor(0.85f), b);
        var image = stack([r, g, b]).unsqueeze(0) * 2.0 - 1.0;
        return image.contiguous().MoveToOuterDisposeScope();
    }

    private static double Psnr(Tensor a, Tensor b)
    {
        // On [0, 1] images: (a − b) in [-1, 1] units halves.
        double mse = ((a - b) / 2.0).square().mean().item<float>();
        return 10.0 * Math.Log10(1.0 / mse);
    }

    private static double Correlation(Tensor a, Tensor b)
    {
        var x = a.flatten() - a.mean();
        var y = b.flatten() - b.mean();
        return ((x * y).sum() / (x.norm() * y.norm())).item<float>();
    }

    [Fact]
    public void ModulesHaveTheWeightFilesKeysAndParameterCounts()
    {
        using var encoder = Layers.OnMeta(() => new TaesdEncoder());
        using var decoder = Layers.OnMeta(() => new TaesdDecoder());
        var e = encoder.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        var d = decoder.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        Assert.Equal(67, e.Count);
        Assert.Equal(67, d.Count);
        Assert.Equal([64, 3, 3, 3], e["0.weight"]);
        Assert.Equal([64, 64, 3, 3], e["1.conv.4.weight"]);
        Assert.Equal([64, 64, 3, 3], e["10.weight"]);
        Assert.DoesNotContain("10.bias", e.Keys);
        Assert.Equal([4, 64, 3, 3], e["14.weight"]);
        Assert.Equal([64, 4, 3, 3], d["1.weight"]);
        Assert.Equal([64], d["18.conv.2.bias"]);
        Assert.DoesNotContain("17.bias", d.Keys);
        Assert.Equal([3, 64, 3, 3], d["19.weight"]);
        Assert.Equal(1_222_532L, e.Values.Sum(s => s.Aggregate(1L, (x, y) => x * y)));
        Assert.Equal(1_222_531L, d.Values.Sum(s => s.Aggregate(1L, (x, y) => x * y)));
    }

    [SharedDataFact]
    public void RealWeightsLoadIntoFloat32WithTheUpstreamParameterCounts()
    {
        using var taesd = TinyAutoencoder.LoadFromFolder(TaesdDir);
        Assert.Equal(1_222_532L, Count(taesd.Encoder));
        Assert.Equal(1_222_531L, Count(taesd.Decoder));
        Assert.All(taesd.Encoder.parameters().Concat(taesd.Decoder.parameters()), p =>
        {
            Assert.Equal(ScalarType.Float32, p.dtype);
            Assert.Equal(DeviceType.CPU, p.device_type);
        });
        // Every tensor of each file is used: the module's names are exactly the file's keys.
        using var encFile = SafetensorsFile.Open(Path.Combine(TaesdDir, TinyAutoencoder.EncoderFileName));
        using var decFile = SafetensorsFile.Open(Path.Combine(TaesdDir, TinyAutoencoder.DecoderFileName));
        Assert.Equal(encFile.Tensors.Keys.Order(), taesd.Encoder.named_parameters().Select(p => p.name).Order());
        Assert.Equal(decFile.Tensors.Keys.Order(), taesd.Decoder.named_parameters().Select(p => p.name).Order());
        // The BF16 values are widened exactly (spot check: encoder 0.weight lies in [-0.25, 0.26], per PROVENANCE).
        var w = taesd.Encoder.named_parameters().Single(p => p.name == "0.weight").parameter;
        Assert.InRange(w.min().item<float>(), -0.27f, -0.2f);
        Assert.InRange(w.max().item<float>(), 0.2f, 0.27f);
    }

    [SharedDataFact]
    public void EncodeThenDecodeReconstructsASmoothImageInTheSameChannelOrderAndRange()
    {
        using var taesd = TinyAutoencoder.LoadFromFolder(TaesdDir);
        using var scope = NewDisposeScope();
        var image = TestImage();
        var latent = taesd.Encode(image);
        Assert.Equal([1, 4, 16, 16], latent.shape);
        var decoded = taesd.Decode(latent);
        Assert.Equal(image.shape, decoded.shape);
        Assert.True(decoded.min().item<float>() >= -1f && decoded.max().item<float>() <= 1f);

        double psnr = Psnr(decoded, image);
        var correlations = Enumerable.Range(0, 3).Select(c => Correlation(decoded[0, c], image[0, c])).ToArray();
        // Measured: 29.1 dB, correlations 0.990/0.994/0.991, R-vs-B -0.48. Crossed channels correlate far less, so a
        // swapped R and B would fail the per-channel check.
        double crossed = Correlation(decoded[0, 0], image[0, 2]);
        output.WriteLine($"PSNR {psnr:F2} dB; per-channel correlation R {correlations[0]:F4} G {correlations[1]:F4} B {correlations[2]:F4}; R-vs-B {crossed:F4}");
        Assert.True(psnr >= 27.0, $"PSNR {psnr:F2} dB");
        Assert.All(correlations, c => Assert.True(c > 0.97, $"correlation {c:F4}"));
        Assert.True(crossed < 0.5, $"R-vs-B correlation {crossed:F4}");
    }

    [SharedDataFact]
    public void LatentsHaveTheScaleOfStableDiffusionsScaledLatents()
    {
        using var taesd = TinyAutoencoder.LoadFromFolder(TaesdDir);
        using var scope = NewDisposeScope();
        var latent = taesd.Encode(TestImage());
        double std = latent.std().item<float>(), mean = latent.mean().item<float>();
        double min = latent.min().item<float>(), max = latent.max().item<float>();
        var channelMeans = latent.mean([0L, 2L, 3L]).data<float>().ToArray();
        output.WriteLine($"latent mean {mean:F4} std {std:F4} min {min:F4} max {max:F4}; channel means {string.Join(", ", channelMeans.Select(v => v.ToString("F3")))}");
        Assert.InRange(std, 0.5, 1.5);
        Assert.InRange(min, -4.0, 0.0);
        Assert.InRange(max, 0.0, 4.0);
        // Measured: mean 0.074, std 0.975, range [-2.30, 2.69]. Unscaled latents (÷0.18215) would have a std about
        // 5.5× larger, far outside the range above.
    }
}
