using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Redraft.Server.Api;

/// <summary>
/// The A1111 options Redraft acts on, wherever they come from: <c>POST /sdapi/v1/options</c> (kept by
/// <see cref="ServerSettingsStore"/>) or a request's <c>override_settings</c> (which win for that request, as in
/// A1111). <c>sd_model_checkpoint</c> and <c>sd_vae</c> choose files of the <see cref="ModelFolder"/>;
/// <c>randn_source</c> the noise source; <c>live_previews_enable</c> and <c>show_progress_every_n_steps</c> the live
/// previews; <c>eta_noise_seed_delta</c> is accepted where it changes nothing. A value Redraft cannot honour is a 422
/// naming the option, never a different picture; options Redraft does not know are kept as sent.
/// </summary>
internal static class A1111Options
{
    public const string Checkpoint = "sd_model_checkpoint";
    public const string CheckpointHash = "sd_checkpoint_hash";
    public const string Vae = "sd_vae";
    public const string ClipSkip = "CLIP_stop_at_last_layers";
    public const string LivePreviews = "live_previews_enable";
    public const string PreviewEvery = "show_progress_every_n_steps";
    public const string SamplesFormat = "samples_format";
    public const string NoiseSeedDelta = "eta_noise_seed_delta";
    public const string RandnSource = "randn_source";

    /// <summary>
    /// Options of A1111's that change its pictures and have no Redraft equivalent yet, with the one value that changes
    /// nothing: a POST of that value (a client posting the GET body back) is kept, another is refused.
    /// </summary>
    private static readonly (string Key, JsonValue Neutral, string What)[] NeutralOnly =
    [
        ("eta_ancestral", JsonValue.Create(1.0), "an eta other than 1 for ancestral samplers"),
        ("eta_ddim", JsonValue.Create(0.0), "a default DDIM eta other than 0 (send eta with the request instead)"),
        ("s_churn", JsonValue.Create(0.0), "stochastic churn"),
        ("s_noise", JsonValue.Create(1.0), "a noise multiplier other than 1"),
        ("initial_noise_multiplier", JsonValue.Create(1.0), "an initial noise multiplier other than 1"),
        ("inpainting_mask_weight", JsonValue.Create(1.0), "an inpainting conditioning mask strength other than 1"),
        ("img2img_color_correction", JsonValue.Create(false), "img2img colour correction"),
        ("img2img_fix_steps", JsonValue.Create(false), "running all steps in img2img"),
        ("img2img_background_color", JsonValue.Create("#ffffff"), "a background other than white for transparent init images"),
        ("face_restoration", JsonValue.Create(false), "face restoration"),
        ("sd_lora", JsonValue.Create("None"), "a LoRA added to every prompt"),
    ];

    /// <summary>A checked <c>POST /sdapi/v1/options</c> body.</summary>
    /// <param name="Values">What to keep: Redraft's options with their types, the others as sent.</param>
    /// <param name="Model">The checkpoint <c>sd_model_checkpoint</c> names, or null when not sent.</param>
    public sealed record Posted(JsonObject Values, ModelFolder.Checkpoint? Model);

    /// <summary>Checks every option of <paramref name="body"/> before any is applied (a refused POST changes nothing).</summary>
    /// <exception cref="ApiValidationException">An option Redraft acts on has the wrong type (FastAPI's 422).</exception>
    /// <exception cref="ApiException">422: a value Redraft cannot honour, a checkpoint or VAE not in the models folder.</exception>
    public static Posted Validate(JsonObject body, ModelFolder models)
    {
        var f = new RequestFields(body, new JsonObject());
        var values = new JsonObject();
        foreach (var (key, value) in body)
            if (key is not (Checkpoint or CheckpointHash)) values[key] = value?.DeepClone();

        string? checkpointName = f.String(Checkpoint);
        string? vae = f.String(Vae);
        int? clipSkip = f.Has(ClipSkip) ? f.Int(ClipSkip, 1) : null;
        bool? live = f.Has(LivePreviews) ? f.Bool(LivePreviews, true) : null;
        int? every = f.Has(PreviewEvery) ? f.Int(PreviewEvery, 0) : null;
        string? format = f.String(SamplesFormat);
        long? delta = f.Has(NoiseSeedDelta) ? f.Long(NoiseSeedDelta, 0) : null;
        string? randn = f.String(RandnSource);
        // Each neutral-only option as sent, read with the neutral value's type, and whether it is that value.
        var neutral = new List<(string Key, JsonValue Neutral, string What, JsonNode Sent, bool Same)>();
        foreach (var (key, value, what) in NeutralOnly.Where(n => f.Has(n.Key)))
        {
            switch (value.GetValueKind())
            {
                case JsonValueKind.Number:
                    double number = f.Double(key, 0);
                    neutral.Add((key, value, what, number, number == value.GetValue<double>()));
                    break;
                case JsonValueKind.String:
                    string t = (f.String(key) ?? "").Trim();
                    neutral.Add((key, value, what, t, t.Equals(value.GetValue<string>(), StringComparison.OrdinalIgnoreCase) || (key == "sd_lora" && t == "")));
                    break;
                default:
                    bool b = f.Bool(key, false);
                    neutral.Add((key, value, what, b, b == value.GetValue<bool>()));
                    break;
            }
        }
        f.ThrowIfInvalid();

        ModelFolder.Checkpoint? model = null;
        if (!string.IsNullOrWhiteSpace(checkpointName))
        {
            model = models.Resolve(checkpointName);
            values[Checkpoint] = model.Name;
        }
        if (vae is not null)
        {
            if (!IsAutomatic(vae)) models.ResolveVae(vae, Vae);
            values[Vae] = vae;
        }
        if (clipSkip is { } skip)
        {
            if (skip > 1) throw Unsupported(ClipSkip, "clip skip is not available in Redraft yet; send 1");
            values[ClipSkip] = skip;
        }
        if (live is { } l) values[LivePreviews] = l;
        if (every is { } e) values[PreviewEvery] = e;
        if (format is not null)
        {
            if (!format.Trim().Equals("png", StringComparison.OrdinalIgnoreCase))
                throw Unsupported(SamplesFormat, $"\"{format}\" is not available in Redraft, whose API returns PNG images; send png");
            values[SamplesFormat] = format;
        }
        if (delta is { } d) values[NoiseSeedDelta] = d;
        if (randn is not null)
        {
            ParseRandnSource(randn, RandnSource);
            values[RandnSource] = randn.Trim().ToUpperInvariant();
        }
        foreach (var (key, neutralValue, what, sent, same) in neutral)
        {
            if (!same) throw Unsupported(key, $"{what} is not available in Redraft; send {neutralValue.ToJsonString()}");
            values[key] = sent.DeepClone();
        }
        return new Posted(values, model);
    }

