namespace Redraft.Studio.Generation;

/// <summary>
/// What a generation runs with: the prompt, the sampling parameters and the model. The same settings and seed give
/// the same image bytes; a document records them with every generate and harmonize step.
/// </summary>
public sealed record GenerationSettings
{
    /// <summary>What to draw (A1111 prompt syntax).</summary>
    public required string Prompt { get; init; }

    /// <summary>What to avoid.</summary>
    public string Negative { get; init; } = "";

    /// <summary>Sampling steps of the full schedule; image-to-image runs <c>int(Steps × strength)</c> of them.</summary>
    public int Steps { get; init; } = 20;

    /// <summary>Classifier-free guidance scale; 1 skips the unconditional pass.</summary>
    public double Cfg { get; init; } = 7.5;

    /// <summary>Sampler name or alias (see <c>redraft samplers</c>).</summary>
    public string Sampler { get; init; } = "Euler a";

    /// <summary>Sigma schedule (null = the sampler's default).</summary>
    public string? Schedule { get; init; }

    /// <summary>DDIM's η (null = the sampler's default).</summary>
    public double? Eta { get; init; }

    /// <summary>Seed; variation i uses seed + i; -1 picks one at random (the one used is recorded).</summary>
    public long Seed { get; init; } = -1;

    /// <summary>Noise source: <c>cpu</c> or <c>nv</c>.</summary>
    public string Rng { get; init; } = "cpu";

    /// <summary>Working width in pixels, a multiple of 8 (null = the region's width rounded to 8).</summary>
    public int? Width { get; init; }

    /// <summary>Working height in pixels, a multiple of 8 (null = the region's height rounded to 8).</summary>
    public int? Height { get; init; }

    /// <summary>Checkpoint file or diffusers folder.</summary>
    public required string Model { get; init; }

    /// <summary>Original-format YAML config (null = beside the model or detected from shapes).</summary>
    public string? Config { get; init; }

    /// <summary>Standalone VAE file.</summary>
    public string? Vae { get; init; }

    /// <summary>Folder with the CLIP <c>vocab.json</c> and <c>merges.txt</c> (null = the usual search order).</summary>
    public string? Tokenizer { get; init; }

    /// <summary>UNet precision: <c>auto</c>, <c>bf16</c> or <c>fp32</c>.</summary>
    public string DType { get; init; } = "auto";

    /// <summary>
    /// Full-VAE precision: <c>fp32</c> (default), <c>bf16</c> (about twice as fast with AVX512-BF16, images within
    /// about a level in 255 of fp32 on average) or <c>auto</c>.
    /// </summary>
    public string VaeDType { get; init; } = "fp32";

    /// <summary><c>cpu</c> or <c>cuda</c>.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>CPU threads (null = physical cores).</summary>
    public int? Threads { get; init; }
}

/// <summary>Where and how a <c>generate</c> step works on the document.</summary>
public sealed record GenerateOptions
{
    /// <summary>How far the result may drift from the composite, 0–1.</summary>
    public double Strength { get; init; } = 0.75;

    /// <summary>Only this part of the canvas (null = the whole canvas).</summary>
    public Region? Region { get; init; }

    /// <summary>Candidates to make, with seeds seed … seed + N − 1.</summary>
    public int Variations { get; init; } = 1;

    /// <summary>
    /// Inpainting mask at the canvas size (white = regenerate). Only the mask's box (plus
    /// <see cref="InpaintPadding"/>) is regenerated and pasted back through the blurred mask.
    /// </summary>
    public MaskImage? Mask { get; init; }

    /// <summary>Mask blur in pixels.</summary>
    public int MaskBlur { get; init; } = 4;

    /// <summary>Pixels of context around the mask's box.</summary>
    public int InpaintPadding { get; init; } = 32;
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
