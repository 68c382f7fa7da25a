using Redraft.Diffusion.Pipelines;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Pipelines;

/// <summary>
/// The bf16 UNet and VAE paths against the fp32 reference path on the same tiny checkpoint. Measured: UNet forward
/// relative L2 1.0e-2; VAE decode 1.2e-2, encode mean 1.2e-2, std 3.6e-3; asserted below 0.02.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class PrecisionTests(TinyModelFixture tiny, ITestOutputHelper output)
{
    /// <summary>The tiny checkpoint again, with the given UNet and VAE precisions.</summary>
    private StableDiffusionModel Load(string unet, string vae) => StableDiffusionModel.Load(new ModelLoadOptions
    {
        ModelPath = tiny.SingleFile,
        TokenizerPath = SharedData.ClipDir,
        DType = unet,
        VaeDType = vae,
    });

    [SharedDataFact]
    public void Bf16UNetForwardStaysCloseToFp32()
    {
        using var bf16 = Load(unet: "bf16", vae: "fp32");
        Assert.Equal(ScalarType.BFloat16, bf16.UNet.ComputeDType);
        Assert.Equal(ScalarType.Float32, tiny.Model.UNet.ComputeDType);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = new Generator(11);
        var x = randn(new long[] { 2, 4, 8, 8 }, generator: generator);
        var context = randn(new long[] { 2, 77, 64 }, generator: generator);
        var t = tensor(new float[] { 500f, 37.5f });
        var reference = tiny.Model.UNet.Forward(x, t, context);
        var fast = bf16.UNet.Forward(x, t, context);
        Assert.Equal(ScalarType.Float32, fast.dtype);
        double relative = ((fast - reference).norm() / reference.norm()).item<float>();
        output.WriteLine($"UNet forward relative L2 error bf16 vs fp32: {relative:E3}");
        Assert.True(relative < 0.02, $"relative L2 error {relative}");
    }

    /// <summary>Mean and largest absolute pixel difference (0–255) of the same 64² txt2img on the fp32 model and on <paramref name="other"/>.</summary>
    private (double Mean, int Max) Txt2ImgDifferenceFromFp32(StableDiffusionModel other)
    {
        var request = new GenerationRequest { Prompt = "a red fox in the snow", Width = 64, Height = 64, Steps = 8, Sampler = "Euler", Seed = 42 };
        var a = new DiffusionPipeline(tiny.Model).Generate(request).Images.Single().Image.Rgb;
        var b = new DiffusionPipeline(other).Generate(request).Images.Single().Image.Rgb;
        var differences = a.Zip(b, (p, q) => Math.Abs(p - q)).ToList();
        return (differences.Average(), differences.Max());
    }

    [SharedDataFact]
    public void Bf16Txt2ImgDiffersFromFp32BySmallPixelAmounts()
    {
        using var bf16 = Load(unet: "bf16", vae: "fp32");
        var (mean, max) = Txt2ImgDifferenceFromFp32(bf16);
        output.WriteLine($"txt2img 64x64, 8 Euler steps: mean |Δ| = {mean:F3}, max |Δ| = {max} (0–255)");
        // Measured here: mean 0.08, max 1; the bound leaves room for other CPUs' bf16 kernels.
        Assert.True(mean < 0.5, $"mean absolute pixel difference {mean}");
    }

    [SharedDataFact]
    public void Bf16VaeEncodesAndDecodesCloseToFp32()
    {
        using var bf16 = Load(unet: "fp32", vae: "bf16");
        Assert.Equal(ScalarType.BFloat16, bf16.VaeDType);
        Assert.Equal(ScalarType.BFloat16, bf16.Vae.ComputeDType);
        Assert.Equal(ScalarType.Float32, bf16.UNetDType);
        Assert.Equal(ScalarType.Float32, tiny.Model.Vae.ComputeDType);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = new Generator(13);
        var latent = randn(new long[] { 1, 4, 16, 16 }, generator: generator);
        var reference = tiny.Model.Vae.Decode(latent);
        var fast = bf16.Vae.Decode(latent);
        Assert.Equal(ScalarType.Float32, fast.dtype);
        Assert.Equal(reference.shape, fast.shape);
        double decodeError = ((fast - reference).norm() / reference.norm()).item<float>();

        var image = rand(new long[] { 1, 3, 128, 128 }, generator: generator) * 2 - 1;
        var (referenceMean, referenceStd) = tiny.Model.Vae.Encode(image);
        var (fastMean, fastStd) = bf16.Vae.Encode(image);
        Assert.Equal(ScalarType.Float32, fastMean.dtype);
        double encodeError = ((fastMean - referenceMean).norm() / referenceMean.norm()).item<float>();
        double stdError = ((fastStd - referenceStd).norm() / referenceStd.norm()).item<float>();
        output.WriteLine($"VAE bf16 vs fp32 relative L2: decode {decodeError:E3}, encode mean {encodeError:E3}, std {stdError:E3}");
        Assert.True(decodeError < 0.02, $"decode relative L2 error {decodeError}");
        Assert.True(encodeError < 0.02, $"encode relative L2 error {encodeError}");
        Assert.True(stdError < 0.02, $"std relative L2 error {stdError}");
    }

    [SharedDataFact]
    public void Bf16VaeTxt2ImgDiffersFromFp32BySmallPixelAmounts()
    {
        using var bf16 = Load(unet: "fp32", vae: "bf16");
        var (mean, max) = Txt2ImgDifferenceFromFp32(bf16);
        output.WriteLine($"txt2img 64x64 with a bf16 VAE: mean |Δ| = {mean:F3}, max |Δ| = {max} (0–255)");
        // Measured here: mean 0.50, max 3 (random weights amplify rounding more than a trained VAE would).
        Assert.True(mean < 1.0, $"mean absolute pixel difference {mean}");
    }

    [SharedDataFact]
    public void UnknownVaeDTypeIsRefusedWithTheValidNames()
    {
        var error = Assert.Throws<RedraftInputException>(() => StableDiffusionModel.Load(new ModelLoadOptions
        {
            ModelPath = tiny.SingleFile,
            TokenizerPath = SharedData.ClipDir,
            VaeDType = "fp8",
        }));
        Assert.Contains("auto, bf16, fp32", error.Message);
    }
}
