using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Pipelines;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Checkpoints;

/// <summary>
/// LoRAs on SD 2.x single files, whose OpenCLIP tower fuses q, k and v into one weight: a LoRA written with the
/// Hugging Face names (as kohya trains SD 2.x) must change the fused weight's row blocks exactly as it changes the
/// separate projections of the same model in the diffusers layout, and taking it out must restore every bit.
/// </summary>
[Collection(TinySd2Collection.Name)]
public sealed class Sd2LoraTests(TinySd2Fixture tiny) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("redraft-sd2-lora-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static GenerationRequest Request() => new()
    {
        Prompt = "a lighthouse on a cliff at dusk",
        NegativePrompt = "blurry",
        Width = 64,
        Height = 64,
        Steps = 3,
        Sampler = "Euler",
        Seed = 5,
    };

    /// <summary>Rank-2 updates for every text projection of block 0 (q, k, v, out, fc1, fc2) and one UNet projection.</summary>
    private string WriteLora(StableDiffusionModel model)
    {
        var path = Path.Combine(_dir, "sd2.safetensors");
        using var generator = new Generator(11);
        var modules = new List<LoraWeights>();
        void Add(string ldmKey, long outFeatures, long inFeatures) => modules.Add(new LoraWeights(ldmKey,
            randn([2, inFeatures], generator: generator) * 0.3f, randn([outFeatures, 2], generator: generator) * 0.3f, 2));
        int width = model.Description.Text.Width, hidden = model.Description.Text.IntermediateSize;
        const string T = "cond_stage_model.transformer.text_model.encoder.layers.0.";
        foreach (var projection in new[] { "q_proj", "k_proj", "v_proj", "out_proj" }) Add($"{T}self_attn.{projection}.weight", width, width);
        Add($"{T}mlp.fc1.weight", hidden, width);
        Add($"{T}mlp.fc2.weight", width, hidden);
        var toQ = model.UNet.named_parameters().First(p => p.name == "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight").parameter;
        Add("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight", toQ.shape[0], toQ.shape[1]);
        LoraWriter.Write(path, modules, LoraNaming.Kohya, model.Description.UNet.NumResBlocks);
        return path;
    }

    [SharedDataFact]
    public void AnSd2SingleFileTakesTheLoraAsItsDiffusersFolderDoesAndGivesItBack()
    {
        using var single = tiny.Load(tiny.SingleFile);
        using var diffusers = tiny.Load(tiny.DiffusersFolder);
        var lora = WriteLora(diffusers);
        byte[] Generate(StableDiffusionModel model) => new DiffusionPipeline(model).Generate(Request()).Images.Single().Image.Rgb;

        var plain = Generate(single);
        byte[] singleWith, diffusersWith;
        using (AppliedLoras.Apply(single, [new LoraSpec(lora, 0.9)])) singleWith = Generate(single);
        using (AppliedLoras.Apply(diffusers, [new LoraSpec(lora, 0.9)])) diffusersWith = Generate(diffusers);

        Assert.NotEqual(plain, singleWith);
        Assert.Equal(diffusersWith, singleWith);
        Assert.Equal(plain, Generate(single));
        Assert.Equal(plain, Generate(diffusers));
    }
}
