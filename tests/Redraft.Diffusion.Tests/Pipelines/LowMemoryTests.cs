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
    public void LorasMergeAsEachNetworkLoadsAndLeaveWithTheirNetworks()
    {
        using var low = LoadLowMemory(tiny.SingleFile);
        using var normal = tiny.Load(tiny.SingleFile);
        var lora = Path.Combine(Path.GetTempPath(), $"redraft-low-lora-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var generator = new TorchSharp.torch.Generator(4))
                LoraWriter.Write(lora, [new LoraWeights("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight",
                    TorchSharp.torch.randn(new long[] { 4, 32 }, generator: generator), TorchSharp.torch.randn(new long[] { 32, 4 }, generator: generator), 4)],
                    LoraNaming.Kohya, unetResBlocks: 1);
            var request = new GenerationRequest { Prompt = "a red roof", Width = 64, Height = 64, Steps = 2, Seed = 3 };
            byte[] Run(StableDiffusionModel m) => new DiffusionPipeline(m).Generate(request).Images[0].Image.Rgb;
            var plain = Run(low);
            byte[] merged, expected;
            using (var applied = AppliedLoras.Apply(low, [new LoraSpec(lora, 0.5)]))
            {
                Assert.Equal((false, false, false), low.Loaded);
                merged = Run(low);
                // Only one list at a time, as with a model in memory.
                Assert.Throws<InvalidOperationException>(() => AppliedLoras.Apply(low, [new LoraSpec(lora, 1)]));
                _ = low.UNet; // a network still loaded when the LoRAs go …
            }
            Assert.Equal((false, false, false), low.Loaded); // … is freed with them
            using (AppliedLoras.Apply(normal, [new LoraSpec(lora, 0.5)])) expected = Run(normal);
            Assert.Equal(expected, merged);
            Assert.NotEqual(plain, merged);
            Assert.Equal(plain, Run(low));
            var missing = Assert.Throws<CheckpointFormatException>(() =>
            {
                using var bad = AppliedLoras.Apply(low, [new LoraSpec(tiny.SingleFile, 1)]);
                Run(low);
            });
            Assert.Contains("not a LoRA file", missing.Message);
        }
        finally
        {
            File.Delete(lora);
        }
    }
}
