using Redraft.Diffusion.Checkpoints;

namespace Redraft.Studio.Generation;

/// <summary>
/// Everything a generation runs with, under one set of names: the prompt, the sampling and seed parameters, how an
/// init image and mask are used, the model and how it runs. <see cref="GenerationParameters"/> maps each property
/// to its command-line option, its AUTOMATIC1111 JSON field and its key in a document's history. The defaults here
/// are the command line's (and the library's); other front ends set their own (see <c>docs/ARCHITECTURE.md</c>).
/// <see cref="GenerationService.Resolve"/> fills in every value a run depends on (seeds, sizes, precision, kernels,
/// threads, absolute paths), so resolved settings give the same bytes wherever they run.
/// </summary>
public sealed record GenerationSettings
{
    /// <summary>What to draw (A1111 prompt syntax).</summary>
    public required string Prompt { get; init; }

    /// <summary>What to avoid.</summary>
    public string Negative { get; init; } = "";

    /// <summary>Sampling steps of the full schedule; image-to-image runs <c>int(Steps × Strength)</c> of them.</summary>
    public int Steps { get; init; } = 20;

    /// <summary>Classifier-free guidance scale; 1 skips the unconditional pass.</summary>
    public double Cfg { get; init; } = 7.5;

    /// <summary>Sampler name or alias (see <c>redraft samplers</c>).</summary>
    public string Sampler { get; init; } = "Euler a";

    /// <summary>Sigma schedule (null = the sampler's default).</summary>
    public string? Schedule { get; init; }

    /// <summary>DDIM's η (null = the sampler's default).</summary>
    public double? Eta { get; init; }

    /// <summary>Seed; image i of a batch uses seed + i (unless <see cref="SubseedStrength"/> is above 0); -1 = random.</summary>
    public long Seed { get; init; } = -1;

    /// <summary>Variation seed: image i mixes in the noise of <c>Subseed + i</c>; -1 = random.</summary>
    public long Subseed { get; init; } = -1;

    /// <summary>How far the variations move from the seed's picture, 0–1 (0 = the plain seed).</summary>
    public double SubseedStrength { get; init; }

    /// <summary>Draw the seed's noise as for an image this wide (0 = off), to keep a composition at another size.</summary>
    public int SeedResizeFromWidth { get; init; }

    /// <summary>Draw the seed's noise as for an image this high (0 = off).</summary>
    public int SeedResizeFromHeight { get; init; }

    /// <summary>Noise source: <c>cpu</c> or <c>nv</c>.</summary>
    public string Rng { get; init; } = "cpu";

    /// <summary>Working width in pixels, a multiple of 8 (null = the front end's rule: 512, or the init image's).</summary>
    public int? Width { get; init; }

    /// <summary>Working height in pixels, a multiple of 8 (null = the front end's rule).</summary>
    public int? Height { get; init; }

    /// <summary>Images made together in one sampling run (A1111's <c>batch_size</c>).</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Sampling runs one after another (A1111's <c>n_iter</c>, "batch count"); seeds continue across them.</summary>
    public int BatchCount { get; init; } = 1;

    /// <summary>With an init image: how far the result may drift from it, 0–1.</summary>
    public double Strength { get; init; } = 0.75;

    /// <summary>
    /// How an init image of another size or shape is brought to the working size (AUTOMATIC1111's resize modes):
    /// <c>just-resize</c> (stretch), <c>crop</c> (scale to cover, centre crop), <c>fill</c> (scale to fit, centre, fill
    /// the bars from the image's edges) or <c>latent-upscale</c> (encode at its own size, resize the latent). "Only
    /// masked" inpainting keeps the init's own size whatever the mode, as A1111 does.
    /// </summary>
    public string ResizeMode { get; init; } = "just-resize";

    /// <summary>Mask blur in pixels.</summary>
    public int MaskBlur { get; init; } = 4;

    /// <summary><c>whole</c> (regenerate the picture) or <c>masked</c> (only the mask's box at full resolution); null = the front end's default.</summary>
    public string? InpaintArea { get; init; }

