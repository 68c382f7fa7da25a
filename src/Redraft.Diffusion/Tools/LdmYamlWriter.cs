using System.Globalization;
using System.Text;
using Redraft.Diffusion.Checkpoints;

namespace Redraft.Diffusion.Tools;

/// <summary>Writes a model description as a config in the original latent-diffusion YAML layout (what <see cref="LdmYamlConfig"/> reads).</summary>
internal static class LdmYamlWriter
{
    public static string Format(ModelDescription d)
    {
        static string List(IEnumerable<int> xs) => "[" + string.Join(", ", xs) + "]";
        var inv = CultureInfo.InvariantCulture;
        var u = d.UNet;
        var v = d.Vae;
        var sb = new StringBuilder();
        sb.AppendLine("# Written by redraft make-model; same layout as v1-inference.yaml / v2-inference.yaml.");
        sb.AppendLine("model:");
        sb.AppendLine("  target: ldm.models.diffusion.ddpm.LatentDiffusion");
        sb.AppendLine("  params:");
        sb.AppendLine(string.Format(inv, "    linear_start: {0}", d.LinearStart));
        sb.AppendLine(string.Format(inv, "    linear_end: {0}", d.LinearEnd));
        sb.AppendLine(string.Format(inv, "    timesteps: {0}", d.TrainTimesteps));
        sb.AppendLine("    channels: 4");
        sb.AppendLine("    conditioning_key: crossattn");
        sb.AppendLine(string.Format(inv, "    scale_factor: {0}", v.ScaleFactor));
        if (d.Prediction == PredictionType.V) sb.AppendLine("    parameterization: \"v\"");
        sb.AppendLine("    unet_config:");
        sb.AppendLine("      target: ldm.modules.diffusionmodules.openaimodel.UNetModel");
        sb.AppendLine("      params:");
        sb.AppendLine($"        in_channels: {u.InChannels}");
        sb.AppendLine($"        out_channels: {u.OutChannels}");
        sb.AppendLine($"        model_channels: {u.ModelChannels}");
        sb.AppendLine($"        attention_resolutions: {List(u.AttentionResolutions)}");
        sb.AppendLine($"        num_res_blocks: {u.NumResBlocks}");
        sb.AppendLine($"        channel_mult: {List(u.ChannelMult)}");
        sb.AppendLine($"        num_heads: {u.NumHeads}");
        if (u.NumHeadChannels > 0) sb.AppendLine($"        num_head_channels: {u.NumHeadChannels}");
        sb.AppendLine("        use_spatial_transformer: true");
        sb.AppendLine($"        transformer_depth: {u.TransformerDepth}");
        sb.AppendLine($"        context_dim: {u.ContextDim}");
        if (u.UseLinearInTransformer) sb.AppendLine("        use_linear_in_transformer: true");
        sb.AppendLine("        legacy: false");
        sb.AppendLine("    first_stage_config:");
        sb.AppendLine("      target: ldm.models.autoencoder.AutoencoderKL");
        sb.AppendLine("      params:");
        sb.AppendLine($"        embed_dim: {v.EmbedDim}");
        sb.AppendLine("        ddconfig:");
        sb.AppendLine("          double_z: true");
        sb.AppendLine($"          z_channels: {v.ZChannels}");
        sb.AppendLine($"          in_channels: {v.InChannels}");
        sb.AppendLine($"          out_ch: {v.OutChannels}");
        sb.AppendLine($"          ch: {v.Channels}");
        sb.AppendLine($"          ch_mult: {List(v.ChannelMult)}");
        sb.AppendLine($"          num_res_blocks: {v.NumResBlocks}");
        sb.AppendLine("          attn_resolutions: []");
        sb.AppendLine("    cond_stage_config:");
        if (d.PadToken == 0)
        {
            sb.AppendLine("      target: ldm.modules.encoders.modules.FrozenOpenCLIPEmbedder");
            sb.AppendLine("      params:");
            sb.AppendLine("        freeze: true");
            sb.AppendLine(d.Text.SkipLastLayers > 0 ? "        layer: \"penultimate\"" : "        layer: \"last\"");
        }
        else
        {
            sb.AppendLine("      target: ldm.modules.encoders.modules.FrozenCLIPEmbedder");
        }
        return sb.ToString();
    }
}
