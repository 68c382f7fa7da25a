using System.Text.Json;
using System.Text.Json.Nodes;
using Redraft.Diffusion.Networks;
using Redraft.Diffusion.Text;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// Reads a diffusers model folder: <c>model_index.json</c>, the components' <c>config.json</c> files and their
/// safetensors weights. Produces the same <see cref="ModelDescription"/> and LDM-keyed weights as a single file.
/// </summary>
internal static class DiffusersFolder
{
    public static bool IsDiffusersFolder(string path) =>
        Directory.Exists(path) && File.Exists(Path.Combine(path, "model_index.json"));

    /// <summary>Opens the folder; the caller owns the returned source.</summary>
    public static (ModelDescription Description, DiffusersWeightSource Weights) Open(string folder)
    {
        var unetCfg = ReadJson(folder, "unet/config.json");
        var vaeCfg = ReadJson(folder, "vae/config.json");
        var textCfg = ReadJson(folder, "text_encoder/config.json");
        var schedCfg = TryReadJson(folder, "scheduler/scheduler_config.json");

        var blockOut = Ints(unetCfg, "block_out_channels", folder, "unet/config.json");
        var downTypes = unetCfg["down_block_types"]?.AsArray().Select(n => n!.GetValue<string>()).ToArray() ?? [];
        int mc = blockOut[0];
        var headNode = unetCfg["attention_head_dim"];
        int numHeads = 8, headChannels = -1;
        if (headNode is JsonArray arr) headChannels = mc / arr[0]!.GetValue<int>();
        else if (headNode is not null) numHeads = headNode.GetValue<int>();
        var attentionResolutions = downTypes.Select((t, level) => (t, level))
            .Where(x => x.t.Contains("CrossAttn")).Select(x => 1 << x.level).ToArray();
        var tlpb = unetCfg["transformer_layers_per_block"];
        var unet = new UNetConfig
        {
            InChannels = Int(unetCfg, "in_channels", 4),
            OutChannels = Int(unetCfg, "out_channels", 4),
            ModelChannels = mc,
            ChannelMult = blockOut.Select(c => c / mc).ToArray(),
            NumResBlocks = Int(unetCfg, "layers_per_block", 2),
            AttentionResolutions = attentionResolutions,
            NumHeads = numHeads,
            NumHeadChannels = headChannels,
            TransformerDepth = tlpb is JsonArray ta ? ta[0]!.GetValue<int>() : tlpb?.GetValue<int>() ?? 1,
            ContextDim = Int(unetCfg, "cross_attention_dim", 768),
            UseLinearInTransformer = unetCfg["use_linear_projection"]?.GetValue<bool>() ?? false,
        };
        var vaeBlocks = Ints(vaeCfg, "block_out_channels", folder, "vae/config.json");
        var vae = new AutoencoderConfig
        {
            Channels = vaeBlocks[0],
            ChannelMult = vaeBlocks.Select(c => c / vaeBlocks[0]).ToArray(),
            NumResBlocks = Int(vaeCfg, "layers_per_block", 2),
            ZChannels = Int(vaeCfg, "latent_channels", 4),
            EmbedDim = Int(vaeCfg, "latent_channels", 4),
            InChannels = Int(vaeCfg, "in_channels", 3),
            OutChannels = Int(vaeCfg, "out_channels", 3),
            ScaleFactor = vaeCfg["scaling_factor"]?.GetValue<double>() ?? 0.18215,
        };
        var text = new TextEncoderConfig
        {
            VocabSize = Int(textCfg, "vocab_size", 49408),
            MaxPositions = Int(textCfg, "max_position_embeddings", 77),
            Width = Int(textCfg, "hidden_size", 768),
            Layers = Int(textCfg, "num_hidden_layers", 12),
            Heads = Int(textCfg, "num_attention_heads", 12),
            IntermediateSize = Int(textCfg, "intermediate_size", 3072),
            QuickGelu = (textCfg["hidden_act"]?.GetValue<string>() ?? "quick_gelu") == "quick_gelu",
        };
        // SD 2.x's text_encoder is OpenCLIP ViT-H converted to CLIPTextModel (exact GELU, last layer already dropped).
        bool openClipTower = !text.QuickGelu;
        var description = new ModelDescription
        {
            Family = unet.ContextDim == 1024 || openClipTower ? "sd2" : "sd1",
            UNet = unet,
            Vae = vae,
            Text = text,
            Prediction = schedCfg?["prediction_type"]?.GetValue<string>() == "v_prediction" ? PredictionType.V : PredictionType.Epsilon,
            LinearStart = schedCfg?["beta_start"]?.GetValue<double>() ?? 0.00085,
            LinearEnd = schedCfg?["beta_end"]?.GetValue<double>() ?? 0.012,
            TrainTimesteps = schedCfg is null ? 1000 : Int(schedCfg, "num_train_timesteps", 1000),
            PadToken = PadToken(folder) ?? (openClipTower ? PromptChunker.OpenClipPadToken : PromptChunker.ClipLPadToken),
        };
        var unetFile = SafetensorsFile.Open(WeightsFile(folder, "unet", "diffusion_pytorch_model"));
        var vaeFile = SafetensorsFile.Open(WeightsFile(folder, "vae", "diffusion_pytorch_model"));
        var textFile = SafetensorsFile.Open(WeightsFile(folder, "text_encoder", "model"));
        return (description, new DiffusersWeightSource(folder, unetFile, vaeFile, textFile, unet.NumResBlocks, vae.ChannelMult.Count));
    }

