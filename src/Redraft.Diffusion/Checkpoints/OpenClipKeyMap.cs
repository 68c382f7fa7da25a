using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// The one table between OpenCLIP's text-tower names (SD 2.x single files, under <c>cond_stage_model.model.</c>) and
/// Hugging Face <c>CLIPTextModel</c> names (diffusers' <c>text_encoder/</c>). Keys here are relative to the tower.
/// <list type="bullet">
/// <item><c>token_embedding.weight</c> ↔ <c>text_model.embeddings.token_embedding.weight</c>;
/// <c>positional_embedding</c> ↔ <c>text_model.embeddings.position_embedding.weight</c>;
/// <c>ln_final</c> ↔ <c>text_model.final_layer_norm</c>.</item>
/// <item><c>transformer.resblocks.N.</c> ↔ <c>text_model.encoder.layers.N.</c> with <c>ln_1</c>/<c>ln_2</c> ↔
/// <c>layer_norm1</c>/<c>layer_norm2</c>, <c>attn.out_proj</c> ↔ <c>self_attn.out_proj</c>, <c>mlp.c_fc</c>/<c>mlp.c_proj</c>
/// ↔ <c>mlp.fc1</c>/<c>mlp.fc2</c>, and the fused <c>attn.in_proj_weight</c>/<c>in_proj_bias</c> split by rows into
/// <c>self_attn.q_proj</c>, <c>k_proj</c>, <c>v_proj</c> (in that order).</item>
/// <item><c>text_projection</c> and <c>logit_scale</c> (CLIP's contrastive head) have no counterpart in
/// <c>CLIPTextModel</c> and are dropped.</item>
/// </list>
/// Diffusers' SD 2.x conversion also drops the last residual block: SD conditions on the penultimate layer, so its
/// <c>text_encoder</c> has 23 of ViT-H's 24 layers and uses the last of them (config <c>num_hidden_layers: 23</c>).
/// </summary>
internal static partial class OpenClipKeyMap
{
    /// <summary>Where an SD 2.x single file keeps its text tower.</summary>
    public const string Prefix = "cond_stage_model.model.";

    /// <summary>Tensors stored with the tower that conditioning does not use, with their shapes for a tower of <paramref name="width"/>.</summary>
    public static IReadOnlyList<(string Key, long[] Shape)> UnusedTensors(int width) =>
        [("text_projection", [width, width]), ("logit_scale", [])];

    /// <summary>
    /// Converts an OpenCLIP-named tower to Hugging Face names, keeping the first <paramref name="keepLayers"/>
    /// residual blocks. Returns new tensors (slices are cloned); the inputs stay owned by the caller.
    /// </summary>
    public static List<(string Key, Tensor Value)> ToHuggingFace(IEnumerable<(string Key, Tensor Value)> openClip, int keepLayers)
    {
        var result = new List<(string, Tensor)>();
        foreach (var (key, value) in openClip)
        {
            switch (key)
            {
                case "token_embedding.weight": result.Add(("text_model.embeddings.token_embedding.weight", value.clone())); continue;
                case "positional_embedding": result.Add(("text_model.embeddings.position_embedding.weight", value.clone())); continue;
                case "text_projection" or "logit_scale": continue;
            }
            if (key.StartsWith("ln_final.", StringComparison.Ordinal))
            {
                result.Add(("text_model.final_layer_norm." + key["ln_final.".Length..], value.clone()));
                continue;
            }
            var m = ResBlock().Match(key);
            if (!m.Success) throw new InvalidOperationException($"No Hugging Face name for OpenCLIP text key {key}.");
            int layer = int.Parse(m.Groups[1].Value);
            if (layer >= keepLayers) continue;
            string hf = $"text_model.encoder.layers.{layer}.";
            string rest = m.Groups[2].Value;
            if (rest is "attn.in_proj_weight" or "attn.in_proj_bias")
            {
                string kind = rest.EndsWith("weight") ? "weight" : "bias";
                long c = value.shape[0] / 3;
                string[] names = ["q_proj", "k_proj", "v_proj"];
                for (int i = 0; i < 3; i++)
                {
                    using var rows = value.narrow(0, i * c, c);
                    result.Add(($"{hf}self_attn.{names[i]}.{kind}", rows.clone()));
                }
                continue;
            }
            result.Add((hf + BlockPart(rest, key), value.clone()));
        }
        return result;
    }

    private static string BlockPart(string rest, string key)
    {
        foreach (var (from, to) in BlockParts)
            if (rest.StartsWith(from, StringComparison.Ordinal)) return to + rest[from.Length..];
        throw new InvalidOperationException($"No Hugging Face name for OpenCLIP text key {key}.");
    }

    private static readonly (string From, string To)[] BlockParts =
    [
        ("ln_1.", "layer_norm1."),
        ("ln_2.", "layer_norm2."),
        ("attn.out_proj.", "self_attn.out_proj."),
        ("mlp.c_fc.", "mlp.fc1."),
        ("mlp.c_proj.", "mlp.fc2."),
    ];

    [GeneratedRegex(@"^transformer\.resblocks\.(\d+)\.(.+)$")]
    private static partial Regex ResBlock();
}
