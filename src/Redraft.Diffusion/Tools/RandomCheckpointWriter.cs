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
/// non-trivial: linear/conv weights N(0, 1/fan_in), norms near 1, biases and embeddings small. The names and shapes
/// are known before any value is drawn, so each tensor is drawn, written and freed in turn: memory holds one tensor,
/// not the model (SD 1.5: 2.1 GB on disk).
/// </summary>
internal static class RandomCheckpointWriter
{
    private const string U = DiffusersWeightSource.UNetPrefix, V = DiffusersWeightSource.VaePrefix, T = DiffusersWeightSource.TextPrefix;
    private const string O = OpenClipKeyMap.Prefix;

    /// <summary>One weight to draw: its checkpoint key, the name its scale is chosen by, and its shape.</summary>
    private sealed record PlannedWeight(string Key, string ScaleName, long[] Shape);

    /// <summary>Writes the checkpoint (and, for a single file, <c>FILE.yaml</c> beside it). Returns the paths written.</summary>
    public static IReadOnlyList<string> Write(ModelPreset preset, ulong seed, string output, CheckpointLayout layout)
    {
        var plan = Plan(preset);
        var storage = preset.StoreHalf ? ScalarType.Float16 : ScalarType.Float32;
        return layout == CheckpointLayout.SingleFile
            ? WriteSingleFile(preset, plan, Draw(plan, seed, storage), storage, output)
            : WriteDiffusers(preset, plan, Draw(plan, seed, storage), storage, output);
    }

    /// <summary>The LDM keys and shapes of the preset, in the order their values are drawn (text, UNet, VAE).</summary>
    private static List<PlannedWeight> Plan(ModelPreset preset)
    {
        var d = preset.Description;
        var result = new List<PlannedWeight>();
        void Add(nn.Module module, string prefix)
        {
            foreach (var (name, p) in module.named_parameters())
                result.Add(new PlannedWeight(prefix + name, name, p.shape));
            module.Dispose();
        }
        // Built on the meta device: only the names and shapes are needed. The scope frees what the constructors make
        // besides parameters, which disposing the modules leaves to the garbage collector.
        using var scope = NewDisposeScope();
        if (d.Text.Layout == TextEncoderLayout.OpenClip)
        {
            Add(Layers.OnMeta(() => new OpenClipTextModel(d.Text)), O);
            // Stored in real SD 2.x files though conditioning never reads them.
            foreach (var (key, shape) in OpenClipKeyMap.UnusedTensors(d.Text.Width))
                result.Add(new PlannedWeight(O + key, key, shape));
        }
        else
        {
            Add(Layers.OnMeta(() => new ClipTextModel(d.Text)), T);
        }
        Add(Layers.OnMeta(() => new UNetModel(d.UNet)), U);
        Add(Layers.OnMeta(() => new AutoencoderKL(d.Vae)), V);
        return result;
    }

    /// <summary>
    /// The values of <paramref name="plan"/>, drawn in order from one generator seeded with <paramref name="seed"/>.
    /// Each is freed when the enumeration moves past it, so only one is alive at a time.
    /// </summary>
    private static IEnumerable<KeyValuePair<string, Tensor>> Draw(List<PlannedWeight> plan, ulong seed, ScalarType storage)
    {
        using var generator = new Generator(seed);
        foreach (var weight in plan)
        {
            using var value = RandomValue(weight.ScaleName, weight.Shape, generator, storage);
            yield return KeyValuePair.Create(weight.Key, value);
        }
    }

    private static Tensor RandomValue(string name, long[] shape, Generator g, ScalarType storage)
    {
        // The fp32 draw and its scaled copy are freed here, not left to the garbage collector: for SD 1.5 they were
        // 8.5 GB of a 10.7 GB peak.
        using var scope = NewDisposeScope();
        var noise = randn(shape, generator: g);
        bool isNorm = name.Contains("norm") || name.Contains("layer_norm");
        Tensor value;
        if (name.Contains("embedding")) value = noise * 0.5f;
        else if (shape.Length == 1) value = name.EndsWith("weight") && isNorm ? 1 + 0.1f * noise : 0.05f * noise;
        else value = noise * (float)(1.0 / Math.Sqrt(shape.Skip(1).Aggregate(1L, (a, b) => a * b)));
        return value.to(storage).MoveToOuterDisposeScope();
    }

    private static IReadOnlyList<string> WriteSingleFile(ModelPreset preset, List<PlannedWeight> plan,
        IEnumerable<KeyValuePair<string, Tensor>> values, ScalarType storage, string output)
    {
        var yaml = Path.ChangeExtension(output, ".yaml");
        SafetensorsWriter.Write(output, plan.Select(w => new DeclaredTensor(w.Key, storage, w.Shape)).ToList(), values,
            new Dictionary<string, string> { ["format"] = "pt", ["redraft.preset"] = preset.Name });
        AtomicFile.WriteAllText(yaml, LdmYamlWriter.Format(preset.Description));
        return [output, yaml];
    }

