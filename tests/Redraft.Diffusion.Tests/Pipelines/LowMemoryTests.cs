using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Pipelines;

namespace Redraft.Diffusion.Tests.Pipelines;

/// <summary><c>--low-memory</c>: components load when needed and are freed after their part, with the same pixels.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class LowMemoryTests(TinyModelFixture tiny)
{
    private StableDiffusionModel LoadLowMemory(string path) => StableDiffusionModel.Load(new ModelLoadOptions
    {
        ModelPath = path,
        TokenizerPath = SharedData.ClipDir,
        LowMemory = true,
    });

    private static GenerationRequest Request(bool img2img) => new()
    {
        Prompt = "a lighthouse at dusk",
        NegativePrompt = "blurry",
        Width = 64,
        Height = 64,
        Steps = 3,
        Seed = 5,
        InitImage = img2img ? new ImagePixels(64, 64, Enumerable.Range(0, 64 * 64 * 3).Select(i => (byte)(i * 7 % 251)).ToArray()) : null,
        Strength = 0.7,
    };

    [SharedDataTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void GivesTheSamePixelsAndHoldsNoNetworkBetweenGenerations(bool img2img)
    {
        var expected = new DiffusionPipeline(tiny.Model).Generate(Request(img2img)).Images.Single();
        using var low = LoadLowMemory(tiny.SingleFile);
        Assert.True(low.LowMemory);
        Assert.Equal((false, false, false), low.Loaded);
        var pipeline = new DiffusionPipeline(low);
        for (int run = 0; run < 2; run++)
        {
            var image = pipeline.Generate(Request(img2img)).Images.Single();
            Assert.Equal(expected.Image.Rgb, image.Image.Rgb);
            Assert.Equal((false, false, false), low.Loaded);
        }
        // The full model keeps everything in memory.
        Assert.Equal((true, true, true), tiny.Model.Loaded);
    }

    [SharedDataFact]
    public void DiffusersFoldersLoadOnDemandToo()
    {
        using var low = LoadLowMemory(tiny.DiffusersFolder);
        var image = new DiffusionPipeline(low).Generate(Request(false)).Images.Single();
        Assert.Equal(new DiffusionPipeline(tiny.Model).Generate(Request(false)).Images.Single().Image.Rgb, image.Image.Rgb);
    }

    [SharedDataFact]
    public void LorasAreRefusedWithAClearMessage()
    {
        using var low = LoadLowMemory(tiny.SingleFile);
        var error = Assert.Throws<RedraftInputException>(() => AppliedLoras.Apply(low, [new LoraSpec("/nonexistent.safetensors", 1)]));
        Assert.Contains("--low-memory", error.Message);
    }
}
