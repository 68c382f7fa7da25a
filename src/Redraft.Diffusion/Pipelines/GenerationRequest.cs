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
    /// <summary>img2img source, already at Width × Height; null for txt2img.</summary>
    public ImagePixels? InitImage { get; init; }
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
    public (ISampler Sampler, ScheduleKind? Schedule) Validate()
    {
        const int factor = 8;
        if (Width <= 0 || Height <= 0 || Width % factor != 0 || Height % factor != 0)
            throw new RedraftInputException($"width and height must be positive multiples of {factor}, got {Width}x{Height}; try {Math.Max(factor, Width / factor * factor)}x{Math.Max(factor, Height / factor * factor)}.");
        if (Width > MaxSide || Height > MaxSide)
            throw new RedraftInputException($"{Width}x{Height} is larger than the {MaxSide}-pixel limit per side.");
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
        if (InitImage is { } init)
        {
            init.Validate();
            if (init.Width != Width || init.Height != Height)
                throw new RedraftInputException($"init image is {init.Width}x{init.Height} but the request is {Width}x{Height}; resize it first.");
        }
        if (Inpaint is { } inpaint)
        {
            if (InitImage is null) throw new RedraftInputException("a mask needs an init image (img2img): it says which part of that image to regenerate.");
            inpaint.Mask.Validate();
            if (inpaint.Mask.Width != Width || inpaint.Mask.Height != Height)
                throw new RedraftInputException($"mask is {inpaint.Mask.Width}x{inpaint.Mask.Height} but the request is {Width}x{Height}; resize it first.");
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
}

/// <summary>
/// Progress of a running generation: sampling step <see cref="Step"/> of <see cref="Total"/>, and on preview steps
/// a fast TAESD decode of the current estimate of the first image.
/// </summary>
public sealed record GenerationProgress(int Step, int Total, string Phase, ImagePixels? Preview = null);

/// <summary>One generated image and the seed that makes it again.</summary>
public sealed record GeneratedImage(ImagePixels Image, long Seed, int Index);

/// <summary>The images of a request and the values it actually ran with (resolved seed, sampler name).</summary>
public sealed record GenerationResult(IReadOnlyList<GeneratedImage> Images, GenerationRequest Request, string SamplerName, long BaseSeed, TimeSpan Duration);
