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

    /// <summary>Every how many steps a preview image is decoded (needs TAESD loaded); 0 = never.</summary>
    public int PreviewEvery { get; init; }

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
