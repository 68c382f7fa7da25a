using Redraft.Diffusion.Sampling;

namespace Redraft.Diffusion.Pipelines;

/// <summary>
/// One txt2img or img2img call. Semantics follow AUTOMATIC1111 so shared settings carry over: image <c>i</c> of a
/// batch uses seed <c>Seed + i</c>; with an <see cref="InitImage"/> the last <c>int(Steps × Strength)</c> steps of the
/// <see cref="Steps"/>-step schedule run.
/// </summary>
public sealed record GenerationRequest
{
    public required string Prompt { get; init; }
    public string NegativePrompt { get; init; } = "";
    public int Width { get; init; } = 512;
    public int Height { get; init; } = 512;
    public int Steps { get; init; } = 20;
    public double CfgScale { get; init; } = 7.5;
    public string Sampler { get; init; } = "Euler a";
    /// <summary>-1 picks a random seed; the seed used is reported in the result.</summary>
    public long Seed { get; init; } = -1;
    /// <summary>
    /// Variation seed (A1111's <c>subseed</c>): with <see cref="SubseedStrength"/> above 0 every image of the batch
    /// uses <see cref="Seed"/> and image <c>i</c> mixes in the noise of <c>Subseed + i</c>. -1 picks one at random.
    /// </summary>
    public long Subseed { get; init; } = -1;
    /// <summary>How much of the subseed's noise the start noise takes, 0–1 (spherical interpolation); 0 = plain seed.</summary>
    public double SubseedStrength { get; init; }
    /// <summary>
    /// A1111's "resize seed from width/height": the seed's noise is drawn as for an image of this size and centred in
    /// the real one, so a picture keeps its composition at another size. 0 = off.
    /// </summary>
    public int SeedResizeFromWidth { get; init; }
    /// <summary>See <see cref="SeedResizeFromWidth"/>.</summary>
    public int SeedResizeFromHeight { get; init; }
    public int BatchSize { get; init; } = 1;
    /// <summary>
    /// Random number source: "cpu" (PyTorch's CPU generator, as diffusers on CPU) or "nv" (the numbers PyTorch's CUDA
    /// generator draws, as A1111's "NV" option, so seeds shared by GPU users reproduce).
    /// </summary>
    public string Rng { get; init; } = "cpu";
    /// <summary>Sigma spacing: null/"automatic" = the sampler's default; normal, karras, exponential, sgm_uniform, ddim.</summary>
    public string? Schedule { get; init; }
    /// <summary>Overrides the model's prediction type (from its YAML or scheduler config) when set.</summary>
    public Checkpoints.PredictionType? Prediction { get; init; }
    /// <summary>Rescale the noise schedule to zero terminal SNR (for models trained that way).</summary>
    public bool ZeroTerminalSnr { get; init; }
    /// <summary>DDIM's η (0 = deterministic); ignored by other samplers.</summary>
    public double? Eta { get; init; }
    /// <summary>img2img source, already at Width × Height (unless <see cref="ResizeInitLatent"/>); null for txt2img.</summary>
    public ImagePixels? InitImage { get; init; }
    /// <summary>
    /// AUTOMATIC1111's resize mode 3, "just resize (latent upscale)": the init image keeps its own size, is encoded at
    /// it, and its latent is resized bilinearly to the working size. Whole-picture img2img only (no mask).
    /// </summary>
    public bool ResizeInitLatent { get; init; }
    /// <summary>How far the result may drift from the init image, in [0, 1].</summary>
    public double Strength { get; init; } = 0.75;

    /// <summary>Inpainting: regenerate only where the mask is white (needs <see cref="InitImage"/>).</summary>
    public InpaintOptions? Inpaint { get; init; }
    /// <summary>Decode with the full VAE in overlapping tiles (bounded memory for large images).</summary>
    public bool VaeTiling { get; init; }
    /// <summary>Every how many steps a preview image is decoded (needs TAESD loaded); 0 = never.</summary>
    public int PreviewEvery { get; init; }

    /// <summary>
    /// Checks everything that does not depend on the model (sizes, ranges, sampler, schedule, noise source) and
    /// resolves the sampler; a problem is a one-line <see cref="RedraftInputException"/>. Front ends call this before
    /// loading a model so a typo fails in milliseconds, not after the load.
    /// </summary>
    public void Validate() => Check();