    private static IReadOnlyList<string> WriteDiffusers(ModelPreset preset, List<PlannedWeight> plan,
        IEnumerable<KeyValuePair<string, Tensor>> values, ScalarType storage, string folder)
    {
        var d = preset.Description;
        // Build in a sibling temp folder and rename at the end, so a failure leaves no half-written model.
        var temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(folder))!, $".{Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        try
        {
            foreach (var c in new[] { "unet", "vae", "text_encoder", "scheduler" }) Directory.CreateDirectory(Path.Combine(temp, c));
            // One draw feeds the three files in draw order (text, UNet, VAE); each file takes its run of keys.
            using var drawn = values.GetEnumerator();
            int text = plan.Count(w => w.Key.StartsWith(T) || w.Key.StartsWith(O));
            int unet = plan.Count(w => w.Key.StartsWith(U));
            int vae = plan.Count(w => w.Key.StartsWith(V));
            if (text + unet + vae != plan.Count || !plan.Skip(text).Take(unet).All(w => w.Key.StartsWith(U)))
                throw new InvalidOperationException("the preset's keys are not grouped text, UNet, VAE.");
            int keep = d.Text.Layers - d.Text.SkipLastLayers;
            var textDeclared = plan.Take(text).SelectMany(w => DeclareText(w, storage, keep)).ToList();
            SafetensorsWriter.Write(Path.Combine(temp, "text_encoder", "model.safetensors"), textDeclared,
                Take(drawn, text).SelectMany(w => TextToDiffusers(w.Key, w.Value, keep)));
            SafetensorsWriter.Write(Path.Combine(temp, "unet", "diffusion_pytorch_model.safetensors"),
                plan.Skip(text).Take(unet).Select(w => new DeclaredTensor(UNetToDiffusers(w.Key, d), storage, w.Shape)).ToList(),
                Take(drawn, unet).Select(w => KeyValuePair.Create(UNetToDiffusers(w.Key, d), w.Value)));
            SafetensorsWriter.Write(Path.Combine(temp, "vae", "diffusion_pytorch_model.safetensors"),
                plan.Skip(text + unet).Select(w => new DeclaredTensor(VaeToDiffusers(w.Key, d), storage, VaeShape(w.Key, w.Shape))).ToList(),
                Take(drawn, vae).SelectMany(w => VaeToDiffusers(w.Key, w.Value, d)));
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

    /// <summary>The next <paramref name="count"/> items of a shared enumeration.</summary>
    private static IEnumerable<T> Take<T>(IEnumerator<T> source, int count)
    {
        for (int i = 0; i < count; i++)
        {
            if (!source.MoveNext()) throw new InvalidOperationException("the draw ended early.");
            yield return source.Current;
        }
    }

    /// <summary>The diffusers text-encoder tensors <paramref name="weight"/> becomes, found by converting a meta tensor.</summary>
    private static IEnumerable<DeclaredTensor> DeclareText(PlannedWeight weight, ScalarType storage, int keepLayers)
    {
        using var shapeOnly = empty(weight.Shape, storage, device: new Device(DeviceType.META));
        foreach (var (name, converted) in TextToDiffusers(weight.Key, shapeOnly, keepLayers))
            yield return new DeclaredTensor(name, converted.dtype, converted.shape);
    }

    /// <summary>
    /// A text-tower weight under its diffusers name: CLIP's keep theirs; OpenCLIP's are converted (a fused projection
    /// becomes three, unused ones none). Converted tensors are freed when the enumeration moves on.
    /// </summary>
    private static IEnumerable<KeyValuePair<string, Tensor>> TextToDiffusers(string key, Tensor value, int keepLayers)
    {
        if (key.StartsWith(T))
        {
            yield return KeyValuePair.Create(key[T.Length..], value);
            yield break;
        }
        foreach (var (name, converted) in OpenClipKeyMap.ToHuggingFace([(key[O.Length..], value)], keepLayers))
        {
            using (converted) yield return KeyValuePair.Create(name, converted);
        }
    }

    private static string UNetToDiffusers(string key, ModelDescription d) => DiffusersKeyMap.UNetToDiffusers(key[U.Length..], d.UNet.NumResBlocks);

    private static string VaeToDiffusers(string key, ModelDescription d) => DiffusersKeyMap.VaeToDiffusers(key[V.Length..], d.Vae.ChannelMult.Count);

    /// <summary>diffusers keeps the VAE's attention projections as linear weights: [out, in] instead of [out, in, 1, 1].</summary>
    private static long[] VaeShape(string key, long[] shape) =>
        DiffusersKeyMap.IsVaeAttentionProjection(key[V.Length..]) ? [shape[0], shape[1]] : shape;

    private static IEnumerable<KeyValuePair<string, Tensor>> VaeToDiffusers(string key, Tensor value, ModelDescription d)
    {
        var shape = VaeShape(key, value.shape);
        if (shape.Length == value.shape.Length)
        {
            yield return KeyValuePair.Create(VaeToDiffusers(key, d), value);
            yield break;
        }
        using var reshaped = value.reshape(shape);
        yield return KeyValuePair.Create(VaeToDiffusers(key, d), reshaped);
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
