using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Tools;

namespace Redraft.Diffusion.Tests.Pipelines;

/// <summary>Shape-based detection, the YAML beside the file, and --config.</summary>
[Collection(TinyModelCollection.Name)]
public sealed class ModelConfigTests(TinyModelFixture tiny)
{
    [Fact]
    public void DetectionFromShapesRecoversTheArchitecture()
    {
        using var source = new SingleFileWeightSource(SafetensorsFile.Open(tiny.SingleFile));
        var detected = ModelDetector.Detect(source);
        var preset = ModelPreset.Tiny.Description;
        Assert.Equal(preset.UNet.ChannelMult, detected.UNet.ChannelMult);
        Assert.Equal(preset.UNet.AttentionResolutions, detected.UNet.AttentionResolutions);
        Assert.Equal(preset.UNet.NumResBlocks, detected.UNet.NumResBlocks);
        Assert.Equal(preset.UNet.ModelChannels, detected.UNet.ModelChannels);
        Assert.Equal(preset.UNet.ContextDim, detected.UNet.ContextDim);
        Assert.Equal(preset.Vae.ChannelMult, detected.Vae.ChannelMult);
        Assert.Equal(preset.Vae.Channels, detected.Vae.Channels);
        Assert.Equal(preset.Text, detected.Text);
        // Head counts are not visible in shapes: detection assumes SD 1.x's 8, which is why tiny models carry a YAML.
        Assert.Equal(8, detected.UNet.NumHeads);
    }

    [Fact]
    public void YamlRoundTripsThroughTheOriginalFormat()
    {
        var yaml = Path.ChangeExtension(tiny.SingleFile, ".yaml");
        var text = File.ReadAllText(yaml);
        Assert.Contains("unet_config:", text);
        Assert.Contains("target: ldm.models.autoencoder.AutoencoderKL", text);
        var read = LdmYamlConfig.Read(yaml, ModelPreset.Tiny.Description.Text);
        var preset = ModelPreset.Tiny.Description;
        Assert.Equal(preset.UNet.NumHeads, read.UNet.NumHeads);
        Assert.Equal(preset.UNet.ChannelMult, read.UNet.ChannelMult);
        Assert.Equal(preset.Vae.ScaleFactor, read.Vae.ScaleFactor);
        Assert.Equal(preset.LinearStart, read.LinearStart);
    }

    [SharedDataFact]
    public void ExplicitConfigOverridesDetectionAndBrokenConfigsAreClearErrors()
    {
        var dir = Directory.CreateTempSubdirectory("redraft-cfg-").FullName;
        try
        {
            var copy = Path.Combine(dir, "model.safetensors");
            File.Copy(tiny.SingleFile, copy);
            var config = Path.Combine(dir, "elsewhere.yaml");
            File.Copy(Path.ChangeExtension(tiny.SingleFile, ".yaml"), config);
            using (var model = LoadWithConfig(copy, config))
                Assert.Equal(2, model.Description.UNet.NumHeads);

            File.WriteAllText(config, "model: [1, 2");
            var error = Assert.ThrowsAny<RedraftInputException>(() => LoadWithConfig(copy, config).Dispose());
            Assert.Contains("YAML", error.Message);
            File.WriteAllText(config, "something: else\n");
            error = Assert.ThrowsAny<RedraftInputException>(() => LoadWithConfig(copy, config).Dispose());
            Assert.Contains("model", error.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static Redraft.Diffusion.Pipelines.StableDiffusionModel LoadWithConfig(string model, string config) =>
        Redraft.Diffusion.Pipelines.StableDiffusionModel.Load(new Redraft.Diffusion.Pipelines.ModelLoadOptions
        {
            ModelPath = model,
            ConfigPath = config,
            TokenizerPath = SharedData.ClipDir,
        });
}
