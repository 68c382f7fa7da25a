using System.Text.Json.Serialization;

namespace Redraft.Server.Api;

/// <summary>
/// What <c>GET /sdapi/v1/options</c> answers before the options clients posted (<see cref="ServerSettingsStore"/>) are laid over it: the A1111 v1.10 settings clients read, each with the value that holds
/// for Redraft (A1111's own default where Redraft behaves as that default). A1111 answers all of its ~330 settings;
/// Redraft answers these, every one a key of A1111's with its type (the contract test checks both against
/// A1111's source). A request changes them for itself through <c>override_settings</c>.
/// </summary>
internal sealed record OptionsModel
{
    /// <summary>The default checkpoint's title (<c>name.safetensors [hash]</c>), null when there is none.</summary>
    [JsonPropertyName("sd_model_checkpoint")] public string? SdModelCheckpoint { get; init; }
    /// <summary>Its sha256 once known (openOutpaint compares it with <c>sd-models</c>' <c>sha256</c>).</summary>
    [JsonPropertyName("sd_checkpoint_hash")] public string? SdCheckpointHash { get; init; }
    [JsonPropertyName("sd_vae")] public string SdVae { get; init; } = "Automatic";
    [JsonPropertyName("CLIP_stop_at_last_layers")] public int ClipStopAtLastLayers { get; init; } = 1;
    [JsonPropertyName("eta_noise_seed_delta")] public int EtaNoiseSeedDelta { get; init; }
    /// <summary>"CPU": a CPU server's "GPU" source is the CPU generator.</summary>
    [JsonPropertyName("randn_source")] public string RandnSource { get; init; } = "CPU";
    [JsonPropertyName("eta_ancestral")] public double EtaAncestral { get; init; } = 1.0;
    [JsonPropertyName("eta_ddim")] public double EtaDdim { get; init; }
    [JsonPropertyName("s_churn")] public double SChurn { get; init; }
    [JsonPropertyName("s_tmin")] public double STmin { get; init; }
    [JsonPropertyName("s_tmax")] public double STmax { get; init; }
    [JsonPropertyName("s_noise")] public double SNoise { get; init; } = 1.0;
    [JsonPropertyName("s_min_uncond")] public double SMinUncond { get; init; }
    [JsonPropertyName("samples_format")] public string SamplesFormat { get; init; } = "png";
    [JsonPropertyName("enable_pnginfo")] public bool EnablePngInfo { get; init; } = true;
    [JsonPropertyName("live_previews_enable")] public bool LivePreviewsEnable { get; init; }
    /// <summary>Live previews every this many steps; -1 = none (no TAESD weights).</summary>
    [JsonPropertyName("show_progress_every_n_steps")] public int ShowProgressEveryNSteps { get; init; } = -1;
    [JsonPropertyName("show_progress_type")] public string ShowProgressType { get; init; } = "TAESD";
    [JsonPropertyName("initial_noise_multiplier")] public double InitialNoiseMultiplier { get; init; } = 1.0;
    [JsonPropertyName("inpainting_mask_weight")] public double InpaintingMaskWeight { get; init; } = 1.0;
    [JsonPropertyName("img2img_color_correction")] public bool Img2ImgColorCorrection { get; init; }
    [JsonPropertyName("img2img_fix_steps")] public bool Img2ImgFixSteps { get; init; }
    [JsonPropertyName("img2img_background_color")] public string Img2ImgBackgroundColor { get; init; } = "#ffffff";
    [JsonPropertyName("return_grid")] public bool ReturnGrid { get; init; } = true;
    [JsonPropertyName("grid_only_if_multiple")] public bool GridOnlyIfMultiple { get; init; } = true;
    [JsonPropertyName("face_restoration")] public bool FaceRestoration { get; init; }
    [JsonPropertyName("tiling")] public bool Tiling { get; init; }
    [JsonPropertyName("sd_lora")] public string SdLora { get; init; } = "None";
    [JsonPropertyName("lora_add_hashes_to_infotext")] public bool LoraAddHashesToInfotext { get; init; } = true;
    /// <summary>One checkpoint in memory at a time (Redraft's model cache).</summary>
    [JsonPropertyName("sd_checkpoints_limit")] public int SdCheckpointsLimit { get; init; } = 1;
}
