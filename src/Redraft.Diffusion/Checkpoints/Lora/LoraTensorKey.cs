namespace Redraft.Diffusion.Checkpoints;

/// <summary>What a tensor of a LoRA file holds for its module.</summary>
internal enum LoraPart
{
    /// <summary>The down (A) projection: (rank, in) or (rank, in, kh, kw).</summary>
    Down,
    /// <summary>The up (B) projection: (out, rank) or (out, rank, 1, 1).</summary>
    Up,
    /// <summary>The scalar alpha; the update is scaled by alpha / rank.</summary>
    Alpha,
}

/// <summary>
/// A LoRA tensor name taken apart into the network it addresses, the module path and the part. Understood namings:
/// <list type="bullet">
/// <item>kohya: <c>lora_unet_&lt;flattened path&gt;.lora_down.weight</c> / <c>.lora_up.weight</c> / <c>.alpha</c>, text encoder
/// <c>lora_te_&lt;flattened path&gt;…</c>; the flattened UNet path may be the diffusers one
/// (<c>down_blocks_0_attentions_0_…</c>) or the LDM one (<c>input_blocks_1_1_…</c>);</item>
/// <item>diffusers: <c>unet.&lt;path&gt;.lora.down.weight</c> / <c>.lora.up.weight</c>, the text encoder's
/// <c>text_encoder.&lt;path&gt;.lora_linear_layer.down.weight</c> / <c>.up.weight</c>, and the older attention-processor form
/// <c>unet.….attn1.processor.to_q_lora.down.weight</c> (<c>to_out_lora</c> = <c>to_out.0</c>);</item>
/// <item>PEFT (diffusers ≥ 0.22): <c>unet.&lt;path&gt;.lora_A.weight</c> / <c>.lora_B.weight</c>, <c>text_encoder.…</c>,
/// optionally behind <c>base_model.model.</c>; a bare PEFT adapter (<c>base_model.model.&lt;path&gt;…</c> without a network
/// prefix) addresses the text encoder when the path starts with <c>text_model.</c>, the UNet otherwise;</item>
/// <item>dotted names with kohya suffixes (<c>unet.&lt;path&gt;.lora_down.weight</c>) and <c>&lt;module&gt;.alpha</c> in any naming.</item>
/// </list>
/// The dotted UNet path may be the diffusers or the LDM one.
/// </summary>
internal readonly record struct LoraTensorKey(LoraComponent Component, string Module, bool Flattened, LoraPart Part)
{
    private static readonly (string Suffix, LoraPart Part)[] Suffixes =
    [
        (".lora_down.weight", LoraPart.Down),
        (".lora_up.weight", LoraPart.Up),
        (".lora.down.weight", LoraPart.Down),
        (".lora.up.weight", LoraPart.Up),
        (".lora_linear_layer.down.weight", LoraPart.Down),
        (".lora_linear_layer.up.weight", LoraPart.Up),
        (".lora_A.weight", LoraPart.Down),
        (".lora_B.weight", LoraPart.Up),
        (".alpha", LoraPart.Alpha),
    ];

    /// <summary>True when the name ends like a LoRA down/up weight of any understood naming (what makes a file a LoRA).</summary>
    public static bool LooksLikeLoraWeight(string name) =>
        Suffixes.Any(s => s.Part != LoraPart.Alpha && name.EndsWith(s.Suffix, StringComparison.Ordinal))
        || (name.Contains("_lora.", StringComparison.Ordinal) && (name.EndsWith(".down.weight", StringComparison.Ordinal) || name.EndsWith(".up.weight", StringComparison.Ordinal)));

    /// <summary>Takes a tensor name apart, or returns null when it follows none of the understood namings.</summary>
    public static LoraTensorKey? TryParse(string name)
    {
        string? module = null;
        LoraPart part = default;
        foreach (var (suffix, p) in Suffixes)
        {
            if (!name.EndsWith(suffix, StringComparison.Ordinal)) continue;
            module = name[..^suffix.Length];
            part = p;
            break;
        }
        if (module is null)
        {
            // diffusers' attention processors: "<attention>.processor.to_q_lora.down.weight".
            foreach (var (suffix, p) in new[] { (".down.weight", LoraPart.Down), (".up.weight", LoraPart.Up) })
            {
                if (!name.EndsWith(suffix, StringComparison.Ordinal)) continue;
                string stem = name[..^suffix.Length];
                int processor = stem.LastIndexOf(".processor.", StringComparison.Ordinal);
                if (processor < 0 || !stem.EndsWith("_lora", StringComparison.Ordinal)) return null;
                string projection = stem[(processor + ".processor.".Length)..^"_lora".Length];
                if (projection == "to_out") projection = "to_out.0";
                module = stem[..processor] + "." + projection;
                part = p;
            }
            if (module is null) return null;
        }

        if (module.StartsWith("lora_unet_", StringComparison.Ordinal))
            return new LoraTensorKey(LoraComponent.UNet, module["lora_unet_".Length..], true, part);
        if (module.StartsWith("lora_te_", StringComparison.Ordinal))
            return new LoraTensorKey(LoraComponent.TextEncoder, module["lora_te_".Length..], true, part);
        bool peftWrapped = module.StartsWith("base_model.model.", StringComparison.Ordinal);
        if (peftWrapped) module = module["base_model.model.".Length..];
        if (module.StartsWith("unet.", StringComparison.Ordinal))
            return new LoraTensorKey(LoraComponent.UNet, module["unet.".Length..], false, part);
        if (module.StartsWith("text_encoder.", StringComparison.Ordinal))
            return new LoraTensorKey(LoraComponent.TextEncoder, module["text_encoder.".Length..], false, part);
        // A PEFT adapter saved for one bare network: CLIP paths start with "text_model.", anything else is the UNet.
        if (peftWrapped)
            return new LoraTensorKey(module.StartsWith("text_model.", StringComparison.Ordinal) ? LoraComponent.TextEncoder : LoraComponent.UNet,
                module, false, part);
        return null;
    }
}
