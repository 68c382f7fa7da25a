using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// The layers of a loaded UNet and text encoder that LoRA modules can address, indexed by every module name a LoRA file
/// may use for them:
/// <list type="bullet">
/// <item>UNet, dotted: the diffusers path (<c>down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q</c>, through
/// <see cref="DiffusersKeyMap"/>) and the LDM path (<c>input_blocks.1.1.transformer_blocks.0.attn1.to_q</c>);</item>
/// <item>UNet, flattened (kohya's <c>lora_unet_…</c>): either path with every <c>.</c> turned into <c>_</c>;</item>
/// <item>text encoder, dotted and flattened: the Hugging Face CLIP path (<c>text_model.encoder.layers.0.self_attn.q_proj</c>),
/// for OpenCLIP towers too (SD 2.x single files), whose fused q/k/v weight is addressed by row blocks.</item>
/// </list>
/// Flattened names are resolved by looking them up among the flattened known names, never by guessing which
/// underscores were dots (<c>transformer_blocks</c>, <c>to_q</c>, <c>proj_in</c> contain underscores of their own). A
/// flattened name that two different layers share would be ambiguous and is left unresolvable (none exist in the SD 1.x/2.x
/// layouts).
/// </summary>
internal sealed partial class LoraTargets
{
    private readonly Dictionary<string, LoraTarget> unetDotted = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoraTarget?> unetFlat = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoraTarget> textDotted = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoraTarget?> textFlat = new(StringComparer.Ordinal);

    /// <summary>Indexes the Linear and Conv2d weights of <paramref name="unet"/> and <paramref name="textEncoder"/> (either may be null).</summary>
    /// <param name="unet">The UNet, parameters named by LDM keys below <c>model.diffusion_model.</c>.</param>
    /// <param name="unetResBlocks">The UNet's res blocks per level (for the diffusers names).</param>
    /// <param name="textEncoder">The CLIP text model, parameters named by Hugging Face keys.</param>
    public LoraTargets(nn.Module? unet, int unetResBlocks, nn.Module? textEncoder)
    {
        if (unet is not null)
        {
            foreach (var (name, parameter) in unet.named_parameters())
            {
                if (!IsLayerWeight(name, parameter)) continue;
                var target = new LoraTarget(LoraComponent.UNet, name, parameter);
                string ldm = name[..^".weight".Length];
                Add(unetDotted, unetFlat, ldm, target);
                string? diffusers = null;
                try { diffusers = DiffusersKeyMap.UNetToDiffusers(name, unetResBlocks)[..^".weight".Length]; }
                catch (InvalidOperationException) { }
                if (diffusers is not null && diffusers != ldm) Add(unetDotted, unetFlat, diffusers, target);
            }
        }
        if (textEncoder is not null)
        {
            foreach (var (name, parameter) in textEncoder.named_parameters())
            {
                if (OpenClipBlock().Match(name) is { Success: true } block)
                {
                    AddOpenClip(name, parameter, block.Groups[1].Value, block.Groups[2].Value);
                    continue;
                }
                if (!IsLayerWeight(name, parameter)) continue;
                Add(textDotted, textFlat, name[..^".weight".Length], new LoraTarget(LoraComponent.TextEncoder, name, parameter));
            }
        }
    }

    /// <summary>
    /// An OpenCLIP block's weight under the Hugging Face names LoRAs use for SD 2.x (kohya trains on the converted
    /// <c>CLIPTextModel</c>): the fused <c>in_proj_weight</c> is three targets, its q, k and v rows.
    /// </summary>
    private void AddOpenClip(string name, TorchSharp.Modules.Parameter parameter, string layer, string part)
    {
        string hf = $"text_model.encoder.layers.{layer}.";
        if (part == "attn.in_proj_weight")
        {
            long rows = parameter.shape[0] / 3;
            string[] projections = ["q_proj", "k_proj", "v_proj"];
            for (int i = 0; i < 3; i++)
                Add(textDotted, textFlat, $"{hf}self_attn.{projections[i]}", new LoraTarget(LoraComponent.TextEncoder, name, parameter, i * rows, rows));
            return;
        }
        string module = part switch
        {
            "attn.out_proj.weight" => "self_attn.out_proj",
            "mlp.c_fc.weight" => "mlp.fc1",
            _ => "mlp.fc2",
        };
        Add(textDotted, textFlat, hf + module, new LoraTarget(LoraComponent.TextEncoder, name, parameter));
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^transformer\.resblocks\.(\d+)\.(attn\.in_proj_weight|attn\.out_proj\.weight|mlp\.c_fc\.weight|mlp\.c_proj\.weight)$")]
    private static partial System.Text.RegularExpressions.Regex OpenClipBlock();

    /// <summary>All indexed layers (each once).</summary>
    public IEnumerable<LoraTarget> All => unetDotted.Values.Concat(textDotted.Values).Distinct();

    /// <summary>The layer a module name addresses, or null.</summary>
    /// <param name="component">The network the LoRA key's prefix named.</param>
    /// <param name="moduleName">The module path without prefix and suffix.</param>
    /// <param name="flattened">True for kohya names (<c>_</c> between path segments).</param>
    public LoraTarget? Find(LoraComponent component, string moduleName, bool flattened)
    {
        if (flattened)
        {
            var flat = component == LoraComponent.UNet ? unetFlat : textFlat;
            return flat.TryGetValue(moduleName, out var t) ? t : null;
        }
        var dotted = component == LoraComponent.UNet ? unetDotted : textDotted;
        return dotted.TryGetValue(moduleName, out var d) ? d : null;
    }

    private static bool IsLayerWeight(string name, Tensor parameter) =>
        name.EndsWith(".weight", StringComparison.Ordinal) && parameter.dim() is 2 or 4;

    private static void Add(Dictionary<string, LoraTarget> dotted, Dictionary<string, LoraTarget?> flat, string module, LoraTarget target)
    {
        dotted[module] = target;
        string flatName = module.Replace('.', '_');
        // Two different layers with one flattened name: ambiguous, resolve neither.
        if (!flat.TryGetValue(flatName, out var existing)) flat[flatName] = target;
        else if (!ReferenceEquals(existing, target)) flat[flatName] = null;
    }
}
