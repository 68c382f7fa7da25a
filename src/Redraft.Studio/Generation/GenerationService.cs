using System.Diagnostics;
using Redraft.Diffusion;
using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Pipelines;
using Redraft.Imaging;

namespace Redraft.Studio.Generation;

/// <summary>
/// The one way to turn a request into images, for every front end (the <c>redraft</c> command, documents, the
/// server): resolves the settings, gets the model with exactly the request's LoRAs from its cache, runs the sampling
/// runs, and returns the pixels with their PNG bytes and infotext. Jobs run one at a time (one model in memory,
/// libtorch's threads shared) across every service of the process; others wait their turn.
/// <para>
/// Three ways to stop a job: cancel the <see cref="CancellationToken"/> (everything is discarded), or through a
/// <see cref="GenerationControl"/>: <see cref="GenerationControl.Interrupt"/> (stop after the running step and decode
/// what exists; the output says how many steps ran) and <see cref="GenerationControl.Skip"/> (end the running
/// sampling run without images and go on with the next).
/// </para>
/// </summary>
public sealed class GenerationService : IDisposable
{
    private readonly ModelCache _models;
    private readonly bool _ownsModels;
    /// <summary>
    /// One generation at a time in the process, whatever service runs it: libtorch's thread count and the allocator
    /// policy are process-wide, and two Stable Diffusion models rarely fit in memory together.
    /// </summary>
    private static readonly SemaphoreSlim Turn = new(1, 1);

    private readonly bool _describeOnly;

    /// <summary>A service that loads models through <paramref name="models"/> (default: a cache of its own).</summary>
    /// <param name="models">The model cache (default: one of its own).</param>
    /// <param name="describeOnly">
    /// <see cref="DescribeAsync"/> reads the model's description from its files without loading its weights: for a
    /// process whose generations run elsewhere (a server whose workers generate), which still needs models' sizes.
    /// </param>
    public GenerationService(ModelCache? models = null, bool describeOnly = false)
    {
        _ownsModels = models is null;
        _models = models ?? new ModelCache();
        _describeOnly = describeOnly;
    }

