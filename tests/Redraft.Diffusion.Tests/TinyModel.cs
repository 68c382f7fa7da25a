using Redraft.Diffusion.Pipelines;
using Redraft.Diffusion.Tools;

namespace Redraft.Diffusion.Tests;

/// <summary>
/// A preset written once per test run with seeded random weights, in both layouts, through the same writer and
/// loader as real checkpoints. Tests that run it need the CLIP vocabulary from shared/.
/// </summary>
public abstract class PresetModelFixture : IDisposable
{
    public const ulong Seed = 7;
    internal ModelPreset Preset { get; }
    public string Folder { get; }
    public string SingleFile { get; }
    public string DiffusersFolder { get; }

    private readonly Lazy<StableDiffusionModel> model;

    private protected PresetModelFixture(ModelPreset preset)
    {
        Preset = preset;
        Folder = Directory.CreateTempSubdirectory($"redraft-{preset.Name}-").FullName;
        SingleFile = Path.Combine(Folder, $"{preset.Name}.safetensors");
        DiffusersFolder = Path.Combine(Folder, $"{preset.Name}-diffusers");
        RandomCheckpointWriter.Write(preset, Seed, SingleFile, CheckpointLayout.SingleFile);
        RandomCheckpointWriter.Write(preset, Seed, DiffusersFolder, CheckpointLayout.Diffusers);
        model = new Lazy<StableDiffusionModel>(() => Load(SingleFile));
    }

    /// <summary>The single-file model, loaded once and shared.</summary>
    public StableDiffusionModel Model => model.Value;

    public StableDiffusionModel Load(string path, string? vae = null, string? config = null) => StableDiffusionModel.Load(new ModelLoadOptions
    {
        ModelPath = path,
        VaePath = vae,
        ConfigPath = config,
        TokenizerPath = SharedData.ClipDir,
    });

    public void Dispose()
    {
        if (model.IsValueCreated) model.Value.Dispose();
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}

/// <summary>The tiny SD 1.x-shaped preset.</summary>
public sealed class TinyModelFixture() : PresetModelFixture(ModelPreset.Tiny);

/// <summary>The tiny SD 2.x-shaped preset (OpenCLIP text tower, linear projections, channels per head).</summary>
public sealed class TinySd2Fixture() : PresetModelFixture(ModelPreset.TinySd2);

[CollectionDefinition(Name)]
public sealed class TinyModelCollection : ICollectionFixture<TinyModelFixture>
{
    public const string Name = "tiny model";
}

[CollectionDefinition(Name)]
public sealed class TinySd2Collection : ICollectionFixture<TinySd2Fixture>
{
    public const string Name = "tiny sd2 model";
}
