using System.Text.Json.Nodes;
using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tools;

/// <summary>On-disk layouts a checkpoint can be written in.</summary>
internal enum CheckpointLayout { SingleFile, Diffusers }

/// <summary>
/// Writes a checkpoint with seeded random weights in a real layout, for tests and benchmarks. Weights are drawn in
/// key order from one generator, so a seed gives the same tensors in every layout. Scales keep activations finite and
/// non-trivial: linear/conv weights N(0, 1/fan_in), norms near 1, biases and embeddings small.
/// </summary>
internal static class RandomCheckpointWriter
{
    private const string U = DiffusersWeightSource.UNetPrefix, V = DiffusersWeightSource.VaePrefix, T = DiffusersWeightSource.TextPrefix;

    /// <summary>Writes the checkpoint (and, for a single file, <c>FILE.yaml</c> beside it). Returns the paths written.</summary>
    public static IReadOnlyList<string> Write(ModelPreset preset, ulong seed, string output, CheckpointLayout layout)
    {
        var weights = Generate(preset, seed);
        try
        {
            return layout == CheckpointLayout.SingleFile
                ? WriteSingleFile(preset, weights, output)
                : WriteDiffusers(preset, weights, output);
        }
        finally
        {
            foreach (var (_, t) in weights) t.Dispose();
        }
    }

    /// <summary>The LDM-keyed tensors of the preset, in storage dtype.</summary>
    internal static List<(string Key, Tensor Value)> Generate(ModelPreset preset, ulong seed)
    {
        using var noGrad = no_grad();
        var d = preset.Description;
        var result = new List<(string, Tensor)>();
        using var generator = new Generator(seed);
        var storage = preset.StoreHalf ? ScalarType.Float16 : ScalarType.Float32;
        void Add(nn.Module module, string prefix)
        {
            foreach (var (name, p) in module.named_parameters())
            {
                result.Add((prefix + name, RandomValue(name, p.shape, generator).to(storage)));
            }
            module.Dispose();
        }
        // Built on the meta device: only the names and shapes are needed.
        if (d.Text.Layout == TextEncoderLayout.OpenClip)
        {
            Add(Layers.OnMeta(() => new OpenClipTextModel(d.Text)), OpenClipKeyMap.Prefix);
            // Stored in real SD 2.x files though conditioning never reads them.
            foreach (var (key, shape) in OpenClipKeyMap.UnusedTensors(d.Text.Width))
                result.Add((OpenClipKeyMap.Prefix + key, RandomValue(key, shape, generator).to(storage)));
        }
        else
        {
            Add(Layers.OnMeta(() => new ClipTextModel(d.Text)), T);
        }
        Add(Layers.OnMeta(() => new UNetModel(d.UNet)), U);
        Add(Layers.OnMeta(() => new AutoencoderKL(d.Vae)), V);
        return result;
    }

    private static Tensor RandomValue(string name, long[] shape, Generator g)
    {
        var noise = randn(shape, generator: g);
        bool isNorm = name.Contains("norm") || name.Contains("layer_norm");
        if (name.Contains("embedding")) return noise * 0.5f;
        if (shape.Length == 1)
            return name.EndsWith("weight") && isNorm ? 1 + 0.1f * noise : 0.05f * noise;
        long fanIn = shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        return noise * (float)(1.0 / Math.Sqrt(fanIn));
    }

    private static IReadOnlyList<string> WriteSingleFile(ModelPreset preset, List<(string Key, Tensor Value)> weights, string output)
    {
        var yaml = Path.ChangeExtension(output, ".yaml");
        SafetensorsWriter.Write(output, weights.Select(w => KeyValuePair.Create(w.Key, w.Value)),
            new Dictionary<string, string> { ["format"] = "pt", ["redraft.preset"] = preset.Name });
        AtomicFile.WriteAllText(yaml, LdmYamlWriter.Format(preset.Description));
        return [output, yaml];
    }

