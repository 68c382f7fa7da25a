using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Pipelines;
using Redraft.Diffusion.Tools;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Pipelines;

/// <summary>
/// A model whose weights give NaN fails with a clear, user-facing error: never a black picture that looks like a result.
/// </summary>
public sealed class NonFiniteTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("redraft-nan-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>The tiny model with one weight whose name contains <paramref name="part"/> set to NaN.</summary>
    private string Poisoned(string part)
    {
        string clean = Path.Combine(_dir, "clean.safetensors"), poisoned = Path.Combine(_dir, $"poisoned-{part.Replace('.', '-')}.safetensors");
        RandomCheckpointWriter.Write(ModelPreset.Tiny, 2, clean, CheckpointLayout.SingleFile);
        using (var file = SafetensorsFile.Open(clean))
        {
            var tensors = file.Tensors.Keys.Select(k => KeyValuePair.Create(k, file.Load(k))).ToList();
            var target = tensors.First(t => t.Key.Contains(part, StringComparison.Ordinal) && t.Key.EndsWith(".weight", StringComparison.Ordinal));
            target.Value.fill_(float.NaN);
            SafetensorsWriter.Write(poisoned, tensors);
            foreach (var (_, t) in tensors) t.Dispose();
        }
        File.Copy(Path.ChangeExtension(clean, ".yaml"), Path.ChangeExtension(poisoned, ".yaml"));
        return poisoned;
    }

    private static GenerationRequest Request => new() { Prompt = "a lighthouse", Width = 64, Height = 64, Steps = 2, Seed = 1, Sampler = "Euler" };

    [SharedDataFact]
    public void ANanVaeDecoderFailsClearly()
    {
        using var model = StableDiffusionModel.Load(new ModelLoadOptions { ModelPath = Poisoned("first_stage_model.decoder.conv_out"), TokenizerPath = SharedData.ClipDir });
        var error = Assert.Throws<RedraftInputException>(() => new DiffusionPipeline(model).Generate(Request));
        Assert.Contains("the VAE decoded non-finite values", error.Message);
        Assert.Contains("--vae-dtype fp32", error.Message);
    }

    [SharedDataFact]
    public void ANanUNetFailsClearly()
    {
        using var model = StableDiffusionModel.Load(new ModelLoadOptions { ModelPath = Poisoned("model.diffusion_model.out.2"), TokenizerPath = SharedData.ClipDir });
        var error = Assert.Throws<RedraftInputException>(() => new DiffusionPipeline(model).Generate(Request));
        Assert.Contains("produced non-finite values", error.Message);
    }
}