    /// <summary><see cref="Validate"/>, returning the sampler and schedule it resolved.</summary>
    internal (ISampler Sampler, ScheduleKind? Schedule) Check()
    {
        const int factor = 8;
        if (Width <= 0 || Height <= 0 || Width % factor != 0 || Height % factor != 0)
            throw new RedraftInputException($"width and height must be positive multiples of {factor}, got {Width}x{Height}; try {Math.Max(factor, Width / factor * factor)}x{Math.Max(factor, Height / factor * factor)}.");
        if (Width > MaxSide || Height > MaxSide)
            throw new RedraftInputException($"{Width}x{Height} is larger than the {MaxSide}-pixel limit per side.");
        foreach (var (what, text) in new[] { ("prompt", Prompt), ("negative prompt", NegativePrompt) })
        {
            if (text is null) throw new RedraftInputException($"the {what} is missing.");
            if (text.Length > MaxPromptLength)
                throw new RedraftInputException($"the {what} is {text.Length} characters; the limit is {MaxPromptLength}: shorten it.");
            // Cheap before any model loads: every BREAK starts a 75-token chunk (the chunker checks the tokens).
            int breaks = System.Text.RegularExpressions.Regex.Count(text, @"\bBREAK\b");
            if (breaks >= Text.PromptChunker.MaxChunks)
                throw new RedraftInputException($"the {what} has {breaks} BREAKs; at most {Text.PromptChunker.MaxChunks - 1} (each starts a new 75-token chunk).");
            // Each "(" multiplies by 1.1: a few hundred nested ones overflow a float, and an infinite weight would
            // only surface later as a "non-finite values" failure that blames the model.
            foreach (var fragment in Text.PromptParser.Parse(text))
                if (!float.IsFinite(fragment.Weight))
                    throw new RedraftInputException(
                        $"the {what}'s emphasis gives '{(fragment.Text.Length > 40 ? fragment.Text[..40] + "…" : fragment.Text)}' a weight too large for a number (brackets nested too deep); use fewer brackets, or a weight such as (text:1.5).");
        }
        if (Steps < 1 || Steps > MaxSteps)
            throw new RedraftInputException($"steps must be between 1 and {MaxSteps}, got {Steps}.");
        if (BatchSize < 1 || BatchSize > MaxBatch)
            throw new RedraftInputException($"batch must be between 1 and {MaxBatch}, got {BatchSize}.");
        if (!double.IsFinite(CfgScale) || CfgScale < 0 || CfgScale > 100)
            throw new RedraftInputException($"CFG scale must be between 0 and 100, got {CfgScale}.");
        if (!double.IsFinite(Strength) || Strength < 0 || Strength > 1)
            throw new RedraftInputException($"strength must be between 0 and 1, got {Strength}.");
        if (Seed < -1 || Seed > uint.MaxValue * 2L)
            throw new RedraftInputException($"seed must be -1 (random) or between 0 and {uint.MaxValue * 2L}, got {Seed}.");
        if (!double.IsFinite(SubseedStrength) || SubseedStrength < 0 || SubseedStrength > 1)
            throw new RedraftInputException($"subseed strength must be between 0 and 1, got {SubseedStrength}.");
        if (Subseed < -1 || Subseed > uint.MaxValue * 2L)
            throw new RedraftInputException($"subseed must be -1 (random) or between 0 and {uint.MaxValue * 2L}, got {Subseed}.");
        if (SeedResizeFromWidth < 0 || SeedResizeFromHeight < 0 || SeedResizeFromWidth > MaxSide || SeedResizeFromHeight > MaxSide
            || SeedResizeFromWidth % factor != 0 || SeedResizeFromHeight % factor != 0)
            throw new RedraftInputException($"seed resize size must be 0 (off) or multiples of {factor} up to {MaxSide}, got {SeedResizeFromWidth}x{SeedResizeFromHeight}.");
        // "Only masked" works on the init image at its own size (the working size is where the mask's box is redrawn).
        bool onlyMasked = Inpaint is { Area: InpaintArea.Masked };
        if (InitImage is { } init)
        {
            init.Validate();
            if (!onlyMasked && !ResizeInitLatent && (init.Width != Width || init.Height != Height))
                throw new RedraftInputException($"init image is {init.Width}x{init.Height} but the request is {Width}x{Height}; resize it first.");
            if (ResizeInitLatent && Inpaint is not null)
                throw new RedraftInputException("latent upscale (resize mode 3) works on the whole picture without a mask; resize the init image instead (resize mode 0, 1 or 2), or inpaint only the masked area.");
            if ((long)init.Width * init.Height > (long)MaxSide * MaxSide)
                throw new RedraftInputException($"init image is {init.Width}x{init.Height}; the limit is {MaxSide}x{MaxSide} pixels.");
        }
        if (Inpaint is { } inpaint)
        {
            if (InitImage is null) throw new RedraftInputException("a mask needs an init image (img2img): it says which part of that image to regenerate.");
            inpaint.Mask.Validate();
            if (inpaint.Mask.Width != InitImage.Width || inpaint.Mask.Height != InitImage.Height)
                throw new RedraftInputException($"mask is {inpaint.Mask.Width}x{inpaint.Mask.Height} but the init image is {InitImage.Width}x{InitImage.Height}; resize it first.");
            if (inpaint.MaskBlur < 0 || inpaint.MaskBlur > 64)
                throw new RedraftInputException($"mask blur must be between 0 and 64 pixels, got {inpaint.MaskBlur}.");
            if (inpaint.Padding < 0 || inpaint.Padding > 1024)
                throw new RedraftInputException($"inpaint padding must be between 0 and 1024 pixels, got {inpaint.Padding}.");
        }
        var sampler = SamplerRegistry.Get(Sampler);
        if (Eta is { } eta)
        {
            if (!double.IsFinite(eta) || eta < 0 || eta > 1)
                throw new RedraftInputException($"eta must be between 0 and 1, got {eta}.");
            if (sampler is DdimSampler) sampler = new DdimSampler { Eta = eta };
        }
        if (!NoiseSources.Kinds.Contains(Rng.Trim().ToLowerInvariant()))
            throw new RedraftInputException($"unknown random number source \"{Rng}\"; valid: {string.Join(", ", NoiseSources.Kinds)}.");
        var kind = ScheduleNames.Parse(Schedule);
        if (kind is { } k) sampler.EnsureRunsWith(k);
        return (sampler, kind);
    }

