using Redraft.Diffusion.Pipelines;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Pipelines;

/// <summary>
/// A1111's resize mode 3, "just resize (latent upscale)": the init image is encoded at its own size and the latent
/// resized bilinearly to the working size.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class LatentUpscaleTests(TinyModelFixture tiny)
{
    private static GenerationRequest Request(ImagePixels init) => new()
    {
        Prompt = "a cottage by a lake",
        Width = 64,
        Height = 64,
        Steps = 4,
        CfgScale = 6,
        Sampler = "Euler",
        Seed = 42,
        InitImage = init,
        ResizeInitLatent = true,
    };

    private static ImagePixels Sketch(int width, int height)
    {
        var rgb = new byte[width * height * 3];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 7 % 251);
        return new ImagePixels(width, height, rgb);
    }

    [SharedDataFact]
    public void StrengthZero_DecodesTheEncodedInitResizedBilinearly()
    {
        var init = Sketch(128, 96);
        var result = new DiffusionPipeline(tiny.Model).Generate(Request(init) with { Strength = 0 }).Images.Single().Image;
        Assert.Equal((64, 64), (result.Width, result.Height));
        Assert.Equal(Expected(init, seed: 42), result.Rgb);
    }

    [SharedDataFact]
    public void Sampling_RunsFromTheResizedLatent_AndAMaskIsRefused()
    {
        var pipeline = new DiffusionPipeline(tiny.Model);
        var a = pipeline.Generate(Request(Sketch(128, 96)) with { Strength = 0.6 }).Images.Single().Image;
        var b = pipeline.Generate(Request(Sketch(128, 96)) with { Strength = 0.6 }).Images.Single().Image;
        Assert.Equal((64, 64), (a.Width, a.Height));
        Assert.Equal(a.Rgb, b.Rgb);
        var mask = new MaskPixels(128, 96, new byte[128 * 96]);
        var error = Assert.Throws<RedraftInputException>(() => pipeline.Generate(Request(Sketch(128, 96)) with
        {
            Inpaint = new InpaintOptions { Mask = mask },
        }));
        Assert.Contains("without a mask", error.Message);
    }

    /// <summary>encode at the init's size → posterior sample (the image generator's first draw) → bilinear resize → decode, written out directly.</summary>
    private byte[] Expected(ImagePixels image, long seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var vae = tiny.Model.Vae;
        var pixels = tensor(image.Rgb, dtype: ScalarType.Byte).reshape(image.Height, image.Width, 3).permute(2, 0, 1).unsqueeze(0).to(ScalarType.Float32) / 127.5 - 1.0;
        var (mean, std) = vae.Encode(pixels);
        int factor = tiny.Model.Description.Vae.DownscaleFactor;
        Assert.Equal([image.Height / factor, image.Width / factor], mean.shape[2..]);
        using var generator = new Generator((ulong)seed);
        double scale = tiny.Model.Description.Vae.ScaleFactor;
        var latent = scale * (mean + std * randn(mean.shape, generator: generator));
        var resized = nn.functional.interpolate(latent, [64 / factor, 64 / factor], mode: InterpolationMode.Bilinear, align_corners: false);
        var decoded = vae.Decode(resized / scale);
        var bytes = ((decoded.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(ScalarType.Byte)[0].permute(1, 2, 0).contiguous();
        return bytes.data<byte>().ToArray();
    }
}
