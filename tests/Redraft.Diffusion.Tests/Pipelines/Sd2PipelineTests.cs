using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Networks;
using Redraft.Diffusion.Pipelines;
using Redraft.Diffusion.Tools;

namespace Redraft.Diffusion.Tests.Pipelines;

/// <summary>SD 2.x through the real loader and pipeline, on the tiny-sd2 preset in both layouts.</summary>
[Collection(TinySd2Collection.Name)]
public sealed class Sd2PipelineTests(TinySd2Fixture tiny)
{
    private static GenerationRequest Request(long seed = 42) => new()
    {
        Prompt = "a lighthouse on a cliff at dusk, (dramatic sky:1.2)",
        NegativePrompt = "blurry",
        Width = 64,
        Height = 64,
        Steps = 3,
        CfgScale = 7.5,
        Sampler = "Euler",
        Seed = seed,
    };

    private static ImagePixels Sketch()
    {
        var rgb = new byte[64 * 64 * 3];
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
            {
                int i = (y * 64 + x) * 3;
                bool inSquare = Math.Abs(x - 30) < 14 && Math.Abs(y - 34) < 12;
                rgb[i] = (byte)(inSquare ? 30 : 60 + x * 2);
                rgb[i + 1] = (byte)(inSquare ? 200 : 100);
                rgb[i + 2] = (byte)(inSquare ? 90 : 220 - y * 2);
            }
        return new ImagePixels(64, 64, rgb);
    }

    private static double StdDev(byte[] values)
    {
        double mean = values.Average(b => (double)b);
        return Math.Sqrt(values.Average(b => (b - mean) * (b - mean)));
    }

    [Fact]
    public void DetectionFromShapesRecognisesSd2()
    {
        using var source = new SingleFileWeightSource(SafetensorsFile.Open(tiny.SingleFile));
        var detected = ModelDetector.Detect(source);
        var preset = ModelPreset.TinySd2.Description;
        Assert.Equal("sd2", detected.Family);
        Assert.Equal(0, detected.PadToken);
        Assert.Equal(preset.Text, detected.Text);
        Assert.Equal(TextEncoderLayout.OpenClip, detected.Text.Layout);
        Assert.Equal(1, detected.Text.SkipLastLayers);
        Assert.False(detected.Text.QuickGelu);
        Assert.True(detected.UNet.UseLinearInTransformer);
        Assert.Equal(preset.UNet.ContextDim, detected.UNet.ContextDim);
        Assert.Equal(preset.UNet.ChannelMult, detected.UNet.ChannelMult);
        Assert.Equal(preset.UNet.AttentionResolutions, detected.UNet.AttentionResolutions);
        Assert.Equal(preset.UNet.ModelChannels, detected.UNet.ModelChannels);
        // Channels per head are not visible in shapes: detection assumes SD 2.x's 64 (the tiny model's 16 is in its YAML).
        Assert.Equal(64, detected.UNet.NumHeadChannels);
        Assert.Equal(PredictionType.Epsilon, detected.Prediction);

        var yaml = LdmYamlConfig.Read(Path.ChangeExtension(tiny.SingleFile, ".yaml"), detected.Text);
        Assert.Equal("sd2", yaml.Family);
        Assert.Equal(0, yaml.PadToken);
        Assert.Equal(16, yaml.UNet.NumHeadChannels);
        Assert.True(yaml.UNet.UseLinearInTransformer);
        Assert.Equal(1, yaml.Text.SkipLastLayers);
    }

    [Fact]
    public void DiffusersFolderHoldsTheTowerAsClipTextModelWithoutItsLastLayer()
    {
        var (description, weights) = DiffusersFolder.Open(tiny.DiffusersFolder);
        using (weights)
        {
            Assert.Equal("sd2", description.Family);
            Assert.Equal(0, description.PadToken);
            Assert.Equal(TextEncoderLayout.HuggingFace, description.Text.Layout);
            Assert.Equal(1, description.Text.Layers);
            Assert.Equal(0, description.Text.SkipLastLayers);
            Assert.False(description.Text.QuickGelu);
            Assert.Equal(16, description.UNet.NumHeadChannels);
            Assert.True(description.UNet.UseLinearInTransformer);
            Assert.NotNull(weights.ShapeOf("cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight"));
            Assert.Null(weights.ShapeOf("cond_stage_model.transformer.text_model.encoder.layers.1.self_attn.q_proj.weight"));
        }
    }