    /// <summary>Largest side accepted, to keep a typo from asking for gigabytes.</summary>
    public const int MaxSide = 4096;
    public const int MaxSteps = 1000;
    public const int MaxBatch = 64;
    /// <summary>Longest prompt accepted, in UTF-16 characters (the token limit is <see cref="Text.PromptChunker.MaxChunks"/> × 75).</summary>
    public const int MaxPromptLength = 16384;
}

/// <summary>
/// Progress of a running generation: sampling step <see cref="Step"/> of <see cref="Total"/>, on preview steps
/// a fast TAESD decode of the current estimate of the first image, and while decoding the fraction of the decode
/// done (<see cref="PhaseFraction"/>, 0–1 over the run's images).
/// </summary>
public sealed record GenerationProgress(int Step, int Total, GenerationPhase Phase, ImagePixels? Preview = null, double? PhaseFraction = null);

/// <summary>One generated image and the seeds that make it again.</summary>
public sealed record GeneratedImage(ImagePixels Image, long Seed, int Index)
{
    /// <summary>The variation seed mixed in (meaningful when the request's subseed strength is above 0).</summary>
    public long Subseed { get; init; }
}

/// <summary>
/// The images of a request and the values it actually ran with (resolved seeds, sampler name), and how sampling
/// ended: <see cref="StepsRun"/> of <see cref="StepsPlanned"/> steps (fewer when interrupted; no images when skipped).
/// </summary>
public sealed record GenerationResult(IReadOnlyList<GeneratedImage> Images, GenerationRequest Request, string SamplerName, long BaseSeed, TimeSpan Duration)
{
    /// <summary>Sampler steps that ran.</summary>
    public int StepsRun { get; init; }
    /// <summary>Sampler steps the request asked for (<c>int(Steps × strength)</c> for img2img).</summary>
    public int StepsPlanned { get; init; }
    /// <summary>Why sampling ended.</summary>
    public StopReason Stop { get; init; }
}
