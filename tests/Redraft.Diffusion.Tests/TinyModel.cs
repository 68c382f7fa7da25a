using Redraft.Diffusion.Pipelines;
using Redraft.Diffusion.Tools;

namespace Redraft.Diffusion.Tests;

/// <summary>
/// The tiny preset written once per test run with seeded random weights, in both layouts, through the same
/// writer and loader as real checkpoints. Tests that run it need the CLIP vocabulary from shared/.
/// </summary>
public sealed class TinyModelFixture : IDisposable
{
    public const ulong Seed = 7;
    public string Folder { get; } = Directory.CreateTempSubdirectory("redraft-tiny-").FullName;
    public string SingleFile => Path.Combine(Folder, "tiny.safetensors");
    public string DiffusersFolder => Path.Combine(Folder, "tiny-diffusers");

    private readonly Lazy<StableDiffusionModel> model;

    public TinyModelFixture()
    {
        RandomCheckpointWriter.Write(ModelPreset.Tiny, Seed, SingleFile, CheckpointLayout.SingleFile);
        RandomCheckpointWriter.Write(ModelPreset.Tiny, Seed, DiffusersFolder, CheckpointLayout.Diffusers);
        model = new Lazy<StableDiffusionModel>(() => Load(SingleFile));
    }

    /// <summary>The single-file tiny model, loaded once and shared.</summary>
    public StableDiffusionModel Model => model.Value;

    public StableDiffusionModel Load(string path, string? vae = null) => StableDiffusionModel.Load(new ModelLoadOptions
    {
        ModelPath = path,
        VaePath = vae,
        TokenizerPath = SharedData.ClipDir,
    });

    public void Dispose()
    {
        if (model.IsValueCreated) model.Value.Dispose();
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class TinyModelCollection : ICollectionFixture<TinyModelFixture>
{
    public const string Name = "tiny model";
}
