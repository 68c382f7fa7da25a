using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Redraft.Diffusion;
using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Pipelines;
using Redraft.Imaging;

namespace Redraft.Studio.Generation;

/// <summary>
/// The generating steps of the iteration loop on one document, through <see cref="GenerationService"/>:
/// <see cref="GenerateAsync"/> (image-to-image over the composite, a region or a mask; the results become hidden
/// candidate layers, see <see cref="DocumentStore.Pick"/>), <see cref="HarmonizeAsync"/> (a low-strength pass over
/// the whole composite that becomes the new base layer) and <see cref="RerunAsync"/> (runs a recorded step again and
/// compares the bytes). Each step is recorded in the document's history with every parameter needed to run it
/// again; nothing is recorded if it fails, is cancelled or is skipped.
/// </summary>
public sealed class DocumentGenerator : IDisposable
{
    private readonly DocumentStore _store;
    private readonly GenerationService _service;
    private readonly bool _ownsService;

    /// <summary>Works on <paramref name="store"/>; generates through <paramref name="service"/> (default: a service of its own).</summary>
    public DocumentGenerator(DocumentStore store, GenerationService? service = null)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _ownsService = service is null;
        _service = service ?? new GenerationService();
    }

    /// <summary>
    /// Image-to-image over the composite. With a <see cref="GenerateOptions.Region"/> only that part is regenerated:
    /// its box plus padding runs at the working size (settings' width and height, default the model's native size on
    /// the short side with the region's aspect) and is pasted back through the blurred region mask. With a
    /// <see cref="GenerateOptions.Mask"/> only the masked pixels change (A1111's inpainting over the composite, at the
    /// canvas's size rounded to 8 unless the settings give one). Each variation becomes a hidden candidate layer.
    /// </summary>
    /// <exception cref="StudioInputException">Region outside the canvas, mask of another size, too many variations.</exception>
    /// <exception cref="RedraftInputException">Generation parameters the engine refuses (sampler, sizes, strength…).</exception>
    public async Task<StepResult> GenerateAsync(GenerationSettings settings, GenerateOptions? options = null,
        IProgress<GenerationEvent>? progress = null, CancellationToken ct = default, GenerationControl? control = null,
        string? operationId = null)
    {
        if (Replayed(operationId, "generate") is { } replay) return replay;
        var plan = await PlanGenerateAsync(settings, options, ct).ConfigureAwait(false);
        return await RunAndCommitAsync(plan, progress, control, operationId, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Plans <see cref="GenerateAsync"/> without running it: checks the request, chooses the working size, renders
    /// the composite and prepares the exact generation request. Nothing is recorded until <see cref="Commit"/>.
    /// </summary>
    /// <exception cref="StudioInputException">Region outside the canvas, mask of another size, too many variations.</exception>
    public async Task<DocumentStepPlan> PlanGenerateAsync(GenerationSettings settings, GenerateOptions? options = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        options ??= new GenerateOptions();
        _store.Refresh();
        var doc = _store.Document;
        var region = options.Region ?? new Region(0, 0, doc.Width, doc.Height);
        region.EnsureInside(doc.Width, doc.Height);
        if (options.Variations < 1 || options.Variations > GenerationRequest.MaxBatch)
            throw new StudioInputException($"variations {options.Variations} is out of range (1 to {GenerationRequest.MaxBatch}).");
        if (options.Mask is { } mask && (mask.Width != doc.Width || mask.Height != doc.Height))
            throw new StudioInputException($"the mask is {mask.Width}x{mask.Height} but the canvas is {doc.Width}x{doc.Height}; draw it at the canvas size.");
        settings = settings with { BatchSize = options.Variations, BatchCount = 1 };
        // A region runs at the model's working size through its mask; a mask alone keeps the canvas's size (as an
        // A1111 inpaint of the whole picture does), and so does a region asked to run natively.
        bool wholeArea = options.Mask is not null && GenerationService.ParseArea(settings.InpaintArea) == InpaintArea.Whole;
        var mode = options.Region is not null && !options.RegionNative && !wholeArea ? RegionMode.Working : RegionMode.Crop;
        var operationMask = options.Mask;
        if (mode == RegionMode.Working)
        {
            operationMask = options.Mask is null ? MaskImage.FromRegion(doc.Width, doc.Height, region)
                : options.Region is null ? options.Mask : Restrict(options.Mask, region);
            if (operationMask.Bounds() is null)
                throw new StudioInputException("the mask is empty (all black) in the region: nothing to regenerate; paint the area to change in white.");
            if (settings.Width is null || settings.Height is null)
            {
                var (w, h) = WorkingSize(region, await _service.DescribeAsync(settings, ct).ConfigureAwait(false));
                settings = settings with { Width = settings.Width ?? w, Height = settings.Height ?? h };
            }
        }
        var step = new RecordedStep
        {
            Kind = "generate",
            Settings = settings with { InpaintArea = mode == RegionMode.Working ? "masked" : settings.InpaintArea ?? "masked" },
            Region = region,
            Mode = mode,
            Mask = operationMask,
        };
        var composite = _store.Render();
        var (runSettings, inputs) = Prepare(step, composite);
        return new DocumentStepPlan(step, composite, runSettings, inputs,
            (doc, layers) => layers.Aggregate(doc, (d, l) => d.WithLayerOnTop(l)), candidates: true);
    }

    /// <summary>
    /// Low-strength image-to-image over the whole composite, so that pasted elements and seams take one style; the
    /// result becomes a new visible base layer on top and every older layer is hidden (not deleted).
    /// </summary>
    /// <exception cref="RedraftInputException">Generation parameters the engine refuses.</exception>
    public async Task<StepResult> HarmonizeAsync(GenerationSettings settings, double strength = 0.3,
        IProgress<GenerationEvent>? progress = null, CancellationToken ct = default, GenerationControl? control = null,
        string? operationId = null)
    {
        if (Replayed(operationId, "harmonize") is { } replay) return replay;
        return await RunAndCommitAsync(PlanHarmonize(settings, strength), progress, control, operationId, ct).ConfigureAwait(false);
    }

    /// <summary>Plans <see cref="HarmonizeAsync"/> without running it (see <see cref="PlanGenerateAsync"/>).</summary>
    public DocumentStepPlan PlanHarmonize(GenerationSettings settings, double strength = 0.3)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _store.Refresh();
        var doc = _store.Document;
        var step = new RecordedStep
        {
            Kind = "harmonize",
            Settings = settings with { Strength = strength, BatchSize = 1, BatchCount = 1 },
            Region = new Region(0, 0, doc.Width, doc.Height),
            Mode = RegionMode.Crop,
        };
        var composite = _store.Render();
        var (runSettings, inputs) = Prepare(step, composite);
        return new DocumentStepPlan(step, composite, runSettings, inputs, (doc, layers) =>
            (doc with { Layers = [.. doc.Layers.Select(l => l with { Hidden = true })] }).WithLayerOnTop(layers[0]), candidates: false);
    }

    /// <summary>
    /// Records a planned step with the images <paramref name="output"/> holds (the generation of
    /// <see cref="DocumentStepPlan.Settings"/> and <see cref="DocumentStepPlan.Inputs"/>): the new layers go on top of
    /// whatever the document is now, so edits made while it generated are kept. With <paramref name="operationId"/>
    /// the step is recorded once: committing again with that id changes nothing and returns the first record
    /// (<see cref="StepResult.Replayed"/>).
    /// </summary>
    /// <exception cref="StudioInputException">The output has no image (skipped), or the id was used for another kind of operation.</exception>
    public StepResult Commit(DocumentStepPlan plan, GenerationOutput output, string? operationId = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(output);
        if (Replayed(operationId, plan.Kind) is { } replay) return replay;
        var outcome = new Outcome(output, Shape(plan.Step, plan.Composite, output));
        var step = plan.Step;
        if (step.Mask is { } toStore && step.MaskHash is null) step = step with { MaskHash = _store.StoreMask(toStore) };
        return Record(step, outcome, plan.Composite, plan.Place, hidden: plan.Candidates, operationId);
    }

    /// <summary>
    /// The layers <see cref="Commit"/> would add for <paramref name="output"/> (each image cropped and placed as the
    /// step places it), without recording anything: what a live preview of a step shows and what committing it keeps.
    /// </summary>
    public static IReadOnlyList<CandidateImage> Candidates(DocumentStepPlan plan, GenerationOutput output)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(output);
        var layers = Shape(plan.Step, plan.Composite, output);
        return [.. layers.Select((l, i) => new CandidateImage(l.X, l.Y, l.Image.Width, l.Image.Height, output.Images[i].Seed, l.Png))];
    }

    /// <summary>
    /// Runs a recorded generate or harmonize step again from its recorded input image and parameters and compares
    /// the PNG bytes with the recorded outputs. Changes nothing in the document.
    /// </summary>
    /// <exception cref="StudioInputException">No such step, or not a generation.</exception>
    public async Task<RerunReport> RerunAsync(long stepId, RerunOverrides? overrides = null,
        IProgress<GenerationEvent>? progress = null, CancellationToken ct = default)
    {
        var plan = PlanRerun(stepId, overrides);
        GenerationOutput output;
        try
        {
            output = await _service.GenerateAsync(plan.Settings, plan.Inputs, progress, null, ct).ConfigureAwait(false);
        }
        catch (NotEnoughMemoryException ex) when (plan.Step.Settings.VaeTiling is not null)
        {
            // The recorded settings are not negotiable (another decode would give other bytes): no size or tiling advice.
            throw new StudioInputException($"step {stepId} needs about {AvailableMemory.Format(ex.NeededBytes)} as recorded (VAE tiling {(plan.Step.Settings.VaeTiling == true ? "on" : "off")}) but {AvailableMemory.Describe(ex.AvailableBytes)}; free memory to re-run it.", ex);
        }
        return Compare(plan, output);
    }

    /// <summary>
    /// Plans <see cref="RerunAsync"/> without running it: the recorded step's exact generation request, from its
    /// recorded input image and parameters (the generation can then run anywhere, such as a server's queue).
    /// </summary>
    /// <exception cref="StudioInputException">No such step, not a generation, or its input image is not recorded.</exception>
    public DocumentRerunPlan PlanRerun(long stepId, RerunOverrides? overrides = null)
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
        var composite = _store.GetImage(input).ToRgb();
        var (settings, inputs) = Prepare(step, composite);
        return new DocumentRerunPlan(stepId, step, composite, settings, inputs, recorded, (string?)json["model_hash"]);
    }

    /// <summary>Compares the images of a planned rerun's generation (<paramref name="output"/>) with the recorded outputs, byte for byte.</summary>
    public static RerunReport Compare(DocumentRerunPlan plan, GenerationOutput output)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(output);
        var layers = Shape(plan.Step, plan.Composite, output);
        var outputs = layers.Select((l, i) => new RerunOutput(
            output.Images[i].Seed, Convert.ToHexStringLower(SHA256.HashData(l.Png)), i < plan.Recorded.Count ? plan.Recorded[i] : null)).ToList();
        return new RerunReport(plan.StepId, outputs, output.ModelHash, plan.RecordedModelHash, plan.Recorded.Count);
    }

    /// <summary>Releases the service this generator made (not one passed in).</summary>
    public void Dispose()
    {
        if (_ownsService) _service.Dispose();
    }

    /// <summary>
    /// The working size of a region: the model's native size (512 for SD 1.x and 2.x-base, 768 for 2.x v-prediction)
    /// on the short side, the region's aspect, multiples of 8, the long side at most four times the short.
    /// </summary>
    internal static (int Width, int Height) WorkingSize(Region region, ModelDescription model)
    {
        int native = model.Prediction == PredictionType.V && model.UNet.ContextDim >= 1024 ? 768 : 512;
        double aspect = Math.Clamp((double)region.Width / region.Height, 0.25, 4);
        return aspect >= 1
            ? (RoundTo8(native * aspect), native)
            : (native, RoundTo8(native / aspect));
    }

    private static int RoundTo8(double n) => Math.Max(8, (int)Math.Round(n / 8) * 8);

    /// <summary>One candidate: its pixels at its place on the canvas and its PNG (with the parameters chunk).</summary>
    private sealed record CandidateLayer(RgbImage Image, int X, int Y, byte[] Png);

    private sealed record Outcome(GenerationOutput Output, IReadOnlyList<CandidateLayer> Layers);

    /// <summary>Runs a plan through the service and commits it; cancelled after the last decode, nothing is recorded.</summary>
    private async Task<StepResult> RunAndCommitAsync(DocumentStepPlan plan, IProgress<GenerationEvent>? progress, GenerationControl? control,
        string? operationId, CancellationToken ct)
    {
        var output = await _service.GenerateAsync(plan.Settings, plan.Inputs, progress, control, ct).ConfigureAwait(false);
        // Once the commit starts it completes (one transaction).
        ct.ThrowIfCancellationRequested();
        return Commit(plan, output, operationId);
    }

    /// <summary>
    /// The record of an operation already committed under <paramref name="operationId"/>, or null when there is none.
    /// </summary>
    /// <exception cref="StudioInputException">The id was used for another kind of operation.</exception>
    private StepResult? Replayed(string? operationId, string kind)
    {
        if (operationId is null || _store.FindOperation(operationId) is not { } entry) return null;
        if (entry.Kind != kind)
            throw new StudioInputException($"operation id \"{operationId}\" was already used for a '{entry.Kind}' step; send a new id for this {kind}.");
        return new StepResult(entry, [], entry.ModelHash ?? "") { Replayed = true };
    }

    /// <summary>
    /// The canvas rectangle a step's generation covers (<see cref="DocumentStepPlan.Area"/>): for an "only masked" run
    /// the crop box the engine takes (<c>MaskOperations.CropBox</c>, the one source of that rule) mapped from the
    /// generation's input pixels to the canvas; else the step's region.
    /// </summary>
    internal static Region GeneratedArea(RecordedStep step, GenerationSettings settings, GenerationInputs inputs)
    {
        var region = step.Region;
        if (inputs.Mask is not { } mask || inputs.Init is not { } init || GenerationService.ParseArea(settings.InpaintArea) != InpaintArea.Masked
            || settings.Width is not { } workWidth || settings.Height is not { } workHeight)
            return region;
        if (settings.MaskInvert) mask = mask.Inverted();
        if (mask.Width != init.Width || mask.Height != init.Height) mask = mask.Resized(init.Width, init.Height);
        var blurred = MaskOperations.Blur(new MaskPixels(mask.Width, mask.Height, mask.Pixels), settings.MaskBlur);
        if (MaskOperations.CropBox(blurred, init.Width, init.Height, settings.InpaintPadding, workWidth, workHeight) is not { } box)
            return region;
        if (step.Mode == RegionMode.Working) return new Region(box.X, box.Y, box.Width, box.Height);
        // A crop run's input is the region scaled to the working size: map the box back to canvas pixels (outward).
        double sx = (double)region.Width / init.Width, sy = (double)region.Height / init.Height;
        int x0 = region.X + (int)Math.Floor(box.X * sx), y0 = region.Y + (int)Math.Floor(box.Y * sy);
        int x1 = Math.Min(region.X + region.Width, region.X + (int)Math.Ceiling((box.X + box.Width) * sx));
        int y1 = Math.Min(region.Y + region.Height, region.Y + (int)Math.Ceiling((box.Y + box.Height) * sy));
        return new Region(x0, y0, x1 - x0, y1 - y0);
    }

    /// <summary>The generation request of a step: the composite (or its crop at the working size) and the mask.</summary>
    private static (GenerationSettings Settings, GenerationInputs Inputs) Prepare(RecordedStep step, RgbImage composite)
    {
        var s = step.Settings;
        var region = step.Region;
        if (step.Mode == RegionMode.Working)
            return (s with { InpaintArea = "masked" }, new GenerationInputs(composite, step.Mask));
        int width = s.Width ?? GenerationService.RoundTo8(region.Width), height = s.Height ?? GenerationService.RoundTo8(region.Height);
        if (width is < 8 or > GenerationRequest.MaxSide || height is < 8 or > GenerationRequest.MaxSide)
            throw new RedraftInputException($"working size {width}x{height} is out of range (8 to {GenerationRequest.MaxSide}, multiples of 8).");
        var crop = Crop(composite, region);
        if (crop.Width != width || crop.Height != height) crop = ImageFiles.Resize(crop, width, height);
        var mask = step.Mask is { } m ? CropMask(m, region, width, height) : null;
        return (s with { Width = width, Height = height }, new GenerationInputs(crop, mask));
    }

    /// <summary>The images of a step's output as layers at their place on the canvas.</summary>
    private static IReadOnlyList<CandidateLayer> Shape(RecordedStep step, RgbImage composite, GenerationOutput output)
    {
        var region = step.Region;
        if (step.Mode == RegionMode.Working)
            return [.. output.Images.Select(p =>
            {
                var box = Changed(composite, p.Image, step.Mask!);
                var crop = Crop(p.Image, box);
                return new CandidateLayer(crop, box.X, box.Y, EncodePng(crop, p.Info));
            })];
        return [.. output.Images.Select(p =>
        {
            var image = p.Image.Width != region.Width || p.Image.Height != region.Height ? ImageFiles.Resize(p.Image, region.Width, region.Height) : p.Image;
            return new CandidateLayer(image, region.X, region.Y, ReferenceEquals(image, p.Image) ? p.Png : EncodePng(image, p.Info));
        })];
    }

    /// <summary>
    /// Records the step with its new layers, placed by <paramref name="place"/> on whatever the document is when the
    /// step commits: edits made while it generated are kept, and the new layers land on top of them.
    /// </summary>
    private StepResult Record(RecordedStep step, Outcome outcome, RgbImage composite, Func<Document, IReadOnlyList<Layer>, Document> place, bool hidden,
        string? operationId)
    {
        EnsureImages(outcome);
        var output = outcome.Output;
        step = step with { Settings = output.Settings };
        string input = _store.StorePng(EncodePng(composite, null));
        var hashes = outcome.Layers.Select(l => _store.StorePng(l.Png)).ToList();
        var images = new List<StepImage>();
        var entry = _store.Apply(c =>
        {
            images.Clear();
            var layers = new List<Layer>();
            for (int i = 0; i < hashes.Count; i++)
            {
                var picture = output.Images[i];
                string seeds = step.Settings.SubseedStrength != 0 ? $"{picture.Seed}/{picture.Subseed}" : $"{picture.Seed}";
                var layer = new Layer
                {
                    Id = c.NewLayerId(),
                    Name = hidden ? $"candidate {seeds}" : $"harmonized {seeds}",
                    Image = hashes[i],
                    X = outcome.Layers[i].X,
                    Y = outcome.Layers[i].Y,
                    Hidden = hidden,
                    Role = hidden ? LayerRole.Candidate : LayerRole.Generated,
                    Generation = new LayerGeneration(c.OperationId, picture.Seed),
                };
                layers.Add(layer);
                images.Add(new StepImage(layer.Id, picture.Seed, outcome.Layers[i].Image, hashes[i]));
            }
            var parameters = step.ToJson();
            parameters["model_hash"] = output.ModelHash;
            parameters["input"] = input;
            parameters["outputs"] = new JsonArray([.. hashes.Select(h => (JsonNode)JsonValue.Create(h))]);
            parameters["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)JsonValue.Create(l.Id))]);
            parameters["seeds"] = new JsonArray([.. output.Images.Select(i => (JsonNode)JsonValue.Create(i.Seed))]);
            if (output.Stop == StopReason.Interrupted) parameters["steps_run"] = output.StepsRun;
            return (place(c.Current, layers), new OperationRecord
            {
                Kind = step.Kind,
                ParametersJson = parameters.ToJsonString(),
                Prompt = step.Settings.Prompt,
                Seed = step.Settings.Seed,
                Strength = step.Settings.Strength,
                Sampler = output.SamplerName,
                ModelHash = output.ModelHash,
                Duration = output.Duration,
                Inputs = [input],
                Outputs = hashes,
            });
        }, operationId);
        return new StepResult(entry, images, output.ModelHash) { Settings = output.Settings };
    }

    private static void EnsureImages(Outcome outcome)
    {
        if (outcome.Output.Images.Count == 0)
            throw new StudioInputException("the generation was skipped before it made an image; nothing was recorded.");
    }

    /// <summary>The rectangle a working-mode result changed: where its pixels differ from the composite, and the mask's box.</summary>
    private static Region Changed(RgbImage before, RgbImage after, MaskImage mask)
    {
        var box = mask.Bounds()!.Value;
        int minX = box.X, minY = box.Y, maxX = box.X + box.Width - 1, maxY = box.Y + box.Height - 1;
        for (int y = 0; y < after.Height; y++)
            for (int x = 0; x < after.Width; x++)
            {
                int i = (y * after.Width + x) * 3;
                if (after.Pixels[i] != before.Pixels[i] || after.Pixels[i + 1] != before.Pixels[i + 1] || after.Pixels[i + 2] != before.Pixels[i + 2])
                {
                    minX = Math.Min(minX, x); maxX = Math.Max(maxX, x);
                    minY = Math.Min(minY, y); maxY = Math.Max(maxY, y);
                }
            }
        return new Region(minX, minY, maxX - minX + 1, maxY - minY + 1);
    }

    /// <summary>The mask with everything outside <paramref name="region"/> set to 0.</summary>
    private static MaskImage Restrict(MaskImage mask, Region region)
    {
        var pixels = new byte[mask.Pixels.Length];
        for (int y = region.Y; y < region.Y + region.Height; y++)
            Array.Copy(mask.Pixels, y * mask.Width + region.X, pixels, y * mask.Width + region.X, region.Width);
        return new MaskImage(mask.Width, mask.Height, pixels);
    }

    /// <summary>The region of a canvas mask at the working size (nearest neighbour: a mask's edges stay hard until blurred).</summary>
    internal static MaskImage CropMask(MaskImage mask, Region r, int width, int height)
    {
        var values = new byte[width * height];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int sx = r.X + Math.Min(r.Width - 1, x * r.Width / width), sy = r.Y + Math.Min(r.Height - 1, y * r.Height / height);
                values[y * width + x] = mask.Pixels[sy * mask.Width + sx];
            }
        return new MaskImage(width, height, values);
    }

    internal static RgbImage Crop(RgbImage image, Region r)
    {
        var pixels = new byte[r.Width * r.Height * 3];
        for (int row = 0; row < r.Height; row++)
            Array.Copy(image.Pixels, ((r.Y + row) * image.Width + r.X) * 3, pixels, row * r.Width * 3, r.Width * 3);
        return new RgbImage(r.Width, r.Height, pixels);
    }

    /// <summary>An RGB image as the PNG a layer stores: RGBA (as before), with the parameters chunk when given.</summary>
    private static byte[] EncodePng(RgbImage image, GenerationInfo? info) =>
        info is null ? ImageFiles.EncodePng(RgbaImage.FromRgb(image))
            : ImageFiles.EncodePng(image, new Dictionary<string, string> { ["parameters"] = info.Format() });
}