    /// <summary>
    /// Fills in every value a run depends on: random seeds drawn, working size, inpaint area, precision and kernel
    /// choice, thread count, absolute paths. Running the result again gives the same bytes. Checks the values that
    /// need no model, so a typo fails before anything loads.
    /// </summary>
    /// <exception cref="RedraftInputException">A value is out of range or unknown; the message names it.</exception>
    public static GenerationSettings Resolve(GenerationSettings settings, GenerationInputs? inputs = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var init = inputs?.Init;
        if (inputs?.Mask is not null && init is null)
            throw new RedraftInputException("a mask needs an init image (img2img): it says which part of that image to regenerate.");
        if (settings.BatchCount is < 1 or > MaxBatchCount)
            throw new RedraftInputException($"batch count must be between 1 and {MaxBatchCount}, got {settings.BatchCount}.");
        // A1111 takes any weight; past ±100 a LoRA's delta overflows the weights it is added to (1e308 becomes
        // infinity in fp32), so such a weight is a typo, said before anything loads.
        if (settings.Loras.FirstOrDefault(l => !double.IsFinite(l.Weight) || Math.Abs(l.Weight) > MaxLoraWeight) is { } wild)
            throw new RedraftInputException($"LoRA {Path.GetFileName(wild.Path)}: weight {wild.Weight} is outside -{MaxLoraWeight} to {MaxLoraWeight}.");
        if (settings.PreviewEvery < 0)
            throw new RedraftInputException($"preview interval must be 0 (none) or a number of steps, got {settings.PreviewEvery}.");
        var resolved = settings with
        {
            Seed = settings.Seed == -1 ? Random.Shared.NextInt64(0, uint.MaxValue) : settings.Seed,
            Subseed = settings.Subseed == -1 ? Random.Shared.NextInt64(0, uint.MaxValue) : settings.Subseed,
            Width = settings.Width ?? (init is null ? 512 : RoundTo8(init.Width)),
            Height = settings.Height ?? (init is null ? 512 : RoundTo8(init.Height)),
            InpaintArea = ParseArea(settings.InpaintArea) == InpaintArea.Masked ? "masked" : "whole",
            ResizeMode = ParseResizeMode(settings.ResizeMode) switch
            {
                InitResize.Crop => "crop",
                InitResize.Fill => "fill",
                InitResize.LatentUpscale => "latent-upscale",
                _ => "just-resize",
            },
            MaskedContent = ParseContent(settings.MaskedContent) switch
            {
                MaskedContent.Fill => "fill",
                MaskedContent.LatentNoise => "latent-noise",
                _ => "original",
            },
            Prediction = ParsePrediction(settings.Prediction) switch
            {
                PredictionType.Epsilon => "eps",
                PredictionType.V => "v",
                _ => null,
            },
            Model = Path.GetFullPath(settings.Model),
            Config = FullOrNull(settings.Config),
            Vae = settings.Vae is { } vae && !vae.Equals("taesd", StringComparison.OrdinalIgnoreCase) ? Path.GetFullPath(vae) : settings.Vae,
            Tokenizer = FullOrNull(settings.Tokenizer),
            Taesd = FullOrNull(settings.Taesd),
            Loras = [.. settings.Loras.Select(l => l with { Path = Path.GetFullPath(l.Path) })],
            DType = ComputePrecision.Name(ComputePrecision.Resolve(settings.DType)),
            VaeDType = ComputePrecision.Name(ComputePrecision.Resolve(settings.VaeDType)),
            Kernels = TorchRuntime.ResolveKernels(settings.Kernels),
            Device = settings.Device.Trim().ToLowerInvariant(),
            Threads = TorchRuntime.ResolveThreads(settings.Threads),
        };
        if (resolved.Device is not ("cpu" or "cuda") && !resolved.Device.StartsWith("cuda:", StringComparison.Ordinal))
            throw new RedraftInputException($"unknown device \"{settings.Device}\"; valid: cpu, cuda (with a CUDA build of libtorch).");
        if (resolved.Device != "cpu")
        {
            int devices = TorchSharp.torch.cuda.is_available() ? TorchSharp.torch.cuda.device_count() : 0;
            if (devices == 0)
                throw new RedraftInputException($"device \"{settings.Device}\": this libtorch has no CUDA (it is the CPU build, or no GPU is visible); use --device cpu.");
            if (resolved.Device.StartsWith("cuda:", StringComparison.Ordinal)
                && (!int.TryParse(resolved.Device["cuda:".Length..], out int index) || index < 0 || index >= devices))
                throw new RedraftInputException($"device \"{settings.Device}\": there are {devices} CUDA device(s), cuda:0 to cuda:{devices - 1}.");
        }
        if (resolved.Threads is < 1 or > 1024)
            throw new RedraftInputException($"--threads must be between 1 and 1024, got {resolved.Threads}.");
        // More threads than cores only makes libtorch's threads wait for each other.
        if (resolved.Threads > Environment.ProcessorCount) resolved = resolved with { Threads = Environment.ProcessorCount };
        // The engine's own checks (sizes, sampler, schedule, ranges), on the first run's request.
        // A latent upscale encodes the init at its own size: the checks and the memory estimate see that size.
        var (checkWidth, checkHeight) = init is not null && UpscalesLatent(resolved, init.Width, init.Height, inputs?.Mask is not null)
            ? (init.Width, init.Height) : (resolved.Width!.Value, resolved.Height!.Value);
        var request = EngineRequest(resolved, init is null ? null : new ImagePixels(checkWidth, checkHeight, new byte[checkWidth * checkHeight * 3]),
            inputs?.Mask is null ? null : new MaskPixels(checkWidth, checkHeight, new byte[checkWidth * checkHeight]), 0);
        request.Validate();
        return resolved with { VaeTiling = FitInMemory(resolved, request) };
    }