    /// <summary>
    /// The padding id from <c>tokenizer/special_tokens_map.json</c>: "!" (0) in SD 2.x folders, "&lt;|endoftext|&gt;"
    /// (49407) in SD 1.x; null when the file is absent or names another token.
    /// </summary>
    private static int? PadToken(string folder)
    {
        var map = TryReadJson(folder, "tokenizer/special_tokens_map.json");
        var pad = map?["pad_token"];
        string? content = pad switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonObject o => o["content"]?.GetValue<string>(),
            _ => null,
        };
        return content switch
        {
            "!" => PromptChunker.OpenClipPadToken,
            "<|endoftext|>" => PromptChunker.ClipLPadToken,
            _ => null,
        };
    }

    /// <summary>The component's weights file: <c>name.safetensors</c>, else the <c>name.fp16.safetensors</c> variant.</summary>
    public static string WeightsFile(string folder, string component, string baseName)
    {
        foreach (var candidate in new[] { $"{baseName}.safetensors", $"{baseName}.fp16.safetensors" })
        {
            var path = Path.Combine(folder, component, candidate);
            if (File.Exists(path)) return path;
        }
        throw new CheckpointFormatException(
            $"{folder}: no {component}/{baseName}.safetensors; a diffusers folder needs safetensors weights for unet, vae and text_encoder (.bin pickles are not loaded).");
    }

    private static JsonObject ReadJson(string folder, string relative) =>
        TryReadJson(folder, relative) ?? throw new CheckpointFormatException($"{folder}: missing {relative}; not a complete diffusers model folder.");

    private static JsonObject? TryReadJson(string folder, string relative)
    {
        var path = Path.Combine(folder, relative);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new CheckpointFormatException($"{path}: not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException($"{path}: not valid JSON ({e.Message.Split('\n')[0]}).");
        }
    }

    private static int Int(JsonObject o, string key, int fallback) => o[key]?.GetValue<int>() ?? fallback;

    private static int[] Ints(JsonObject o, string key, string folder, string file) =>
        o[key] is JsonArray a && a.Count > 0
            ? a.Select(n => n!.GetValue<int>()).ToArray()
            : throw new CheckpointFormatException($"{folder}/{file}: missing '{key}'.");
}
