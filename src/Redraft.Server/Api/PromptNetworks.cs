using System.Globalization;
using System.Text.RegularExpressions;
using Redraft.Diffusion.Checkpoints;

namespace Redraft.Server.Api;

/// <summary>
/// Extra networks in a prompt, the way A1111's API clients apply LoRAs: every <c>&lt;name:args&gt;</c> tag is taken out
/// of the text the model reads; <c>&lt;lora:NAME:WEIGHT&gt;</c> (and its alias <c>lyco</c>) adds the LoRA whose file
/// stem is NAME in the models folder's <c>Lora</c> sub-folder. As in A1111, a LoRA that is not there is skipped and
/// other tags are dropped. The prompt A1111 reports (info, infotext) keeps the tags; only the model's text loses them.
/// </summary>
internal static partial class PromptNetworks
{
    [GeneratedRegex(@"<(\w+):([^>]+)>", RegexOptions.CultureInvariant)]
    private static partial Regex Tag();

    /// <summary>A LoRA a prompt names and found: the name as written in the tag, and its file.</summary>
    public sealed record LoraMention(string Name, string Path);

    /// <summary>What the prompt's tags ask for.</summary>
    /// <param name="Prompt">The prompt without its tags: the text the model encodes.</param>
    /// <param name="Loras">The LoRAs to apply (none when extra networks are off).</param>
    /// <param name="Mentions">The same LoRAs with the names the prompt gives them, in prompt order (for <c>Lora hashes</c>).</param>
    public sealed record Result(string Prompt, IReadOnlyList<LoraSpec> Loras, IReadOnlyList<LoraMention> Mentions);

    /// <summary>The prompt without its tags, and the LoRAs they name (none when <paramref name="apply"/> is false).</summary>
    /// <exception cref="ApiException">422: a LoRA tag with a weight Redraft cannot honour.</exception>
    public static Result Extract(string prompt, ModelFolder models, bool apply)
    {
        var loras = new List<LoraSpec>();
        var mentions = new List<LoraMention>();
        string text = Tag().Replace(prompt, m =>
        {
            string network = m.Groups[1].Value.ToLowerInvariant();
            if (!apply || network is not ("lora" or "lyco")) return "";
            var args = m.Groups[2].Value.Split(':');
            string name = args[0].Trim();
            var positional = args.Skip(1).Where(a => !a.Contains('=')).ToList();
            var named = args.Skip(1).Where(a => a.Contains('=')).Select(a => a.Split('=', 2)).ToDictionary(a => a[0].Trim(), a => a[1].Trim());
            string? teText = named.GetValueOrDefault("te") ?? positional.ElementAtOrDefault(0);
            string? unetText = named.GetValueOrDefault("unet") ?? positional.ElementAtOrDefault(1);
            double te = Weight(teText, m.Value) ?? 1.0;
            double unet = Weight(unetText, m.Value) ?? te;
            if (unet != te) throw ApiException.Unprocessable($"{m.Value}: separate text-encoder and UNet weights are not available in Redraft; give one weight.");
            if (named.ContainsKey("dyn") || positional.Count > 2) throw ApiException.Unprocessable($"{m.Value}: a rank limit (dyn) is not available in Redraft.");
            var file = models.FindLora(name);
            if (file is not null)
            {
                loras.Add(new LoraSpec(file, te));
                mentions.Add(new LoraMention(name, file));
            }
            return "";
        });
        return new Result(text, loras, mentions);
    }

    private static double? Weight(string? text, string tag)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double w) && double.IsFinite(w)) return w;
        throw ApiException.Unprocessable($"{tag}: \"{text}\" is not a weight; write <lora:NAME:0.8>.");
    }
}