    /// <summary>What a generation request runs with from the options.</summary>
    /// <param name="Model">The checkpoint (absolute path).</param>
    /// <param name="Vae">A VAE file, or null for the checkpoint's own.</param>
    /// <param name="Rng">Redraft's noise source.</param>
    /// <param name="PreviewEvery">Live previews every this many steps (0 = none).</param>
    /// <param name="NoiseSeedDelta">A1111's ENSD, refused by the caller for samplers it would change.</param>
    /// <param name="NoiseSeedDeltaSource">Where that value came from, for the message.</param>
    public sealed record ForGeneration(string Model, string? Vae, string Rng, int PreviewEvery, long NoiseSeedDelta, string NoiseSeedDeltaSource);

    /// <summary>
    /// The options a request runs with: its <c>override_settings</c> over the server's options. UI settings and
    /// unknown keys change nothing.
    /// </summary>
    /// <exception cref="ApiException">422: a value Redraft cannot honour, or a checkpoint or VAE that is not there.</exception>
    public static ForGeneration ForRequest(JsonObject? overrides, JsonObject stored, ApiContext context)
    {
        JsonValue? Get(string key) => (overrides?[key] ?? (key == Checkpoint ? null : stored[key])) as JsonValue;
        string Source(string key) => overrides?[key] is not null ? $"override_settings.{key}" : $"{key} (a server option: POST /sdapi/v1/options)";
        string? Text(string key) => Get(key) is { } v ? v.ToString() : null;
        double? Number(string key) => Get(key) is { } v
            ? v.GetValueKind() switch
            {
                JsonValueKind.True => 1,
                JsonValueKind.False => 0,
                _ when double.TryParse(v.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
                _ when bool.TryParse(v.ToString().Trim(), out bool b) => b ? 1 : 0,
                _ => null,
            }
            : null;

        string model = Text(Checkpoint) is { Length: > 0 } asked
            ? context.Models.Resolve(asked).Path
            : context.DefaultModel ?? throw ApiException.Unprocessable(
                $"no model is loaded: start redraft serve with --model, put a checkpoint in {context.Models.Root}, or send override_settings.sd_model_checkpoint.");
        string? vae = Text(Vae) is { } name && !IsAutomatic(name) ? context.Models.ResolveVae(name, Source(Vae)) : null;
        if (Number(ClipSkip) is > 1)
            throw Unsupported(Source(ClipSkip), "clip skip is not available in Redraft yet; send 1");
        string rng = ParseRandnSource(Text(RandnSource), Source(RandnSource));
        int preview = context.PreviewEvery;
        if (Number(LivePreviews) is 0) preview = 0;
        else if (Number(PreviewEvery) is { } every && preview > 0) preview = (int)Math.Clamp(every, 0, int.MaxValue);
        long delta = Number(NoiseSeedDelta) is { } ensd ? (long)ensd : 0;
        return new ForGeneration(model, vae, rng, preview, delta, Source(NoiseSeedDelta));
    }

    /// <summary>A1111's "Automatic" and "None" both mean the checkpoint's own VAE in Redraft.</summary>
    private static bool IsAutomatic(string vae) => vae.Trim() is "" or "Automatic" or "None";

    /// <summary>A1111's noise sources: "GPU" is the CPU generator on a CPU server, "NV" the CUDA generator's numbers.</summary>
    private static string ParseRandnSource(string? value, string field) => value?.Trim().ToUpperInvariant() switch
    {
        null or "" or "GPU" or "CPU" => "cpu",
        "NV" => "nv",
        var other => throw Unsupported(field, $"\"{other}\" is not a noise source; use GPU, CPU or NV"),
    };

    private static ApiException Unsupported(string field, string why) => ApiException.Unprocessable($"{field}: {why}.");
}
