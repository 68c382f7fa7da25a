using Redraft.Diffusion.Pipelines;

namespace Redraft.Diffusion.Tests.Pipelines;

/// <summary>--vae taesd and live previews through the real pipeline, with the real TAESD weights from shared/.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class TaesdPipelineTests(TinyModelFixture tiny)
{
    private StableDiffusionModel Load(string? vae, bool previews) => StableDiffusionModel.Load(new ModelLoadOptions
    {
        ModelPath = tiny.SingleFile,
        TokenizerPath = SharedData.ClipDir,
        VaePath = vae,
        LoadPreviewDecoder = previews,
        TaesdFolder = Path.Combine(SharedData.DataDir, "taesd"),
    });

    private static ImagePixels Picture()
    {
        var rgb = new byte[128 * 128 * 3];
        for (int y = 0; y < 128; y++)
            for (int x = 0; x < 128; x++)
            {
                int i = (y * 128 + x) * 3;
                bool sun = (x - 95) * (x - 95) + (y - 30) * (y - 30) < 15 * 15;
                rgb[i] = (byte)(sun ? 250 : y > 80 ? 60 : 120 + y / 2);
                rgb[i + 1] = (byte)(sun ? 210 : y > 80 ? 150 : 170 + y / 4);
                rgb[i + 2] = (byte)(sun ? 40 : y > 80 ? 50 : 235);
            }
        return new ImagePixels(128, 128, rgb);
    }

    [SharedDataFact]
    public void TaesdAsVaeRoundTripsAPictureAtStrengthZero()
    {
        using var model = Load("taesd", previews: false);
        var picture = Picture();
        var request = new GenerationRequest { Prompt = "x", Width = 128, Height = 128, Steps = 4, Seed = 1, InitImage = picture, Strength = 0 };
        var result = new DiffusionPipeline(model).Generate(request).Images.Single().Image;
        double mse = result.Rgb.Zip(picture.Rgb, (a, b) => (double)(a - b) * (a - b)).Average();
        double psnr = 10 * Math.Log10(255.0 * 255.0 / mse);
        Assert.True(psnr > 25, $"PSNR {psnr:F1} dB");
        Assert.Equal("taesd", model.VaeName);
    }

    [SharedDataFact]
    public void PreviewsArriveEveryKStepsAndDoNotChangeTheResult()
    {
        using var model = Load(null, previews: true);
        var request = new GenerationRequest { Prompt = "a lake", Width = 64, Height = 64, Steps = 6, Seed = 4, Sampler = "Euler" };
        var previews = new List<(int Step, ImagePixels Image)>();
        var progress = new Inline(p => { if (p.Preview is { } image) previews.Add((p.Step, image)); });
        var withPreviews = new DiffusionPipeline(model).Generate(request with { PreviewEvery = 2 }, progress).Images.Single();
        var without = new DiffusionPipeline(model).Generate(request).Images.Single();

        Assert.Equal([2, 4, 6], previews.Select(p => p.Step));
        Assert.All(previews, p => Assert.Equal((64, 64), (p.Image.Width, p.Image.Height)));
        Assert.Equal(without.Image.Rgb, withPreviews.Image.Rgb);
    }

    private sealed class Inline(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }
}
