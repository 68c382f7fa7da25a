using static TorchSharp.torch;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// Writes LoRA <c>.safetensors</c> files in any <see cref="LoraNaming"/>; used to make test LoRAs and to convert between
/// namings. Alpha is stored as a 0-dimensional fp32 tensor <c>&lt;module&gt;.alpha</c> in every naming.
/// </summary>
internal static class LoraWriter
{
    /// <summary>Writes <paramref name="modules"/> to <paramref name="path"/> (atomically, see <see cref="SafetensorsWriter"/>).</summary>
    /// <param name="path">Target file.</param>
    /// <param name="modules">The modules; their tensors are written as they are (dtype included) and not disposed.</param>
    /// <param name="naming">The tensor naming.</param>
    /// <param name="unetResBlocks">The UNet's res blocks per level, for diffusers paths (2 for SD 1.x/2.x).</param>
    /// <exception cref="ArgumentException">A key is not a UNet or text-encoder weight key.</exception>
    public static void Write(string path, IEnumerable<LoraWeights> modules, LoraNaming naming, int unetResBlocks = 2)
    {
        ArgumentNullException.ThrowIfNull(modules);
        var tensors = new List<KeyValuePair<string, Tensor>>();
        var alphas = new List<Tensor>();
        try
        {
            foreach (var m in modules)
            {
                string module = ModuleName(m.LdmKey, naming, unetResBlocks);
                var (down, up) = naming switch
                {
                    LoraNaming.Kohya or LoraNaming.KohyaLdm => (".lora_down.weight", ".lora_up.weight"),
                    LoraNaming.Peft => (".lora_A.weight", ".lora_B.weight"),
                    _ => module.StartsWith("unet.", StringComparison.Ordinal)
                        ? (".lora.down.weight", ".lora.up.weight")
                        : (".lora_linear_layer.down.weight", ".lora_linear_layer.up.weight"),
                };
                tensors.Add(KeyValuePair.Create(module + down, m.Down));
                tensors.Add(KeyValuePair.Create(module + up, m.Up));
                if (m.Alpha is { } a)
                {
                    var alpha = tensor((float)a);
                    alphas.Add(alpha);
                    tensors.Add(KeyValuePair.Create(module + ".alpha", alpha));
                }
            }
            SafetensorsWriter.Write(path, tensors);
        }
        finally
        {
            foreach (var a in alphas) a.Dispose();
        }
    }

    /// <summary>The module name (without part suffix) a file in <paramref name="naming"/> uses for the weight <paramref name="ldmKey"/>.</summary>
    /// <exception cref="ArgumentException">The key is not a UNet or text-encoder weight key.</exception>
    public static string ModuleName(string ldmKey, LoraNaming naming, int unetResBlocks = 2)
    {
        ArgumentNullException.ThrowIfNull(ldmKey);
        if (!ldmKey.EndsWith(".weight", StringComparison.Ordinal))
            throw new ArgumentException($"{ldmKey} is not a weight key.", nameof(ldmKey));
        bool kohya = naming is LoraNaming.Kohya or LoraNaming.KohyaLdm;
        if (ldmKey.StartsWith(DiffusersWeightSource.UNetPrefix, StringComparison.Ordinal))
        {
            string key = ldmKey[DiffusersWeightSource.UNetPrefix.Length..];
            string path = (naming == LoraNaming.KohyaLdm ? key : DiffusersKeyMap.UNetToDiffusers(key, unetResBlocks))[..^".weight".Length];
            return kohya ? "lora_unet_" + path.Replace('.', '_') : "unet." + path;
        }
        if (ldmKey.StartsWith(DiffusersWeightSource.TextPrefix, StringComparison.Ordinal))
        {
            string path = ldmKey[DiffusersWeightSource.TextPrefix.Length..^".weight".Length];
            return kohya ? "lora_te_" + path.Replace('.', '_') : "text_encoder." + path;
        }
        throw new ArgumentException($"{ldmKey} is neither a UNet (model.diffusion_model.) nor a text-encoder (cond_stage_model.transformer.) key.", nameof(ldmKey));
    }
}