    /// <summary>
    /// Whether the decode is tiled so the request fits in the memory the process can count on
    /// (<see cref="AvailableMemory"/>); refuses a request that cannot fit, before anything loads (<see cref="MemoryBudget"/>).
    /// </summary>
    /// <exception cref="NotEnoughMemoryException">The request does not fit; the message names a size that does.</exception>
    private static bool FitInMemory(GenerationSettings s, GenerationRequest request)
    {
        bool asked = s.VaeTiling ?? false;
        // A GPU's memory is not what /proc/meminfo counts.
        if (s.Device != "cpu" || AvailableMemory.Bytes() is not { } available) return asked;
        var options = LoadOptions(s);
        ModelDescription model;
        try
        {
            model = StableDiffusionModel.Describe(options);
        }
        catch (RedraftInputException)
        {
            return asked;  // the load reports what is wrong with the model, in its usual order
        }
        return MemoryBudget.Fit(model, options, request, s.VaeTiling, available);
    }

    /// <summary>Largest LoRA weight (either sign) accepted.</summary>
    public const double MaxLoraWeight = 100;

    /// <summary>Most sampling runs one job may ask for.</summary>
    public const int MaxBatchCount = 100;

    /// <summary>
    /// Runs a job: resolves <paramref name="settings"/>, waits for its turn, loads (or reuses) the model, and makes
    /// <c>BatchSize × BatchCount</c> images. Progress goes to <paramref name="progress"/> on the generating thread.
    /// </summary>
    /// <exception cref="RedraftInputException">Bad settings, inputs or model files; nothing was generated.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; nothing is returned.</exception>
    public async Task<GenerationOutput> GenerateAsync(GenerationSettings settings, GenerationInputs? inputs = null,
        IProgress<GenerationEvent>? progress = null, GenerationControl? control = null, CancellationToken ct = default)
    {
        var resolved = Resolve(settings, inputs);
        var (init, mask) = PrepareInputs(resolved, inputs);
        var clock = Stopwatch.StartNew();
        progress?.Report(new GenerationEvent(GenerationPhase.Queued, 0, 0, 0, resolved.BatchCount, clock.Elapsed, null));
        await Turn.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await GenerationThread.Run(() => Run(resolved, init, mask, progress, control, clock, ct), ct).ConfigureAwait(false);
        }
        finally
        {
            Turn.Release();
        }
    }

    /// <summary>Unloads the models this service loaded (not those of a cache passed in).</summary>
    public void Dispose()
    {
        if (_ownsModels) _models.Dispose();
    }

    /// <summary>
    /// The model's description (family, sizes) for <paramref name="settings"/>, loading it through the cache if
    /// needed: documents choose a working size from it.
    /// </summary>
    public async Task<ModelDescription> DescribeAsync(GenerationSettings settings, CancellationToken ct = default)
    {
        var resolved = Resolve(settings);
        if (_describeOnly) return await Task.Run(() => StableDiffusionModel.Describe(LoadOptions(resolved)), ct).ConfigureAwait(false);
        await Turn.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await GenerationThread.Run(() =>
            {
                TorchRuntime.Initialize(resolved.Threads);
                return _models.Get(LoadOptions(resolved), resolved.Loras, ct).Description;
            }, ct).ConfigureAwait(false);
        }
        finally
        {
            Turn.Release();
        }
    }

    /// <summary>The checkpoint this service's cache holds now, or null.</summary>
    public LoadedModel? LoadedModel => _models.Loaded;

    /// <summary>
    /// Frees the cached model once the running job (if any) has ended, on the generation thread; the next job loads
    /// it again. Returns whether a model was loaded.
    /// </summary>
    public async Task<bool> UnloadAsync(CancellationToken ct = default)
    {
        await Turn.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await GenerationThread.Run(_models.Unload, ct).ConfigureAwait(false);
        }
        finally
        {
            Turn.Release();
        }
    }

    private GenerationOutput Run(GenerationSettings s, RgbImage? init, MaskImage? mask, IProgress<GenerationEvent>? progress,
        GenerationControl? control, Stopwatch clock, CancellationToken ct)
    {
        int iterations = s.BatchCount;
        progress?.Report(new GenerationEvent(GenerationPhase.Loading, 0, 0, 0, iterations, clock.Elapsed, null));
        TorchRuntime.Initialize(s.Threads);
        TorchRuntime.UseKernels(s.Kernels);
        var loadClock = Stopwatch.StartNew();
        // The cache merges the request's LoRAs (or restores the base weights): the same list as the last request keeps its merge.
        var model = _models.Get(LoadOptions(s), s.Loras, ct);
        var loadDuration = loadClock.Elapsed;

        var pipeline = new DiffusionPipeline(model);
        var initPixels = init is null ? null : new ImagePixels(init.Width, init.Height, init.Pixels);
        var maskPixels = mask is null ? null : new MaskPixels(mask.Width, mask.Height, mask.Pixels);
        var pictures = new List<GeneratedPicture>();
        int skipped = 0, stepsRun = 0, stepsPlanned = 0;
        var stop = StopReason.Completed;
        string samplerName = s.Sampler;
        var samplingClock = new Stopwatch();
        int stepsTimed = 0;
        // A run's decode is timed apart from its steps: at large sizes it takes as long as many steps.
        var decodeClock = new Stopwatch();
        double? decodeSeconds = null;
        for (int iteration = 0; iteration < iterations; iteration++)
        {
            ct.ThrowIfCancellationRequested();
            if (control?.IsInterrupted == true) break;
            int it = iteration;
            var engineProgress = progress is null ? null : new InlineProgress<GenerationProgress>(p =>
            {
                if (p.Phase == GenerationPhase.Sampling && p.Step > 0)
                {
                    // A step is timed from the previous step's report; the first of each run starts the clock.
                    if (samplingClock.IsRunning) stepsTimed++;
                    else samplingClock.Start();
                }
                double? decoded = p.PhaseFraction;
                if (p.Phase is GenerationPhase.Decode or GenerationPhase.Done && !decodeClock.IsRunning)
                {
                    samplingClock.Stop();
                    decodeClock.Restart();
                }
                if (p.Phase == GenerationPhase.Done)
                {
                    decodeSeconds = decodeClock.Elapsed.TotalSeconds;
                    decodeClock.Reset();
                }
                TimeSpan? eta = null;
                if (stepsTimed > 0)
                {
                    double perStep = samplingClock.Elapsed.TotalSeconds / stepsTimed;
                    // Until a decode has been timed, one is guessed from its progress so far, or as one step.
                    double decodeGuess = decodeSeconds
                        ?? (decoded > 0.05 ? decodeClock.Elapsed.TotalSeconds / decoded.Value : perStep);
                    bool decoding = p.Phase is GenerationPhase.Decode or GenerationPhase.Done;
                    double thisRun = decoding
                        ? (decoded > 0.05 ? decodeClock.Elapsed.TotalSeconds / decoded.Value : decodeGuess) * (1 - (decoded ?? 0))
                        : perStep * Math.Max(0, p.Total - p.Step) + decodeGuess;
                    eta = TimeSpan.FromSeconds(Math.Max(0, thisRun + (iterations - it - 1) * (perStep * p.Total + decodeGuess)));
                }
                var preview = p.Preview is { } px ? new RgbImage(px.Width, px.Height, px.Rgb) : null;
                // "Done" is the job's, reported once at the end.
                var phase = p.Phase == GenerationPhase.Done ? GenerationPhase.Decode : p.Phase;
                progress.Report(new GenerationEvent(phase, p.Step, p.Total, it, iterations, clock.Elapsed, eta, preview,
                    phase == GenerationPhase.Decode ? decoded : null));
            });
            var request = EngineRequest(s, initPixels, maskPixels, iteration);
            var result = pipeline.Generate(request, engineProgress, ct, control);
            samplerName = result.SamplerName;
            stepsRun = result.StepsRun;
            stepsPlanned = result.StepsPlanned;
            if (result.Stop == StopReason.Skipped)
            {
                skipped++;
                continue;
            }
            foreach (var image in result.Images)
            {
                var rgb = new RgbImage(image.Image.Width, image.Image.Height, image.Image.Rgb);
                var info = Infotexts.For(result, image, model, s, img2img: init is not null);
                var png = ImageFiles.EncodePng(rgb, new Dictionary<string, string> { ["parameters"] = info.Format() });
                pictures.Add(new GeneratedPicture(rgb, png, info, image.Seed, image.Subseed, iteration * s.BatchSize + image.Index));
            }
            if (result.Stop == StopReason.Interrupted)
            {
                stop = StopReason.Interrupted;
                break;
            }
        }
        progress?.Report(new GenerationEvent(GenerationPhase.Done, stepsRun, stepsPlanned, iterations - 1, iterations, clock.Elapsed, TimeSpan.Zero));
        return new GenerationOutput(pictures, s, model.Hash, model.Name, samplerName, stepsRun, stepsPlanned, stop, skipped, clock.Elapsed, loadDuration);
    }

    private static ModelLoadOptions LoadOptions(GenerationSettings s) => new()
    {
        ModelPath = s.Model,
        ConfigPath = s.Config,
        VaePath = s.Vae,
        TokenizerPath = s.Tokenizer,
        Device = s.Device,
        DType = s.DType,
        VaeDType = s.VaeDType,
        LowMemory = s.LowMemory,
        LoadPreviewDecoder = s.PreviewEvery > 0,
        TaesdFolder = s.Taesd,
    };

    /// <summary>The engine request of run <paramref name="iteration"/> (A1111's seed rule across runs).</summary>
    private static GenerationRequest EngineRequest(GenerationSettings s, ImagePixels? init, MaskPixels? mask, int iteration)
    {
        long offset = (long)iteration * s.BatchSize;
        return new GenerationRequest
        {
            Prompt = s.Prompt,
            NegativePrompt = s.Negative,
            Width = s.Width!.Value,
            Height = s.Height!.Value,
            Steps = s.Steps,
            CfgScale = s.Cfg,
            Sampler = s.Sampler,
            Eta = s.Eta,
            Schedule = s.Schedule,
            Prediction = ParsePrediction(s.Prediction),
            ZeroTerminalSnr = s.ZeroTerminalSnr,
            Seed = s.Seed + (s.SubseedStrength == 0 ? offset : 0),
            Subseed = s.Subseed + offset,
            SubseedStrength = s.SubseedStrength,
            SeedResizeFromWidth = s.SeedResizeFromWidth,
            SeedResizeFromHeight = s.SeedResizeFromHeight,
            Rng = s.Rng,
            BatchSize = s.BatchSize,
            InitImage = init,
            ResizeInitLatent = init is not null && UpscalesLatent(s, init.Width, init.Height, mask is not null),
            Strength = init is null ? 0 : s.Strength,
            Inpaint = mask is null ? null : new InpaintOptions
            {
                Mask = mask,
                MaskBlur = s.MaskBlur,
                Area = ParseArea(s.InpaintArea),
                Padding = s.InpaintPadding,
                Content = ParseContent(s.MaskedContent),
            },
            VaeTiling = s.VaeTiling ?? false,
            PreviewEvery = s.PreviewEvery,
        };
    }

    /// <summary>
    /// Brings the init image and mask to the sizes the engine takes (A1111's rules): the working size for the whole
    /// picture, fitted by <see cref="GenerationSettings.ResizeMode"/> (a latent upscale leaves the init at its own size
    /// for the engine); the init's own size for "only masked", whatever the mode. Inverts the mask when asked, before
    /// it is resized, as A1111 does; a mask follows the init's mode from its own size.
    /// </summary>
    private static (RgbImage? Init, MaskImage? Mask) PrepareInputs(GenerationSettings s, GenerationInputs? inputs)
    {
        var init = inputs?.Init;
        var mask = inputs?.Mask;
        if (init is null) return (null, null);
        int width = s.Width!.Value, height = s.Height!.Value;
        bool masked = mask is not null && ParseArea(s.InpaintArea) == InpaintArea.Masked;
        if (mask is not null && s.MaskInvert) mask = mask.Inverted();
        if (!masked)
        {
            var mode = ParseResizeMode(s.ResizeMode);
            if (init.Width != width || init.Height != height)
                init = mode switch
                {
                    InitResize.Crop => AspectFit.Crop(init, width, height),
                    InitResize.Fill => AspectFit.Fill(init, width, height),
                    InitResize.LatentUpscale => init,
                    _ => ImageFiles.Resize(init, width, height),
                };
            if (mask is not null && (mask.Width != width || mask.Height != height))
                mask = mode switch
                {
                    InitResize.Crop => AspectFit.Crop(mask, width, height),
                    InitResize.Fill => AspectFit.Fill(mask, width, height),
                    _ => mask.Resized(width, height),
                };
        }
        if (mask is not null && (mask.Width != init.Width || mask.Height != init.Height))
            mask = mask.Resized(init.Width, init.Height);
        return (init, mask);
    }

    /// <summary>A1111's img2img resize modes 0–3.</summary>
    private enum InitResize { JustResize, Crop, Fill, LatentUpscale }

    private static InitResize ParseResizeMode(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "just-resize" => InitResize.JustResize,
        "crop" or "crop-and-resize" => InitResize.Crop,
        "fill" or "resize-and-fill" => InitResize.Fill,
        "latent-upscale" => InitResize.LatentUpscale,
        _ => throw new RedraftInputException($"unknown resize mode \"{value}\"; valid: just-resize, crop, fill, latent-upscale."),
    };

    /// <summary>
    /// Whether the engine encodes the init at its own size and resizes the latent: a latent upscale of a whole-picture
    /// request whose init is not already at the working size (at that size it is the same as "just resize").
    /// </summary>
    private static bool UpscalesLatent(GenerationSettings s, int initWidth, int initHeight, bool hasMask) =>
        ParseResizeMode(s.ResizeMode) == InitResize.LatentUpscale
        && !(hasMask && ParseArea(s.InpaintArea) == InpaintArea.Masked)
        && (initWidth != s.Width || initHeight != s.Height);

    internal static InpaintArea ParseArea(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "whole" or "whole-picture" or "false" => InpaintArea.Whole,
        "masked" or "only-masked" or "only_masked" or "true" => InpaintArea.Masked,
        _ => throw new RedraftInputException($"unknown inpaint area \"{value}\"; valid: whole, masked."),
    };

    internal static MaskedContent ParseContent(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "original" => MaskedContent.Original,
        "fill" => MaskedContent.Fill,
        "latent-noise" or "latent_noise" or "latent noise" => MaskedContent.LatentNoise,
        _ => throw new RedraftInputException($"unknown masked content \"{value}\"; valid: original, fill, latent-noise."),
    };

    internal static PredictionType? ParsePrediction(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" => null,
        "eps" or "epsilon" => PredictionType.Epsilon,
        "v" or "v_prediction" => PredictionType.V,
        _ => throw new RedraftInputException($"unknown prediction type \"{value}\"; valid: eps, v."),
    };

    /// <summary>Rounds to the nearest multiple of 8, at least 8.</summary>
    internal static int RoundTo8(int n) => Math.Max(8, (n + 4) / 8 * 8);

    private static string? FullOrNull(string? path) => path is null ? null : Path.GetFullPath(path);

    /// <summary>Reports on the reporting thread, in order (unlike <see cref="Progress{T}"/>, which posts).</summary>
    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
