using System.Text.RegularExpressions;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// The one table between the original LDM key layout (what our module trees mirror) and diffusers' names.
/// Rules are written per block kind and parametrised by the network's shape (res blocks per level), so the
/// same table serves SD 1.5 and the tiny test models. Keys here are relative to the component
/// (no <c>model.diffusion_model.</c> / <c>first_stage_model.</c> prefix).
/// </summary>
internal static partial class DiffusersKeyMap
{
    /// <summary>LDM UNet key → diffusers <c>unet/</c> key.</summary>
    public static string UNetToDiffusers(string ldmKey, int numResBlocks)
    {
        int perLevelIn = numResBlocks + 1, perLevelOut = numResBlocks + 1;
        string key = ldmKey;
        if (key.StartsWith("time_embed.0.")) return "time_embedding.linear_1." + key["time_embed.0.".Length..];
        if (key.StartsWith("time_embed.2.")) return "time_embedding.linear_2." + key["time_embed.2.".Length..];
        if (key.StartsWith("input_blocks.0.0.")) return "conv_in." + key["input_blocks.0.0.".Length..];
        if (key.StartsWith("out.0.")) return "conv_norm_out." + key["out.0.".Length..];
        if (key.StartsWith("out.2.")) return "conv_out." + key["out.2.".Length..];

        var m = InputBlock().Match(key);
        if (m.Success)
        {
            int n = int.Parse(m.Groups[1].Value), slot = int.Parse(m.Groups[2].Value);
            string rest = m.Groups[3].Value;
            int level = (n - 1) / perLevelIn, j = (n - 1) % perLevelIn;
            if (j == numResBlocks) // the level's downsampler
                return $"down_blocks.{level}.downsamplers.0.conv.{rest["op.".Length..]}";
            return slot == 0
                ? $"down_blocks.{level}.resnets.{j}.{ResBlockToDiffusers(rest)}"
                : $"down_blocks.{level}.attentions.{j}.{rest}";
        }
        m = MiddleBlock().Match(key);
        if (m.Success)
        {
            string rest = m.Groups[2].Value;
            return m.Groups[1].Value switch
            {
                "0" => "mid_block.resnets.0." + ResBlockToDiffusers(rest),
                "1" => "mid_block.attentions.0." + rest,
                _ => "mid_block.resnets.1." + ResBlockToDiffusers(rest),
            };
        }
        m = OutputBlock().Match(key);
        if (m.Success)
        {
            int n = int.Parse(m.Groups[1].Value), slot = int.Parse(m.Groups[2].Value);
            string rest = m.Groups[3].Value;
            int level = n / perLevelOut, j = n % perLevelOut;
            if (slot == 0) return $"up_blocks.{level}.resnets.{j}.{ResBlockToDiffusers(rest)}";
            if (rest.StartsWith("conv.")) return $"up_blocks.{level}.upsamplers.0.{rest}";
            return $"up_blocks.{level}.attentions.{j}.{rest}";
        }
        throw new InvalidOperationException($"No diffusers name for UNet key {ldmKey}.");
    }

    private static string ResBlockToDiffusers(string rest) => rest switch
    {
        _ when rest.StartsWith("in_layers.0.") => "norm1." + rest["in_layers.0.".Length..],
        _ when rest.StartsWith("in_layers.2.") => "conv1." + rest["in_layers.2.".Length..],
        _ when rest.StartsWith("emb_layers.1.") => "time_emb_proj." + rest["emb_layers.1.".Length..],
        _ when rest.StartsWith("out_layers.0.") => "norm2." + rest["out_layers.0.".Length..],
        _ when rest.StartsWith("out_layers.3.") => "conv2." + rest["out_layers.3.".Length..],
        _ when rest.StartsWith("skip_connection.") => "conv_shortcut." + rest["skip_connection.".Length..],
        _ => throw new InvalidOperationException($"No diffusers name for res-block key {rest}."),
    };