    private static IReadOnlyList<string> WriteDiffusers(ModelPreset preset, List<(string Key, Tensor Value)> weights, string folder)
    {
        var d = preset.Description;
        // Build in a sibling temp folder and rename at the end, so a failure leaves no half-written model.
        var temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(folder))!, $".{Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        try
        {
            foreach (var c in new[] { "unet", "vae", "text_encoder", "scheduler" }) Directory.CreateDirectory(Path.Combine(temp, c));
            var unet = weights.Where(w => w.Key.StartsWith(U))
                .Select(w => KeyValuePair.Create(DiffusersKeyMap.UNetToDiffusers(w.Key[U.Length..], d.UNet.NumResBlocks), w.Value));
            var vae = weights.Where(w => w.Key.StartsWith(V)).Select(w =>
            {
                string ldm = w.Key[V.Length..];
                var value = DiffusersKeyMap.IsVaeAttentionProjection(ldm) ? w.Value.reshape(w.Value.shape[0], w.Value.shape[1]) : w.Value;
                return KeyValuePair.Create(DiffusersKeyMap.VaeToDiffusers(ldm, d.Vae.ChannelMult.Count), value);
            });
            const string O = OpenClipKeyMap.Prefix;
            // diffusers keeps an OpenCLIP tower as CLIPTextModel without the layers conditioning skips.
            var converted = OpenClipKeyMap.ToHuggingFace(
                weights.Where(w => w.Key.StartsWith(O)).Select(w => (w.Key[O.Length..], w.Value)), d.Text.Layers - d.Text.SkipLastLayers);
            var text = weights.Where(w => w.Key.StartsWith(T)).Select(w => KeyValuePair.Create(w.Key[T.Length..], w.Value))
                .Concat(converted.Select(c => KeyValuePair.Create(c.Key, c.Value))).ToList();
            SafetensorsWriter.Write(Path.Combine(temp, "unet", "diffusion_pytorch_model.safetensors"), unet);
            SafetensorsWriter.Write(Path.Combine(temp, "vae", "diffusion_pytorch_model.safetensors"), vae);
            SafetensorsWriter.Write(Path.Combine(temp, "text_encoder", "model.safetensors"), text);
            foreach (var (_, t) in converted) t.Dispose();
            AtomicFile.WriteAllText(Path.Combine(temp, "model_index.json"), ModelIndex().ToJsonString(Indented));
            AtomicFile.WriteAllText(Path.Combine(temp, "unet", "config.json"), UNetJson(d).ToJsonString(Indented));
            AtomicFile.WriteAllText(Path.Combine(temp, "vae", "config.json"), VaeJson(d).ToJsonString(Indented));
            AtomicFile.WriteAllText(Path.Combine(temp, "text_encoder", "config.json"), TextJson(d).ToJsonString(Indented));
            AtomicFile.WriteAllText(Path.Combine(temp, "scheduler", "scheduler_config.json"), SchedulerJson(d).ToJsonString(Indented));
            if (Directory.Exists(folder)) Directory.Delete(folder, true);
            Directory.Move(temp, folder);
            return [folder];
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, true);
            throw;
        }
    }

    private static readonly System.Text.Json.JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static JsonArray Arr(IEnumerable<int> xs) => new(xs.Select(x => (JsonNode)x).ToArray());

    private static JsonObject ModelIndex() => new()
    {
        ["_class_name"] = "StableDiffusionPipeline",
        ["scheduler"] = new JsonArray("diffusers", "PNDMScheduler"),
        ["text_encoder"] = new JsonArray("transformers", "CLIPTextModel"),
        ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"),
        ["unet"] = new JsonArray("diffusers", "UNet2DConditionModel"),
        ["vae"] = new JsonArray("diffusers", "AutoencoderKL"),
    };

    private static JsonObject UNetJson(ModelDescription d)
    {
        var u = d.UNet;
        var levels = Enumerable.Range(0, u.ChannelMult.Count).ToArray();
        bool Attn(int level) => u.AttentionResolutions.Contains(1 << level);
        return new JsonObject
        {
            ["_class_name"] = "UNet2DConditionModel",
            ["in_channels"] = u.InChannels,
            ["out_channels"] = u.OutChannels,
            ["block_out_channels"] = Arr(u.ChannelMult.Select(m => m * u.ModelChannels)),
            ["layers_per_block"] = u.NumResBlocks,
            ["down_block_types"] = new JsonArray(levels.Select(l => (JsonNode)(Attn(l) ? "CrossAttnDownBlock2D" : "DownBlock2D")).ToArray()),
            ["up_block_types"] = new JsonArray(levels.Reverse().Select(l => (JsonNode)(Attn(l) ? "CrossAttnUpBlock2D" : "UpBlock2D")).ToArray()),
            ["attention_head_dim"] = u.NumHeadChannels > 0
                ? Arr(u.ChannelMult.Select(m => m * u.ModelChannels / u.NumHeadChannels))
                : u.NumHeads,
            ["cross_attention_dim"] = u.ContextDim,
            ["transformer_layers_per_block"] = u.TransformerDepth,
            ["use_linear_projection"] = u.UseLinearInTransformer,
        };
    }

    private static JsonObject VaeJson(ModelDescription d) => new()
    {
        ["_class_name"] = "AutoencoderKL",
        ["in_channels"] = d.Vae.InChannels,
        ["out_channels"] = d.Vae.OutChannels,
        ["block_out_channels"] = Arr(d.Vae.ChannelMult.Select(m => m * d.Vae.Channels)),
        ["layers_per_block"] = d.Vae.NumResBlocks,
        ["latent_channels"] = d.Vae.EmbedDim,
        ["scaling_factor"] = d.Vae.ScaleFactor,
    };

    private static JsonObject TextJson(ModelDescription d) => new()
    {
        ["architectures"] = new JsonArray("CLIPTextModel"),
        ["vocab_size"] = d.Text.VocabSize,
        ["max_position_embeddings"] = d.Text.MaxPositions,
        ["hidden_size"] = d.Text.Width,
        // An OpenCLIP tower is converted without the layers it skips (diffusers' SD 2.x convention).
        ["num_hidden_layers"] = d.Text.Layout == TextEncoderLayout.OpenClip ? d.Text.Layers - d.Text.SkipLastLayers : d.Text.Layers,
        ["num_attention_heads"] = d.Text.Heads,
        ["intermediate_size"] = d.Text.IntermediateSize,
        ["hidden_act"] = d.Text.QuickGelu ? "quick_gelu" : "gelu",
    };

    private static JsonObject SchedulerJson(ModelDescription d) => new()
    {
        ["_class_name"] = "PNDMScheduler",
        ["beta_start"] = d.LinearStart,
        ["beta_end"] = d.LinearEnd,
        ["beta_schedule"] = "scaled_linear",
        ["num_train_timesteps"] = d.TrainTimesteps,
        ["prediction_type"] = d.Prediction == PredictionType.V ? "v_prediction" : "epsilon",
        ["set_alpha_to_one"] = false,
        ["steps_offset"] = 1,
    };
}
