using System.Globalization;
using System.Text.Json.Nodes;
using Redraft.Studio.Generation;

namespace Redraft.Server.Api;

/// <summary>
/// The infotexts and PNGs the API answers with: AUTOMATIC1111 v1.10's, made from the generation's infotext (the
/// command line's, whose keys and order the recorded PNGs of documents keep). What A1111's API writes differently:
/// the keys in <c>create_infotext</c>'s order (<see cref="GenerationInfo.FormatInA1111Order"/>) with
/// <c>Schedule type</c> always present ("Automatic" for a sampler's own schedule, A1111's labels); its
/// <c>extra_generation_params</c> in the order A1111 adds them (mask, LoRAs, noise schedule, sampler), Redraft's own
/// keys after them; the prompt as the request gave it after its styles, LoRA tags included (A1111 takes the tags out
/// only of the text it encodes); <c>Lora hashes</c> where the command line writes <c>Lora</c>; <c>Eta DDIM</c> only
/// when not 0; no <c>Mask blur</c> of 0 or <c>Masked content</c> "original" (A1111's defaults, which it does not
/// write); <c>Mask mode</c> for an inverted mask; the VAE's file name with its extension. Each PNG is encoded again
/// with its <c>parameters</c> chunk equal to its infotext.
/// </summary>
internal static class ApiInfotexts
{
    /// <summary>One answered image: its PNG bytes and its infotext.</summary>
    public sealed record Picture(byte[] Png, GenerationInfo Info, string Infotext);

    /// <summary>
    /// The keys A1111 adds to <c>extra_generation_params</c>, in the order it adds them: the img2img mask
    /// (<c>StableDiffusionProcessingImg2Img.init</c>), the LoRAs (extra networks' activation), the noise schedule
    /// (<c>apply_alpha_schedule_override</c>), then the sampler's: a k-diffusion sampler's schedule (<c>get_sigmas</c>;
    /// in the infotext it keeps its fixed place) and eta (<c>initialize</c>).
    /// </summary>
    private static readonly string[] A1111ExtraOrder =
        ["Mask mode", "Mask blur", "Inpaint area", "Masked area padding", "Masked content", "Lora hashes", "Noise Schedule", "Schedule type", "Eta DDIM"];

    /// <summary>The timestep samplers: A1111 runs them outside k-diffusion, which is what records a scheduler in <c>extra_generation_params</c>.</summary>
    private static readonly HashSet<string> TimestepSamplers = new(StringComparer.Ordinal) { "DDIM", "PLMS", "UniPC" };

    /// <summary>The pictures of <paramref name="output"/> as <paramref name="request"/>'s answer reports them.</summary>
    public static IReadOnlyList<Picture> For(ApiGeneration request, GenerationOutput output)
    {
        string? loraHashes = request.LoraMentions.Count == 0 ? null : LoraHashes.Infotext(request.LoraMentions);
        var pictures = new List<Picture>(output.Images.Count);
        foreach (var picture in output.Images)
        {
            var info = A1111Info(picture.Info, request, output.Settings, loraHashes);
            string text = info.FormatInA1111Order();
            byte[] png = ImageFiles.EncodePng(picture.Image, new Dictionary<string, string> { ["parameters"] = text });
            pictures.Add(new Picture(png, info, text));
        }
        return pictures;
    }

    /// <summary>The generation's infotext with A1111's API's prompts, keys and values (see the class summary).</summary>
    private static GenerationInfo A1111Info(GenerationInfo info, ApiGeneration request, GenerationSettings settings, string? loraHashes)
    {
        var pairs = new List<(string Key, string Value)> { ("Schedule type", A1111Samplers.ScheduleType(settings.Schedule)) };
        if (request.Inputs?.Mask is not null && settings.MaskInvert) pairs.Add(("Mask mode", "Inpaint not masked"));
        foreach (var (key, value) in info.Extra)
        {
            switch (key)
            {
                case "Schedule type":
                case "Mask blur" when value == "0":
                case "Masked content" when value == "original":
                    break;
                case "Lora":
                    if (loraHashes is not null) pairs.Add(("Lora hashes", loraHashes));
                    break;
                case "Eta":
                    if (double.Parse(value, CultureInfo.InvariantCulture) != 0) pairs.Add(("Eta DDIM", value));
                    break;
                case "Noise schedule":
                    pairs.Add(("Noise Schedule", value));
                    break;
                case "VAE":
                    pairs.Add((key, settings.Vae is { } vae ? Path.GetFileName(vae) : value));
                    break;
                default:
                    pairs.Add((key, value));
                    break;
            }
        }
        // Stable: A1111's extra keys in its order, the rest (fixed keys, which FormatInA1111Order puts in their places,
        // and Redraft's own) after.
        var extra = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in pairs.OrderBy(p => Array.IndexOf(A1111ExtraOrder, p.Key) is >= 0 and var i ? i : A1111ExtraOrder.Length))
            extra[key] = value;
        return info with { Prompt = request.ReportedPrompt, NegativePrompt = request.ReportedNegative, Extra = extra };
    }

    /// <summary>
    /// A1111's <c>extra_generation_params</c> for an infotext: the keys that are not among <c>create_infotext</c>'s fixed
    /// ones, plus those of its fixed keys A1111 sets through that dict (<c>Denoising strength</c> for img2img, a
    /// k-diffusion sampler's <c>Schedule type</c> other than "Automatic"), in the infotext's order; numbers as numbers.
    /// </summary>
    public static JsonObject ExtraGenerationParams(GenerationInfo info, bool img2img)
    {
        var result = new JsonObject();
        if (img2img && info.DenoisingStrength is { } strength) result["Denoising strength"] = strength;
        foreach (var (key, value) in info.Extra)
        {
            bool scheduler = key == "Schedule type" && value != "Automatic" && !TimestepSamplers.Contains(info.Sampler);
            if (!scheduler && (InfotextOrder.FixedKeys.Contains(key) || InfotextOrder.TrailingKeys.Contains(key))) continue;
            result[key] = long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long whole) ? whole
                : double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) && double.IsFinite(number) ? number
                : value;
        }
        return result;
    }
}