    /// <summary>Pixels of context around the mask's box with <c>masked</c>.</summary>
    public int InpaintPadding { get; init; } = 32;

    /// <summary>What the masked area starts from: <c>original</c>, <c>fill</c>, <c>latent-noise</c>.</summary>
    public string MaskedContent { get; init; } = "original";

    /// <summary>Regenerate where the mask is black instead of white.</summary>
    public bool MaskInvert { get; init; }

    /// <summary>Checkpoint file or diffusers folder.</summary>
    public required string Model { get; init; }

    /// <summary>Original-format YAML config (null = beside the model or detected from shapes).</summary>
    public string? Config { get; init; }

    /// <summary>Standalone VAE file, or <c>taesd</c>.</summary>
    public string? Vae { get; init; }

    /// <summary>Folder with the CLIP <c>vocab.json</c> and <c>merges.txt</c> (null = the usual search order).</summary>
    public string? Tokenizer { get; init; }

    /// <summary>Folder with the TAESD weights for previews (null = <c>$REDRAFT_HOME/taesd</c>).</summary>
    public string? Taesd { get; init; }

    /// <summary>LoRAs applied to this request only (the cached model is restored afterwards).</summary>
    public IReadOnlyList<LoraSpec> Loras { get; init; } = [];

    /// <summary>UNet precision: <c>auto</c>, <c>bf16</c> or <c>fp32</c>.</summary>
    public string DType { get; init; } = "auto";

    /// <summary>Full-VAE precision: <c>fp32</c>, <c>bf16</c> or <c>auto</c>.</summary>
    public string VaeDType { get; init; } = "fp32";

    /// <summary>bf16 kernels: <c>auto</c>, <c>native</c> or <c>libtorch</c>.</summary>
    public string Kernels { get; init; } = "auto";

    /// <summary><c>cpu</c> or <c>cuda</c>.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>CPU threads (null = physical cores).</summary>
    public int? Threads { get; init; }

    /// <summary>Load the networks only when needed and free each after its part (same bytes, less memory, slower).</summary>
    public bool LowMemory { get; init; }

    /// <summary>
    /// Decode in overlapping tiles (bounded memory for large images; colours can differ slightly from an untiled
    /// decode). Null = only when the untiled decode would not fit in memory: <see cref="GenerationService.Resolve"/>
    /// decides, and the resolved settings carry the decision, so a re-run decodes the same way.
    /// </summary>
    public bool? VaeTiling { get; init; }

    /// <summary>Override the model's prediction type: <c>eps</c> or <c>v</c> (null = the model's).</summary>
    public string? Prediction { get; init; }

    /// <summary>Rescale the noise schedule to zero terminal SNR.</summary>
    public bool ZeroTerminalSnr { get; init; }

    /// <summary>A TAESD preview every this many steps (0 = none).</summary>
    public int PreviewEvery { get; init; }
}

/// <summary>Where and how a document <c>generate</c> step works on the canvas.</summary>
public sealed record GenerateOptions
{
    /// <summary>Only this part of the canvas (null = the whole canvas).</summary>
    public Region? Region { get; init; }

    /// <summary>Candidates to make (the batch size).</summary>
    public int Variations { get; init; } = 1;

    /// <summary>Operation mask at the canvas size (white = regenerate), restricted to <see cref="Region"/> when both are given.</summary>
    public MaskImage? Mask { get; init; }

    /// <summary>
    /// Run a <see cref="Region"/> at its own size (rounded to 8) instead of the model's working size: the behaviour
    /// before working sizes, for reproducing old steps or for models trained on small images.
    /// </summary>
    public bool RegionNative { get; init; }
}

/// <summary>Replacements for a re-run of a recorded step, for when the model or tokenizer moved or another thread count is wanted.</summary>
public sealed record RerunOverrides
{
    /// <summary>Use this model file instead of the recorded path.</summary>
    public string? Model { get; init; }

    /// <summary>Use this tokenizer folder instead of the recorded one.</summary>
    public string? Tokenizer { get; init; }

    /// <summary>CPU threads instead of the recorded count.</summary>
    public int? Threads { get; init; }
}
