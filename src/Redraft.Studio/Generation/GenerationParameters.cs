namespace Redraft.Studio.Generation;

/// <summary>
/// The one table of generation parameter names: each <see cref="GenerationSettings"/> property with its
/// command-line option, its AUTOMATIC1111 API field and its key in a document's history record. The command line
/// builds its options from it, the history reads and writes its keys from it, and the server maps JSON fields with
/// it, so a parameter cannot be spelled two ways. A null column means the parameter has no name on that side.
/// </summary>
public static class GenerationParameters
{
    /// <summary>One parameter's names.</summary>
    /// <param name="Property">The <see cref="GenerationSettings"/> property.</param>
    /// <param name="Cli">Command-line option (<c>--steps</c>).</param>
    /// <param name="A1111">AUTOMATIC1111 JSON field (<c>steps</c>); <c>override_settings.X</c> for a setting.</param>
    /// <param name="History">Key in a history row's parameters JSON.</param>
    /// <param name="Description">What it means, for help texts.</param>
    public sealed record Parameter(string Property, string? Cli, string? A1111, string? History, string Description);

    /// <summary>Every parameter, in the order help texts list them.</summary>
    public static IReadOnlyList<Parameter> All { get; } =
    [
        new(nameof(GenerationSettings.Model), "--model", "override_settings.sd_model_checkpoint", "model", "Checkpoint (.safetensors, original layout) or diffusers folder"),
        new(nameof(GenerationSettings.Config), "--config", null, "config", "Original-format YAML config (default: <model>.yaml beside it, else detected)"),
        new(nameof(GenerationSettings.Vae), "--vae", "override_settings.sd_vae", "vae", "Standalone VAE .safetensors replacing the checkpoint's, or taesd"),
        new(nameof(GenerationSettings.Prompt), "--prompt", "prompt", "prompt", "What to draw; A1111 syntax: (word:1.3), [word], BREAK"),
        new(nameof(GenerationSettings.Negative), "--negative", "negative_prompt", "negative", "What to avoid"),
        new(nameof(GenerationSettings.Width), "--width", "width", "width", "Working width in pixels, a multiple of 8"),
        new(nameof(GenerationSettings.Height), "--height", "height", "height", "Working height in pixels, a multiple of 8"),
        new(nameof(GenerationSettings.Steps), "--steps", "steps", "steps", "Sampling steps"),
        new(nameof(GenerationSettings.Cfg), "--cfg", "cfg_scale", "cfg", "Classifier-free guidance scale"),
        new(nameof(GenerationSettings.Sampler), "--sampler", "sampler_name", "sampler", "Sampler name or alias (redraft samplers lists them)"),
        new(nameof(GenerationSettings.Schedule), "--schedule", "scheduler", "schedule", "Sigma schedule: automatic (the sampler's), normal, karras, exponential, sgm_uniform"),
        new(nameof(GenerationSettings.Eta), "--eta", "eta", "eta", "DDIM eta (0 = deterministic)"),
        new(nameof(GenerationSettings.Seed), "--seed", "seed", "seed", "Seed; image i uses seed+i (unless variation seeds are on); -1 = random"),
        new(nameof(GenerationSettings.Subseed), "--subseed", "subseed", "subseed", "Variation seed: image i mixes in the noise of subseed+i; -1 = random"),
        new(nameof(GenerationSettings.SubseedStrength), "--subseed-strength", "subseed_strength", "subseed_strength", "How far variations move from the seed's picture, 0-1 (0 = off)"),
        new(nameof(GenerationSettings.SeedResizeFromWidth), "--seed-resize-from-width", "seed_resize_from_w", "seed_resize_from_w", "Draw the seed's noise as for an image this wide (0 = off)"),
        new(nameof(GenerationSettings.SeedResizeFromHeight), "--seed-resize-from-height", "seed_resize_from_h", "seed_resize_from_h", "Draw the seed's noise as for an image this high (0 = off)"),
        new(nameof(GenerationSettings.Rng), "--rng", "override_settings.randn_source", "rng", "Noise source: cpu (PyTorch CPU) or nv (PyTorch CUDA's numbers, A1111 \"NV\")"),
        new(nameof(GenerationSettings.BatchSize), "--batch", "batch_size", "variations", "Images per sampling run (FILE-0.png … when more than one)"),
        new(nameof(GenerationSettings.BatchCount), "--batch-count", "n_iter", "batch_count", "Sampling runs one after another; seeds continue across them"),
        new(nameof(GenerationSettings.Strength), "--strength", "denoising_strength", "strength", "How far the result may drift from the init image, 0-1"),
        new(nameof(GenerationSettings.ResizeMode), null, "resize_mode", "resize_mode", "How an init image of another size is fitted: just-resize, crop, fill, latent-upscale"),
        new(nameof(GenerationSettings.MaskBlur), "--mask-blur", "mask_blur", "mask_blur", "Mask blur in pixels"),
        new(nameof(GenerationSettings.InpaintArea), "--inpaint-area", "inpaint_full_res", "inpaint_area", "whole (the picture) or masked (only the mask's box, at full resolution)"),
        new(nameof(GenerationSettings.InpaintPadding), "--inpaint-padding", "inpaint_full_res_padding", "inpaint_padding", "Pixels around the mask's box with --inpaint-area masked"),
        new(nameof(GenerationSettings.MaskedContent), "--masked-content", "inpainting_fill", "masked_content", "What the masked area starts from: original, fill, latent-noise"),
        new(nameof(GenerationSettings.MaskInvert), "--mask-invert", "inpainting_mask_invert", "mask_invert", "Regenerate where the mask is black instead of white"),
        new(nameof(GenerationSettings.Tokenizer), "--tokenizer", null, "tokenizer", "Folder with CLIP vocab.json and merges.txt"),
        new(nameof(GenerationSettings.Taesd), "--taesd", null, "taesd", "Folder with taesd_encoder/decoder.safetensors (default: $REDRAFT_HOME/taesd)"),
        new(nameof(GenerationSettings.Loras), "--lora", null, "loras", "LoRA for this request, FILE[:WEIGHT] (weight 1 by default); repeat for several"),
        new(nameof(GenerationSettings.DType), "--dtype", null, "dtype", "UNet precision: auto (bf16 where the CPU has AVX512-BF16), bf16, fp32"),
        new(nameof(GenerationSettings.VaeDType), "--vae-dtype", null, "vae_dtype", "VAE precision: fp32 (default), bf16 (about twice as fast with AVX512-BF16), auto"),
        new(nameof(GenerationSettings.Kernels), "--kernels", null, "kernels", "bf16 kernels: auto, native (AVX512-BF16), libtorch"),
        new(nameof(GenerationSettings.Device), "--device", null, "device", "cpu or cuda"),
        new(nameof(GenerationSettings.Threads), "--threads", null, "threads", "CPU threads (default: physical cores)"),
        new(nameof(GenerationSettings.LowMemory), "--low-memory", null, "low_memory", "Load the text encoder, UNet and VAE only when needed and free each after use (lower peak memory, same bytes)"),
        new(nameof(GenerationSettings.VaeTiling), "--vae-tiling", "tiling_vae", "vae_tiling", "Decode in overlapping 512-pixel tiles (bounded memory for large images); without it, tiles are used only when the decode would not fit in memory; false never tiles"),
        new(nameof(GenerationSettings.Prediction), "--prediction", null, "prediction", "Override the model's prediction type: eps or v"),
        new(nameof(GenerationSettings.ZeroTerminalSnr), "--zero-terminal-snr", null, "zero_terminal_snr", "Rescale the noise schedule to zero terminal SNR"),
        new(nameof(GenerationSettings.PreviewEvery), "--preview-every", "override_settings.show_progress_every_n_steps", "preview_every", "Steps between live previews (TAESD)"),
    ];

    /// <summary>The row of <paramref name="property"/> (use <c>nameof(GenerationSettings.X)</c>).</summary>
    /// <exception cref="KeyNotFoundException">No such property in the table.</exception>
    public static Parameter Of(string property) =>
        All.FirstOrDefault(p => p.Property == property) ?? throw new KeyNotFoundException($"no generation parameter {property}");

    /// <summary>The command-line option of <paramref name="property"/>.</summary>
    public static string Cli(string property) => Of(property).Cli ?? throw new KeyNotFoundException($"{property} has no command-line option");

    /// <summary>The history key of <paramref name="property"/>.</summary>
    public static string History(string property) => Of(property).History ?? throw new KeyNotFoundException($"{property} is not recorded");
}
