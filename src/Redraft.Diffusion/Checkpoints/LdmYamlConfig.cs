using System.Globalization;
using Redraft.Diffusion.Networks;
using YamlDotNet.RepresentationModel;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// Reads a model config in the original latent-diffusion YAML format (<c>v1-inference.yaml</c> style):
/// <c>model.params</c> (schedule, scale factor, parameterization), <c>unet_config.params</c> and
/// <c>first_stage_config.params</c>. Text-tower sizes are not in these files and come from tensor shapes.
/// </summary>
internal static class LdmYamlConfig
{
    /// <summary>The path of a config beside a checkpoint (<c>model.yaml</c> for <c>model.safetensors</c>), or null.</summary>
    public static string? FindBeside(string checkpointPath)
    {
        var candidate = Path.ChangeExtension(checkpointPath, ".yaml");
        return File.Exists(candidate) ? candidate : null;
    }

    /// <summary>Reads the file; <paramref name="text"/> supplies the text tower, which the YAML does not describe.</summary>
    public static ModelDescription Read(string path, TextEncoderConfig text)
    {
        // A config is a few kilobytes; /dev/zero or a FIFO would spin or block the parser forever.
        InputFile.EnsureRegular(path, "config", 1 << 20);
        YamlMappingNode root;
        try
        {
            using var reader = new StreamReader(path);
            var stream = new YamlStream();
            stream.Load(reader);
            root = stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode m
                ? m : throw new RedraftInputException($"{path}: the config is empty or not a YAML mapping.");
        }
        catch (FileNotFoundException)
        {
            throw new RedraftInputException($"{path}: config file not found.");
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new RedraftInputException($"{path}: not valid YAML ({e.Message.Split('\n')[0]}).");
        }

        var model = Child(root, "model") ?? throw new RedraftInputException($"{path}: no 'model' section; expected the original latent-diffusion config layout (model.params.unet_config…).");
        var p = Child(model, "params") ?? throw new RedraftInputException($"{path}: no 'model.params' section.");
        var unetParams = Child(Child(p, "unet_config"), "params") ?? throw new RedraftInputException($"{path}: no 'model.params.unet_config.params' section.");
        var firstStage = Child(Child(p, "first_stage_config"), "params");
        var dd = Child(firstStage, "ddconfig");
        var condTarget = Scalar(Child(p, "cond_stage_config"), "target") ?? "";

        var unet = new UNetConfig
        {
            InChannels = Int(unetParams, "in_channels", 4, path),
            OutChannels = Int(unetParams, "out_channels", 4, path),
            ModelChannels = Int(unetParams, "model_channels", 320, path),
            AttentionResolutions = Ints(unetParams, "attention_resolutions", [4, 2, 1], path),
            NumResBlocks = Int(unetParams, "num_res_blocks", 2, path),
            ChannelMult = Ints(unetParams, "channel_mult", [1, 2, 4, 4], path),
            NumHeads = Int(unetParams, "num_heads", 8, path),
            NumHeadChannels = Int(unetParams, "num_head_channels", -1, path),
            TransformerDepth = Int(unetParams, "transformer_depth", 1, path),
            ContextDim = Int(unetParams, "context_dim", 768, path),
            UseLinearInTransformer = Bool(unetParams, "use_linear_in_transformer", false),
        };
        var vae = new AutoencoderConfig
        {
            Channels = Int(dd, "ch", 128, path),
            ChannelMult = Ints(dd, "ch_mult", [1, 2, 4, 4], path),
            NumResBlocks = Int(dd, "num_res_blocks", 2, path),
            ZChannels = Int(dd, "z_channels", 4, path),
            InChannels = Int(dd, "in_channels", 3, path),
            OutChannels = Int(dd, "out_ch", 3, path),
            EmbedDim = Int(firstStage, "embed_dim", 4, path),
            ScaleFactor = Double(p, "scale_factor", 0.18215, path),
        };
        // The weights decide the tower's kind (an OpenCLIP tower cannot run as anything else); the YAML can name it
        // for a tower stored otherwise, and chooses its output layer (LDM's default for SD 2.x is "penultimate").
        bool openClip = text.Layout == TextEncoderLayout.OpenClip || condTarget.Contains("OpenCLIP", StringComparison.OrdinalIgnoreCase);
        if (text.Layout == TextEncoderLayout.OpenClip && Scalar(Child(Child(p, "cond_stage_config"), "params"), "layer") is { } layer)
        {
            text = text with
            {
                SkipLastLayers = layer switch
                {
                    "penultimate" => 1,
                    "last" => 0,
                    _ => throw new RedraftInputException($"{path}: cond_stage_config layer '{layer}' is not supported; expected \"penultimate\" or \"last\"."),
                },
            };
        }
        return new ModelDescription
        {
            Family = openClip ? "sd2" : "sd1",
            UNet = unet,
            Vae = vae,
            Text = text,
            Prediction = Scalar(p, "parameterization") == "v" ? PredictionType.V : PredictionType.Epsilon,
            LinearStart = Double(p, "linear_start", 0.00085, path),
            LinearEnd = Double(p, "linear_end", 0.012, path),
            TrainTimesteps = Int(p, "timesteps", 1000, path),
            PadToken = openClip ? 0 : 49407,
        };
    }

    private static YamlMappingNode? Child(YamlMappingNode? node, string key) =>
        node is not null && node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v as YamlMappingNode : null;

    private static string? Scalar(YamlMappingNode? node, string key) =>
        node is not null && node.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s ? s.Value : null;

    private static int Int(YamlMappingNode? node, string key, int fallback, string path)
    {
        var s = Scalar(node, key);
        if (s is null) return fallback;
        return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v : throw new RedraftInputException($"{path}: '{key}' should be an integer, got '{s}'.");
    }

    private static double Double(YamlMappingNode? node, string key, double fallback, string path)
    {
        var s = Scalar(node, key);
        if (s is null) return fallback;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
            ? v : throw new RedraftInputException($"{path}: '{key}' should be a number, got '{s}'.");
    }

    private static bool Bool(YamlMappingNode? node, string key, bool fallback) =>
        Scalar(node, key)?.ToLowerInvariant() switch { "true" => true, "false" => false, _ => fallback };

    private static IReadOnlyList<int> Ints(YamlMappingNode? node, string key, int[] fallback, string path)
    {
        if (node is null || !node.Children.TryGetValue(new YamlScalarNode(key), out var v)) return fallback;
        if (v is not YamlSequenceNode seq)
            throw new RedraftInputException($"{path}: '{key}' should be a list of integers.");
        return seq.Children.Select(c => c is YamlScalarNode s && int.TryParse(s.Value, CultureInfo.InvariantCulture, out var i)
            ? i : throw new RedraftInputException($"{path}: '{key}' should be a list of integers.")).ToArray();
    }
}