    /// <summary>LDM VAE key → diffusers <c>vae/</c> key. <paramref name="levels"/> is the length of ch_mult.</summary>
    public static string VaeToDiffusers(string ldmKey, int levels)
    {
        string key = ldmKey;
        foreach (var side in new[] { "encoder.", "decoder." })
        {
            if (!key.StartsWith(side)) continue;
            string rest = key[side.Length..];
            if (rest.StartsWith("norm_out.")) return side + "conv_norm_out." + rest["norm_out.".Length..];
            if (rest.StartsWith("conv_in.") || rest.StartsWith("conv_out.")) return key;
            var m = VaeLevelBlock().Match(rest);
            if (m.Success)
            {
                int level = int.Parse(m.Groups[2].Value);
                int index = m.Groups[1].Value == "down" ? level : levels - 1 - level;
                string blockKind = m.Groups[1].Value == "down" ? "down_blocks" : "up_blocks";
                string inner = m.Groups[3].Value;
                var block = VaeResBlock().Match(inner);
                if (block.Success)
                    return $"{side}{blockKind}.{index}.resnets.{block.Groups[1].Value}.{VaeResnetRest(block.Groups[2].Value)}";
                if (inner.StartsWith("downsample.conv.")) return $"{side}{blockKind}.{index}.downsamplers.0.conv.{inner["downsample.conv.".Length..]}";
                if (inner.StartsWith("upsample.conv.")) return $"{side}{blockKind}.{index}.upsamplers.0.conv.{inner["upsample.conv.".Length..]}";
            }
            if (rest.StartsWith("mid.block_1.")) return side + "mid_block.resnets.0." + VaeResnetRest(rest["mid.block_1.".Length..]);
            if (rest.StartsWith("mid.block_2.")) return side + "mid_block.resnets.1." + VaeResnetRest(rest["mid.block_2.".Length..]);
            if (rest.StartsWith("mid.attn_1."))
            {
                string a = rest["mid.attn_1.".Length..];
                string mapped = a.StartsWith("norm.") ? "group_norm." + a["norm.".Length..]
                    : a.StartsWith("q.") ? "to_q." + a[2..]
                    : a.StartsWith("k.") ? "to_k." + a[2..]
                    : a.StartsWith("v.") ? "to_v." + a[2..]
                    : a.StartsWith("proj_out.") ? "to_out.0." + a["proj_out.".Length..]
                    : throw new InvalidOperationException($"No diffusers name for VAE key {ldmKey}.");
                return side + "mid_block.attentions.0." + mapped;
            }
        }
        if (key.StartsWith("quant_conv.") || key.StartsWith("post_quant_conv.")) return key;
        throw new InvalidOperationException($"No diffusers name for VAE key {ldmKey}.");
    }

    /// <summary>
    /// The VAE's middle attention stores 1×1 conv kernels (C, C, 1, 1) in LDM files and Linear weights (C, C) in
    /// diffusers files; these keys need a reshape when crossing layouts.
    /// </summary>
    public static bool IsVaeAttentionProjection(string ldmKey) =>
        ldmKey.Contains("mid.attn_1.") && ldmKey.EndsWith(".weight") && !ldmKey.Contains(".norm.");

    private static string VaeResnetRest(string rest) =>
        rest.StartsWith("nin_shortcut.") ? "conv_shortcut." + rest["nin_shortcut.".Length..] : rest;

    [GeneratedRegex(@"^input_blocks\.(\d+)\.(\d+)\.(.+)$")]
    private static partial Regex InputBlock();
    [GeneratedRegex(@"^middle_block\.(\d+)\.(.+)$")]
    private static partial Regex MiddleBlock();
    [GeneratedRegex(@"^output_blocks\.(\d+)\.(\d+)\.(.+)$")]
    private static partial Regex OutputBlock();
    [GeneratedRegex(@"^(down|up)\.(\d+)\.(.+)$")]
    private static partial Regex VaeLevelBlock();
    [GeneratedRegex(@"^block\.(\d+)\.(.+)$")]
    private static partial Regex VaeResBlock();
}