    [SharedDataFact]
    public void LoadsTheOpenClipTowerFromASingleFile()
    {
        Assert.IsType<OpenClipTextModel>(tiny.Model.TextEncoder);
        Assert.Equal(64, tiny.Model.TextEncoder.Width);
        Assert.Equal(0, tiny.Model.Description.PadToken);
        Assert.Equal(16, tiny.Model.Description.UNet.NumHeadChannels);
    }

    [SharedDataFact]
    public void Txt2ImgIsDeterministicAndSeedSensitive()
    {
        var pipeline = new DiffusionPipeline(tiny.Model);
        var first = pipeline.Generate(Request()).Images.Single();
        var again = pipeline.Generate(Request()).Images.Single();
        var other = pipeline.Generate(Request(seed: 43)).Images.Single();
        Assert.Equal(first.Image.Rgb, again.Image.Rgb);
        Assert.NotEqual(first.Image.Rgb, other.Image.Rgb);
        Assert.InRange(StdDev(first.Image.Rgb), 3.0, 120.0);
        Assert.True(first.Image.Rgb.Count(b => b is 0 or 255) < first.Image.Rgb.Length / 2, "most pixels are saturated");
    }

    [SharedDataFact]
    public void Img2ImgIsDeterministicAndDriftsWithStrength()
    {
        var pipeline = new DiffusionPipeline(tiny.Model);
        var sketch = Sketch();
        ImagePixels At(double strength, long seed = 42) =>
            pipeline.Generate(Request(seed) with { InitImage = sketch, Strength = strength, Steps = 10 }).Images.Single().Image;
        var roundTrip = At(0.0);
        double Distance(ImagePixels a) => a.Rgb.Zip(roundTrip.Rgb, (p, q) => Math.Abs(p - q)).Average();
        var low = At(0.3);
        var high = At(1.0);
        Assert.Equal(low.Rgb, At(0.3).Rgb);
        Assert.NotEqual(low.Rgb, At(0.3, seed: 43).Rgb);
        Assert.True(Distance(low) < Distance(high), $"0.3 → {Distance(low):F2}, 1.0 → {Distance(high):F2}");
    }

    [SharedDataFact]
    public void SingleFileAndDiffusersLayoutsGiveIdenticalImages()
    {
        // The single file runs OpenCLIP's 2 blocks minus the last; the diffusers folder runs a 1-layer CLIPTextModel
        // converted through OpenClipKeyMap (fused in_proj split into q/k/v). Same numbers prove the mapping.
        using var diffusers = tiny.Load(tiny.DiffusersFolder);
        Assert.IsType<ClipTextModel>(diffusers.TextEncoder);
        var a = new DiffusionPipeline(tiny.Model).Generate(Request()).Images.Single();
        var b = new DiffusionPipeline(diffusers).Generate(Request()).Images.Single();
        Assert.Equal(a.Image.Rgb, b.Image.Rgb);
    }

    [SharedDataFact]
    public void VPredictionFromTheYamlChangesTheImage()
    {
        var dir = Directory.CreateTempSubdirectory("redraft-sd2v-").FullName;
        try
        {
            var copy = Path.Combine(dir, "v-model.safetensors");
            File.Copy(tiny.SingleFile, copy);
            File.WriteAllText(Path.ChangeExtension(copy, ".yaml"),
                LdmYamlWriter.Format(ModelPreset.TinySd2.Description with { Prediction = PredictionType.V }));
            using var vModel = tiny.Load(copy);
            Assert.Equal(PredictionType.V, vModel.Description.Prediction);
            var eps = new DiffusionPipeline(tiny.Model).Generate(Request()).Images.Single();
            var v = new DiffusionPipeline(vModel).Generate(Request()).Images.Single();
            var vAgain = new DiffusionPipeline(vModel).Generate(Request()).Images.Single();
            Assert.Equal(v.Image.Rgb, vAgain.Image.Rgb);
            Assert.NotEqual(eps.Image.Rgb, v.Image.Rgb);
            // The request-level override gives the same as the YAML.
            var overridden = new DiffusionPipeline(tiny.Model).Generate(Request() with { Prediction = PredictionType.V }).Images.Single();
            Assert.Equal(v.Image.Rgb, overridden.Image.Rgb);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
