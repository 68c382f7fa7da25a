using static TorchSharp.torch;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// Reads a LoRA <c>.safetensors</c> file (namings in <see cref="LoraTensorKey"/>) and resolves every module to a layer of
/// the loaded model. The whole file must be understood: a tensor that is not a LoRA part, or a module that addresses no
/// layer of this model, is an error rather than a warning, because applying part of a LoRA silently gives images that
/// look plausible but wrong (A1111 warns and goes on; this project refuses). The messages are one line and name a few of
/// the offending keys.
/// </summary>
internal static class LoraFile
{
    private const int ExamplesShown = 3;

    /// <summary>
    /// Reads and validates <paramref name="path"/> against <paramref name="targets"/>; the caller owns the layers. With
    /// <paramref name="only"/>, the modules of the other network are skipped (their network is not loaded).
    /// </summary>
    /// <exception cref="RedraftInputException">The file is missing, not a LoRA, or does not fit the model.</exception>
    public static List<LoraLayer> Read(string path, LoraTargets targets, LoraComponent? only = null)
    {
        if (!File.Exists(path))
            throw new RedraftInputException(Directory.Exists(path) ? $"{path}: a folder, not a LoRA file." : $"{path}: LoRA file not found.");
        if (!path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            throw new RedraftInputException($"{path}: only .safetensors LoRA files are loaded (pickled .pt/.ckpt files can run code); convert it to safetensors first.");

        using var file = SafetensorsFile.Open(path);
        if (!file.Tensors.Keys.Any(LoraTensorKey.LooksLikeLoraWeight))
            throw new CheckpointFormatException(
                $"{path}: not a LoRA file (no lora_down/lora_up, lora.down/lora.up or lora_A/lora_B weights among its {file.Tensors.Count} tensors).");

        var unknown = new List<string>();
        var modules = new Dictionary<(LoraComponent, string, bool), Dictionary<LoraPart, TensorInfo>>();
        foreach (var (name, info) in file.Tensors)
        {
            if (LoraTensorKey.TryParse(name) is not { } key)
            {
                unknown.Add(name);
                continue;
            }
            var id = (key.Component, key.Module, key.Flattened);
            if (!modules.TryGetValue(id, out var parts)) modules[id] = parts = [];
            if (!parts.TryAdd(key.Part, info))
                throw new CheckpointFormatException(
                    $"{path}: LoRA module {DisplayName(id)} has two {key.Part.ToString().ToLowerInvariant()} tensors ({parts[key.Part].Name}, {name}).");
        }

        var resolved = new List<(string Name, LoraTarget Target, Dictionary<LoraPart, TensorInfo> Parts)>();
        foreach (var (id, parts) in modules)
        {
            if (only is { } component && id.Item1 != component) continue;
            var target = targets.Find(id.Item1, id.Item2, id.Item3);
            if (target is null)
            {
                unknown.Add(DisplayName(id));
                continue;
            }
            resolved.Add((DisplayName(id), target, parts));
        }
        if (unknown.Count > 0)
            throw new CheckpointFormatException(
                $"{path}: {unknown.Count} LoRA key(s) match no layer of this model ({string.Join(", ", unknown.Take(ExamplesShown))}"
                + $"{(unknown.Count > ExamplesShown ? ", …" : "")}); a LoRA for another model family (SDXL, SD 2.x) or an unsupported kind (LoHa, LoKr, DoRA)?");

        var seen = new Dictionary<LoraTarget, string>(ReferenceEqualityComparer.Instance);
        foreach (var (name, target, parts) in resolved)
        {
            if (!seen.TryAdd(target, name))
                throw new CheckpointFormatException($"{path}: LoRA modules {seen[target]} and {name} both change {target.LdmKey}.");
            foreach (var needed in new[] { LoraPart.Down, LoraPart.Up })
            {
                if (!parts.ContainsKey(needed))
                    throw new CheckpointFormatException($"{path}: LoRA module {name} has no {needed.ToString().ToLowerInvariant()} weight.");
            }
            foreach (var weight in new[] { parts[LoraPart.Down], parts[LoraPart.Up] })
            {
                if (!weight.DType.IsFloatingPoint())
                    throw new CheckpointFormatException(
                        $"{path}: LoRA weight {weight.Name} is stored as {weight.DType}; LoRA weights must be F32, F16, BF16 or F64.");
            }
            LoraLayer.CheckShapes(path, name, target, parts[LoraPart.Down].Shape, parts[LoraPart.Up].Shape);
            if (parts.TryGetValue(LoraPart.Alpha, out var alpha) && alpha.ElementCount != 1)
                throw new CheckpointFormatException(
                    $"{path}: LoRA alpha {alpha.Name} has shape [{string.Join(", ", alpha.Shape)}]; expected a single number.");
        }

        var layers = new List<LoraLayer>(resolved.Count);
        try
        {
            foreach (var (name, target, parts) in resolved)
            {
                double scale = 1.0;
                if (parts.TryGetValue(LoraPart.Alpha, out var alphaInfo))
                {
                    using var alphaTensor = file.Load(alphaInfo.Name, ScalarType.Float64);
                    double alpha = alphaTensor.reshape(1).item<double>();
                    if (!double.IsFinite(alpha))
                        throw new CheckpointFormatException($"{path}: LoRA alpha {alphaInfo.Name} is not a finite number ({alpha}).");
                    scale = alpha / parts[LoraPart.Down].Shape[0];
                }
                var down = file.Load(parts[LoraPart.Down].Name, ScalarType.Float32);
                var up = file.Load(parts[LoraPart.Up].Name, ScalarType.Float32);
                layers.Add(new LoraLayer(name, target, down, up, scale));
            }
            return layers;
        }
        catch
        {
            foreach (var layer in layers) layer.Dispose();
            throw;
        }
    }

    private static string DisplayName((LoraComponent Component, string Module, bool Flattened) id) => id switch
    {
        (LoraComponent.UNet, var m, true) => "lora_unet_" + m,
        (LoraComponent.TextEncoder, var m, true) => "lora_te_" + m,
        (LoraComponent.UNet, var m, false) => "unet." + m,
        (_, var m, _) => "text_encoder." + m,
    };
}
