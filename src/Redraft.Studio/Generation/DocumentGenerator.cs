using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Redraft.Diffusion;
using Redraft.Diffusion.Pipelines;
using Redraft.Imaging;

namespace Redraft.Studio.Generation;

/// <summary>
/// The generating steps of the iteration loop on one document: <see cref="GenerateAsync"/> (image-to-image over the
/// composite, a region or a mask; the results become hidden candidate layers, see <see cref="DocumentStore.Pick"/>),
/// <see cref="HarmonizeAsync"/> (a low-strength pass over the whole composite that becomes the new base layer) and
/// <see cref="RerunAsync"/> (runs a recorded step again and compares the bytes). Each step is recorded in the
/// document's history with every parameter needed to run it again; nothing is recorded if it fails or is cancelled.
/// </summary>
public sealed class DocumentGenerator : IDisposable
{
    private readonly DocumentStore _store;
    private readonly ModelCache _models;
    private readonly bool _ownsModels;

    /// <summary>Works on <paramref name="store"/>; loads models through <paramref name="models"/> (default: a cache of its own).</summary>
    public DocumentGenerator(DocumentStore store, ModelCache? models = null)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _ownsModels = models is null;
        _models = models ?? new ModelCache();
    }

    /// <summary>
    /// Image-to-image over the composite (or <see cref="GenerateOptions.Region"/> of it, or the box of
    /// <see cref="GenerateOptions.Mask"/>); each variation becomes a hidden candidate layer named
    /// <c>candidate &lt;seed&gt;</c> at the region's place. Everything is validated before the model loads.
    /// </summary>
    /// <exception cref="StudioInputException">Region outside the canvas, mask of another size, too many variations.</exception>
    /// <exception cref="RedraftInputException">Generation parameters the engine refuses (sampler, sizes, strength…).</exception>
    public async Task<StepResult> GenerateAsync(GenerationSettings settings, GenerateOptions? options = null,
        IProgress<GenerationProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        options ??= new GenerateOptions();
        var doc = _store.Document;
        var region = options.Region ?? new Region(0, 0, doc.Width, doc.Height);
        region.EnsureInside(doc.Width, doc.Height);
        if (options.Variations < 1 || options.Variations > GenerationRequest.MaxBatch)
            throw new StudioInputException($"variations {options.Variations} is out of range (1 to {GenerationRequest.MaxBatch}).");
        if (options.Mask is { } mask && (mask.Width != doc.Width || mask.Height != doc.Height))
            throw new StudioInputException($"the mask is {mask.Width}x{mask.Height} but the canvas is {doc.Width}x{doc.Height}; draw it at the canvas size.");
        var step = Resolve("generate", settings, region, options.Strength, options.Variations) with
        {
            Mask = options.Mask,
            MaskBlur = options.MaskBlur,
            InpaintPadding = options.InpaintPadding,
        };
        var composite = _store.Render();
        var request = BuildRequest(step, composite);
        request.Validate();
        if (step.Mask is { } toStore) step = step with { MaskHash = _store.StoreMask(toStore) };

        var outcome = await RunAsync(step.Settings, request, step.Region, progress, ct).ConfigureAwait(false);
        step = step with { Settings = step.Settings with { Seed = outcome.BaseSeed } };
        string input = _store.StorePng(EncodePng(composite));
        var hashes = outcome.Pngs.Select(p => _store.StorePng(p)).ToList();
        var next = doc;
        var images = new List<StepImage>();
        for (int i = 0; i < hashes.Count; i++)
        {
            var layer = new Layer
            {
                Id = _store.NewLayerId(),
                Name = $"candidate {outcome.Seeds[i].ToString(CultureInfo.InvariantCulture)}",
                Image = hashes[i],
                X = region.X,
                Y = region.Y,
                Hidden = true,
            };
            images.Add(new StepImage(layer.Id, outcome.Seeds[i], outcome.Images[i], hashes[i]));
            next = next.WithLayerOnTop(layer);
        }
        var entry = Record(step, outcome, input, hashes, next, images);
        return new StepResult(entry, images, outcome.ModelHash);
    }

    /// <summary>
    /// Low-strength image-to-image over the whole composite, so that pasted elements and seams take one style; the
    /// result becomes a new visible base layer on top and every older layer is hidden (not deleted).
    /// </summary>
    /// <exception cref="RedraftInputException">Generation parameters the engine refuses.</exception>
    public async Task<StepResult> HarmonizeAsync(GenerationSettings settings, double strength = 0.3,
        IProgress<GenerationProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var doc = _store.Document;
        var step = Resolve("harmonize", settings, new Region(0, 0, doc.Width, doc.Height), strength, 1);
        var composite = _store.Render();
        var request = BuildRequest(step, composite);
        request.Validate();

        var outcome = await RunAsync(step.Settings, request, step.Region, progress, ct).ConfigureAwait(false);
        step = step with { Settings = step.Settings with { Seed = outcome.BaseSeed } };
        string input = _store.StorePng(EncodePng(composite));
        string hash = _store.StorePng(outcome.Pngs[0]);
        var layer = new Layer { Id = _store.NewLayerId(), Name = $"harmonized {outcome.Seeds[0].ToString(CultureInfo.InvariantCulture)}", Image = hash };
        var next = (doc with { Layers = [.. doc.Layers.Select(l => l with { Hidden = true })] }).WithLayerOnTop(layer);
        var images = new List<StepImage> { new(layer.Id, outcome.Seeds[0], outcome.Images[0], hash) };
        var entry = Record(step, outcome, input, [hash], next, images);
        return new StepResult(entry, images, outcome.ModelHash);
    }

    /// <summary>
    /// Runs a recorded generate or harmonize step again from its recorded input image and parameters and compares
    /// the PNG bytes with the recorded outputs. Changes nothing in the document.
    /// </summary>
    /// <exception cref="StudioInputException">No such step, or not a generation.</exception>
    public async Task<RerunReport> RerunAsync(long stepId, RerunOverrides? overrides = null,
        IProgress<GenerationProgress>? progress = null, CancellationToken ct = default)
    {
        var entry = _store.History().FirstOrDefault(e => e.Id == stepId)
            ?? throw new StudioInputException($"no step {stepId} in the history (see redraft doc history).");
        if (entry.Kind is not ("generate" or "harmonize"))
            throw new StudioInputException($"step {stepId} is a '{entry.Kind}'; only generate and harmonize steps can be re-run.");
        var json = JsonNode.Parse(entry.ParametersJson)!.AsObject();
        var step = RecordedStep.FromJson(json);
        if (step.MaskHash is { } maskHash) step = step with { Mask = _store.GetMask(maskHash) };
        if (overrides is not null)
            step = step with
            {
                Settings = step.Settings with
                {
                    Model = overrides.Model is { } m ? Path.GetFullPath(m) : step.Settings.Model,
                    Tokenizer = overrides.Tokenizer is { } t ? Path.GetFullPath(t) : step.Settings.Tokenizer,
                    Threads = overrides.Threads ?? step.Settings.Threads,
                },
            };
        var recorded = json["outputs"]?.AsArray().Select(n => (string)n!).ToList() ?? [];
        string input = (string?)json["input"] ?? throw new StudioInputException($"step {stepId} has no recorded input image; it cannot be re-run.");
        var request = BuildRequest(step, _store.GetImage(input).ToRgb());
        request.Validate();

        var outcome = await RunAsync(step.Settings, request, step.Region, progress, ct).ConfigureAwait(false);
        var outputs = outcome.Pngs.Select((png, i) => new RerunOutput(
            outcome.Seeds[i], Convert.ToHexStringLower(SHA256.HashData(png)), i < recorded.Count ? recorded[i] : null)).ToList();
        return new RerunReport(stepId, outputs, outcome.ModelHash, (string?)json["model_hash"], recorded.Count);
    }

    /// <summary>Unloads the models this generator loaded (not those of a cache passed in).</summary>
    public void Dispose()
    {
        if (_ownsModels) _models.Dispose();
    }

    private static RecordedStep Resolve(string kind, GenerationSettings s, Region region, double strength, int variations) => new()
    {
        Kind = kind,
        Settings = s with
        {
            Model = Path.GetFullPath(s.Model),
            Config = FullOrNull(s.Config),
            Vae = FullOrNull(s.Vae),
            Tokenizer = FullOrNull(s.Tokenizer),
        },
        Strength = strength,
        Variations = variations,
        Width = s.Width ?? RoundTo8(region.Width),
        Height = s.Height ?? RoundTo8(region.Height),
        Region = region,
    };

    private static string? FullOrNull(string? path) => path is null ? null : Path.GetFullPath(path);

    /// <summary>Rounds to the nearest multiple of 8, at least 8.</summary>
    internal static int RoundTo8(int n) => Math.Max(8, (n + 4) / 8 * 8);

    private sealed record Outcome(IReadOnlyList<byte[]> Pngs, IReadOnlyList<RgbImage> Images, IReadOnlyList<long> Seeds,
        string ModelHash, string SamplerName, long BaseSeed, TimeSpan Duration);

    private static GenerationRequest BuildRequest(RecordedStep step, RgbImage composite)
    {
        var s = step.Settings;
        if (step.Width is < 8 or > GenerationRequest.MaxSide || step.Height is < 8 or > GenerationRequest.MaxSide)
            throw new RedraftInputException($"working size {step.Width}x{step.Height} is out of range (8 to {GenerationRequest.MaxSide}, multiples of 8).");
        var crop = Crop(composite, step.Region);
        if (crop.Width != step.Width || crop.Height != step.Height)
            crop = ImageFiles.Resize(crop, step.Width, step.Height);
        return new GenerationRequest
        {
            Prompt = s.Prompt,
            NegativePrompt = s.Negative,
            Width = step.Width,
            Height = step.Height,
            Steps = s.Steps,
            CfgScale = s.Cfg,
            Sampler = s.Sampler,
            Eta = s.Eta,
            Schedule = s.Schedule,
            Seed = s.Seed,
            Rng = s.Rng,
            BatchSize = step.Variations,
            InitImage = new ImagePixels(crop.Width, crop.Height, crop.Pixels),
            Strength = step.Strength,
            Inpaint = step.Mask is { } mask ? new InpaintOptions
            {
                Mask = CropMask(mask, step.Region, step.Width, step.Height),
                MaskBlur = step.MaskBlur,
                Area = InpaintArea.Masked,
                Padding = step.InpaintPadding,
            } : null,
        };
    }

    /// <summary>The region of a canvas mask at the working size (nearest neighbour: a mask's edges stay hard until blurred).</summary>
    internal static MaskPixels CropMask(MaskImage mask, Region r, int width, int height)
    {
        var values = new byte[width * height];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int sx = r.X + Math.Min(r.Width - 1, x * r.Width / width), sy = r.Y + Math.Min(r.Height - 1, y * r.Height / height);
                values[y * width + x] = mask.Pixels[sy * mask.Width + sx];
            }
        return new MaskPixels(width, height, values);
    }

    internal static RgbImage Crop(RgbImage image, Region r)
    {
        var pixels = new byte[r.Width * r.Height * 3];
        for (int row = 0; row < r.Height; row++)
            Array.Copy(image.Pixels, ((r.Y + row) * image.Width + r.X) * 3, pixels, row * r.Width * 3, r.Width * 3);
        return new RgbImage(r.Width, r.Height, pixels);
    }

    /// <summary>Loads (or reuses) the model and runs a validated request; images come back at the region's size.</summary>
    private async Task<Outcome> RunAsync(GenerationSettings s, GenerationRequest request, Region region, IProgress<GenerationProgress>? progress, CancellationToken ct)
    {
        TorchRuntime.Initialize(s.Threads);
        var model = _models.Get(new ModelLoadOptions
        {
            ModelPath = s.Model,
            ConfigPath = s.Config,
            VaePath = s.Vae,
            TokenizerPath = s.Tokenizer,
            Device = s.Device,
            DType = s.DType,
            VaeDType = s.VaeDType,
        }, ct);
        var clock = Stopwatch.StartNew();
        var result = await new DiffusionPipeline(model).GenerateAsync(request, progress, ct).ConfigureAwait(false);
        var pngs = new List<byte[]>();
        var images = new List<RgbImage>();
        var seeds = new List<long>();
        foreach (var image in result.Images)
        {
            var rgb = new RgbImage(image.Image.Width, image.Image.Height, image.Image.Rgb);
            if (rgb.Width != region.Width || rgb.Height != region.Height)
                rgb = ImageFiles.Resize(rgb, region.Width, region.Height);
            var info = Infotexts.For(result, image, model, img2img: true);
            pngs.Add(ImageFiles.EncodePng(rgb, new Dictionary<string, string> { ["parameters"] = info.Format() }));
            images.Add(rgb);
            seeds.Add(image.Seed);
        }
        return new Outcome(pngs, images, seeds, model.Hash, result.SamplerName, result.BaseSeed, clock.Elapsed);
    }

    private HistoryEntry Record(RecordedStep step, Outcome outcome, string input, IReadOnlyList<string> outputs, Document next, IReadOnlyList<StepImage> images)
    {
        var parameters = step.ToJson();
        parameters["model_hash"] = outcome.ModelHash;
        parameters["input"] = input;
        parameters["outputs"] = new JsonArray([.. outputs.Select(h => (JsonNode)JsonValue.Create(h))]);
        parameters["layers"] = new JsonArray([.. images.Select(i => (JsonNode)JsonValue.Create(i.LayerId))]);
        parameters["seeds"] = new JsonArray([.. outcome.Seeds.Select(s => (JsonNode)JsonValue.Create(s))]);
        return _store.RecordOperation(new OperationRecord
        {
            Kind = step.Kind,
            ParametersJson = parameters.ToJsonString(),
            Prompt = step.Settings.Prompt,
            Seed = outcome.BaseSeed,
            Strength = step.Strength,
            Sampler = outcome.SamplerName,
            ModelHash = outcome.ModelHash,
            Duration = outcome.Duration,
            Inputs = [input],
            Outputs = outputs,
        }, next);
    }

    private static byte[] EncodePng(RgbImage image) => StudioPng.Encode(RgbaImage.FromRgb(image));
}
