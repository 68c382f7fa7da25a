using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Redraft.Diffusion;
using Redraft.Diffusion.Pipelines;
using Redraft.Imaging;
using Redraft.Studio;

namespace Redraft.Cli.Commands.Doc;

/// <summary>
/// <c>redraft doc generate</c>, <c>harmonize</c> and <c>rerun</c>: image-to-image over the document's composite,
/// recorded with every parameter needed to run it again byte for byte.
/// </summary>
internal static class DocGenerate
{
    /// <summary>What one generate/harmonize step ran with; stored as the history row's parameters JSON.</summary>
    internal sealed record Step
    {
        public required string Kind { get; init; }
        public required string Prompt { get; init; }
        public string Negative { get; init; } = "";
        public int Steps { get; init; }
        public double Cfg { get; init; }
        public string Sampler { get; init; } = "Euler a";
        public string? Schedule { get; init; }
        public double? Eta { get; init; }
        public long Seed { get; init; }
        public string Rng { get; init; } = "cpu";
        public double Strength { get; init; }
        public int Variations { get; init; } = 1;
        public int Width { get; init; }
        public int Height { get; init; }
        public required Region Region { get; init; }
        /// <summary>Inpainting mask over the canvas (white = regenerate), stored in the document as <see cref="MaskHash"/>.</summary>
        public MaskImage? Mask { get; init; }
        public string? MaskHash { get; init; }
        public int MaskBlur { get; init; } = 4;
        public int InpaintPadding { get; init; } = 32;
        public required string Model { get; init; }
        public string? Config { get; init; }
        public string? Vae { get; init; }
        public string? Tokenizer { get; init; }
        public string DType { get; init; } = "auto";
        public string Device { get; init; } = "cpu";
        public int? Threads { get; init; }

        public JsonObject ToJson() => new()
        {
            ["kind"] = Kind,
            ["prompt"] = Prompt,
            ["negative"] = Negative,
            ["steps"] = Steps,
            ["cfg"] = Cfg,
            ["sampler"] = Sampler,
            ["schedule"] = Schedule,
            ["eta"] = Eta,
            ["seed"] = Seed,
            ["rng"] = Rng,
            ["strength"] = Strength,
            ["variations"] = Variations,
            ["width"] = Width,
            ["height"] = Height,
            ["region"] = Region.ToString(),
            ["mask"] = MaskHash,
            ["mask_blur"] = MaskBlur,
            ["inpaint_padding"] = InpaintPadding,
            ["model"] = Model,
            ["config"] = Config,
            ["vae"] = Vae,
            ["tokenizer"] = Tokenizer,
            ["dtype"] = DType,
            ["device"] = Device,
            ["threads"] = Threads,
        };

        public static Step FromJson(JsonObject o) => new()
        {
            Kind = (string)o["kind"]!,
            Prompt = (string)o["prompt"]!,
            Negative = (string?)o["negative"] ?? "",
            Steps = (int)o["steps"]!,
            Cfg = (double)o["cfg"]!,
            Sampler = (string)o["sampler"]!,
            Schedule = (string?)o["schedule"],
            Eta = (double?)o["eta"],
            Seed = (long)o["seed"]!,
            Rng = (string?)o["rng"] ?? "cpu",
            Strength = (double)o["strength"]!,
            Variations = (int)o["variations"]!,
            Width = (int)o["width"]!,
            Height = (int)o["height"]!,
            Region = Region.Parse((string)o["region"]!),
            MaskHash = (string?)o["mask"],
            MaskBlur = (int?)o["mask_blur"] ?? 4,
            InpaintPadding = (int?)o["inpaint_padding"] ?? 32,
            Model = (string)o["model"]!,
            Config = (string?)o["config"],
            Vae = (string?)o["vae"],
            Tokenizer = (string?)o["tokenizer"],
            DType = (string?)o["dtype"] ?? "auto",
            Device = (string?)o["device"] ?? "cpu",
            Threads = (int?)o["threads"],
        };
    }

    private sealed class ModelOptions
    {
        public readonly Option<string> Model = new("--model") { Description = "Checkpoint (.safetensors) or diffusers folder", Required = true };
        public readonly Option<string?> Config = new("--config") { Description = "Original-format YAML config" };
        public readonly Option<string?> Vae = new("--vae") { Description = "Standalone VAE .safetensors" };
        public readonly Option<string> Prompt = new("--prompt") { Description = "What to draw", Required = true };
        public readonly Option<string> Negative = new("--negative") { Description = "What to avoid", DefaultValueFactory = _ => "" };
        public readonly Option<int?> Width = new("--width") { Description = "Working width, a multiple of 8 (default: the region's, rounded to 8)" };
        public readonly Option<int?> Height = new("--height") { Description = "Working height, a multiple of 8 (default: the region's, rounded to 8)" };
        public readonly Option<int> Steps = new("--steps") { Description = "Sampling steps", DefaultValueFactory = _ => 20 };
        public readonly Option<double> Cfg = new("--cfg") { Description = "Classifier-free guidance scale", DefaultValueFactory = _ => 7.5 };
        public readonly Option<string> Sampler = new("--sampler") { Description = "Sampler name (Euler a, Euler, DDIM)", DefaultValueFactory = _ => "Euler a" };
        public readonly Option<string?> Schedule = new("--schedule") { Description = "Sigma schedule" };
        public readonly Option<double?> Eta = new("--eta") { Description = "DDIM eta" };
        public readonly Option<long> Seed = new("--seed") { Description = "Seed; variation i uses seed+i; -1 = random", DefaultValueFactory = _ => -1 };
        public readonly Option<string> Rng = new("--rng") { Description = "Noise source: cpu or nv", DefaultValueFactory = _ => "cpu" };
        public readonly Option<int?> Threads = new("--threads") { Description = "CPU threads (default: physical cores)" };
        public readonly Option<string?> Tokenizer = new("--tokenizer") { Description = "Folder with CLIP vocab.json and merges.txt" };
        public readonly Option<string> DType = new("--dtype") { Description = "UNet precision: auto, bf16, fp32", DefaultValueFactory = _ => "auto" };
        public readonly Option<string> Device = new("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };

        public void AddTo(Command c)
        {
            foreach (var o in new Option[] { Model, Config, Vae, Prompt, Negative, Width, Height, Steps, Cfg, Sampler, Schedule, Eta, Seed, Rng, Threads, Tokenizer, DType, Device })
                c.Options.Add(o);
        }

        public Step ToStep(ParseResult p, string kind, Region region, double strength, int variations)
        {
            string? tokenizer = p.GetValue(Tokenizer);
            return new Step
            {
                Kind = kind,
                Prompt = p.GetValue(Prompt)!,
                Negative = p.GetValue(Negative) ?? "",
                Steps = p.GetValue(Steps),
                Cfg = p.GetValue(Cfg),
                Sampler = p.GetValue(Sampler)!,
                Schedule = p.GetValue(Schedule),
                Eta = p.GetValue(Eta),
                Seed = p.GetValue(Seed),
                Rng = p.GetValue(Rng)!,
                Strength = strength,
                Variations = variations,
                Width = p.GetValue(Width) ?? RoundTo8(region.Width),
                Height = p.GetValue(Height) ?? RoundTo8(region.Height),
                Region = region,
                Model = Path.GetFullPath(p.GetValue(Model)!),
                Config = FullOrNull(p.GetValue(Config)),
                Vae = FullOrNull(p.GetValue(Vae)),
                Tokenizer = FullOrNull(tokenizer),
                DType = p.GetValue(DType)!,
                Device = p.GetValue(Device)!,
                Threads = p.GetValue(Threads),
            };
        }
    }

    private static string? FullOrNull(string? path) => path is null ? null : Path.GetFullPath(path);

    /// <summary>Rounds to the nearest multiple of 8, at least 8.</summary>
    internal static int RoundTo8(int n) => Math.Max(8, (n + 4) / 8 * 8);

    /// <summary>The outcome of running a step: PNG bytes (with the A1111 parameters chunk) at the region's size, per variation.</summary>
    internal sealed record Outcome(IReadOnlyList<byte[]> Pngs, IReadOnlyList<RgbImage> Images, IReadOnlyList<long> Seeds, string ModelHash, string SamplerName, long BaseSeed, TimeSpan Duration);

    private static GenerationRequest BuildRequest(Step s, RgbImage composite)
    {
        var crop = Crop(composite, s.Region);
        if (crop.Width != s.Width || crop.Height != s.Height)
            crop = ImageFiles.Resize(crop, s.Width, s.Height);
        return new GenerationRequest
        {
            Prompt = s.Prompt,
            NegativePrompt = s.Negative,
            Width = s.Width,
            Height = s.Height,
            Steps = s.Steps,
            CfgScale = s.Cfg,
            Sampler = s.Sampler,
            Eta = s.Eta,
            Schedule = s.Schedule,
            Seed = s.Seed,
            Rng = s.Rng,
            BatchSize = s.Variations,
            InitImage = new ImagePixels(crop.Width, crop.Height, crop.Pixels),
            Strength = s.Strength,
            Inpaint = s.Mask is { } mask ? new InpaintOptions
            {
                Mask = CropMask(mask, s.Region, s.Width, s.Height),
                MaskBlur = s.MaskBlur,
                Area = InpaintArea.Masked,
                Padding = s.InpaintPadding,
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

    /// <summary>Checks the step's generation parameters before anything is loaded.</summary>
    private static void Validate(Step s, RgbImage composite)
    {
        if (s.Width is < 8 or > GenerationRequest.MaxSide || s.Height is < 8 or > GenerationRequest.MaxSide)
            throw new RedraftInputException($"working size {s.Width}x{s.Height} is out of range (8 to {GenerationRequest.MaxSide}, multiples of 8).");
        BuildRequest(s, composite).Validate();
    }

    private static async Task<Outcome> RunAsync(Step s, RgbImage composite, string label, CancellationToken ct)
    {
        var request = BuildRequest(s, composite);
        request.Validate();
        TorchRuntime.Initialize(s.Threads);
        using var model = StableDiffusionModel.Load(new ModelLoadOptions
        {
            ModelPath = s.Model,
            ConfigPath = s.Config,
            VaePath = s.Vae,
            TokenizerPath = s.Tokenizer,
            Device = s.Device,
            DType = s.DType,
        }, ct);
        var pipeline = new DiffusionPipeline(model);
        var clock = Stopwatch.StartNew();
        var result = await ConsoleProgress.RunAsync(label, progress => pipeline.GenerateAsync(request, progress, ct), _ => { });
        var pngs = new List<byte[]>();
        var images = new List<RgbImage>();
        var seeds = new List<long>();
        string temp = Path.Combine(Path.GetTempPath(), $"redraft-doc-{Guid.NewGuid():N}.png");
        try
        {
            foreach (var image in result.Images)
            {
                var rgb = new RgbImage(image.Image.Width, image.Image.Height, image.Image.Rgb);
                if (rgb.Width != s.Region.Width || rgb.Height != s.Region.Height)
                    rgb = ImageFiles.Resize(rgb, s.Region.Width, s.Region.Height);
                var info = Infotexts.For(result, image, model, img2img: true);
                ImageFiles.SavePng(temp, rgb, new Dictionary<string, string> { ["parameters"] = info.Format() });
                pngs.Add(File.ReadAllBytes(temp));
                images.Add(rgb);
                seeds.Add(image.Seed);
            }
        }
        finally
        {
            File.Delete(temp);
        }
        return new Outcome(pngs, images, seeds, model.Hash, result.SamplerName, result.BaseSeed, clock.Elapsed);
    }

    internal static RgbImage Crop(RgbImage image, Region r)
    {
        var pixels = new byte[r.Width * r.Height * 3];
        for (int row = 0; row < r.Height; row++)
            Array.Copy(image.Pixels, ((r.Y + row) * image.Width + r.X) * 3, pixels, row * r.Width * 3, r.Width * 3);
        return new RgbImage(r.Width, r.Height, pixels);
    }

    public static Command Generate()
    {
        var o = new ModelOptions();
        var docArg = DocCommands.DocArgument();
        var strength = new Option<double>("--strength") { Description = "How far the result may drift from the composite, 0–1", DefaultValueFactory = _ => 0.75 };
        var region = new Option<string?>("--region") { Description = "Only this part of the canvas: x,y,w,h (default: the whole canvas)" };
        var variations = new Option<int>("--variations") { Description = "Candidates to make (seeds seed … seed+N-1)", DefaultValueFactory = _ => 1 };
        var mask = new Option<string?>("--mask") { Description = "Inpainting mask over the canvas (white = regenerate); only the mask's box is regenerated and pasted back through the blurred mask" };
        var maskBlur = new Option<int>("--mask-blur") { Description = "Mask blur in pixels", DefaultValueFactory = _ => 4 };
        var padding = new Option<int>("--inpaint-padding") { Description = "Pixels around the mask's box", DefaultValueFactory = _ => 32 };
        var sheet = new Option<string?>("--sheet") { Description = "Also write a contact sheet PNG of the variations, labelled with their seeds" };
        var c = new Command("generate", "Image-to-image over the composite or a region; the results become hidden candidate layers.") { docArg, strength, region, variations, mask, maskBlur, padding, sheet };
        o.AddTo(c);
        c.SetAction(async (parse, ct) =>
        {
            string? sheetPath = parse.GetValue(sheet);
            if (sheetPath is not null) GenerateCommands.OutputPaths(sheetPath, 1);
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            var doc = store.Document;
            var r = parse.GetValue(region) is { } text ? Region.Parse(text) : new Region(0, 0, doc.Width, doc.Height);
            r.EnsureInside(doc.Width, doc.Height);
            int n = parse.GetValue(variations);
            if (n < 1 || n > GenerationRequest.MaxBatch)
                throw new StudioInputException($"--variations {n} is out of range (1 to {GenerationRequest.MaxBatch}).");
            var step = o.ToStep(parse, "generate", r, parse.GetValue(strength), n);
            if (parse.GetValue(mask) is { } maskPath)
            {
                var canvasMask = MaskImage.Load(maskPath);
                if (canvasMask.Width != doc.Width || canvasMask.Height != doc.Height)
                    throw new StudioInputException($"{maskPath}: the mask is {canvasMask.Width}x{canvasMask.Height} but the canvas is {doc.Width}x{doc.Height}; draw it at the canvas size.");
                step = step with { Mask = canvasMask, MaskBlur = parse.GetValue(maskBlur), InpaintPadding = parse.GetValue(padding) };
            }
            var composite = store.Render();
            Validate(step, composite);
            if (step.Mask is { } toStore) step = step with { MaskHash = store.StoreMask(toStore) };

            var outcome = await RunAsync(step, composite, "doc generate", ct);
            step = step with { Seed = outcome.BaseSeed };
            string input = store.StorePng(EncodePng(composite));
            var hashes = outcome.Pngs.Select(p => store.StorePng(p)).ToList();
            var next = doc;
            var layerIds = new List<string>();
            for (int i = 0; i < hashes.Count; i++)
            {
                var layer = new Layer
                {
                    Id = store.NewLayerId(),
                    Name = $"candidate {outcome.Seeds[i].ToString(CultureInfo.InvariantCulture)}",
                    Image = hashes[i],
                    X = r.X,
                    Y = r.Y,
                    Hidden = true,
                };
                layerIds.Add(layer.Id);
                next = next.WithLayerOnTop(layer);
            }
            Record(store, step, outcome, input, hashes, next, layerIds);
            if (sheetPath is not null)
                ContactSheet.Save(sheetPath, outcome.Images, outcome.Seeds);
            for (int i = 0; i < layerIds.Count; i++)
                Console.WriteLine($"{layerIds[i]}  candidate {outcome.Seeds[i].ToString(CultureInfo.InvariantCulture)}");
            return ExitCodes.Success;
        });
        return c;
    }

    public static Command Harmonize()
    {
        var o = new ModelOptions();
        var docArg = DocCommands.DocArgument();
        var strength = new Option<double>("--strength") { Description = "Low strength evens out seams and style, 0–1", DefaultValueFactory = _ => 0.3 };
        var c = new Command("harmonize", "Low-strength image-to-image over the whole composite; the result becomes a new base layer, the older layers hidden.") { docArg, strength };
        o.AddTo(c);
        c.SetAction(async (parse, ct) =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            var doc = store.Document;
            var r = new Region(0, 0, doc.Width, doc.Height);
            var step = o.ToStep(parse, "harmonize", r, parse.GetValue(strength), 1);
            var composite = store.Render();
            Validate(step, composite);

            var outcome = await RunAsync(step, composite, "doc harmonize", ct);
            step = step with { Seed = outcome.BaseSeed };
            string input = store.StorePng(EncodePng(composite));
            string hash = store.StorePng(outcome.Pngs[0]);
            var layer = new Layer { Id = store.NewLayerId(), Name = $"harmonized {outcome.Seeds[0].ToString(CultureInfo.InvariantCulture)}", Image = hash };
            var next = (doc with { Layers = [.. doc.Layers.Select(l => l with { Hidden = true })] }).WithLayerOnTop(layer);
            Record(store, step, outcome, input, [hash], next, [layer.Id]);
            Console.WriteLine(layer.Id);
            return ExitCodes.Success;
        });
        return c;
    }

    private static void Record(DocumentStore store, Step step, Outcome outcome, string input, IReadOnlyList<string> outputs, Document next, IReadOnlyList<string> layerIds)
    {
        var parameters = step.ToJson();
        parameters["model_hash"] = outcome.ModelHash;
        parameters["input"] = input;
        parameters["outputs"] = new JsonArray([.. outputs.Select(h => (JsonNode)JsonValue.Create(h))]);
        parameters["layers"] = new JsonArray([.. layerIds.Select(h => (JsonNode)JsonValue.Create(h))]);
        parameters["seeds"] = new JsonArray([.. outcome.Seeds.Select(s => (JsonNode)JsonValue.Create(s))]);
        store.RecordOperation(new OperationRecord
        {
            Kind = step.Kind,
            ParametersJson = parameters.ToJsonString(),
            Prompt = step.Prompt,
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

    public static Command Rerun()
    {
        var docArg = DocCommands.DocArgument();
        var stepArg = new Argument<long>("STEP") { Description = "Step id from doc history (a generate or harmonize)" };
        var model = new Option<string?>("--model") { Description = "Use this model file instead of the recorded path" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Use this tokenizer folder instead of the recorded one" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads (default: the recorded value)" };
        var c = new Command("rerun", "Re-run a recorded generate or harmonize and report whether the output bytes are identical (exit 0) or not (exit 1).") { docArg, stepArg, model, tokenizer, threads };
        c.SetAction(async (parse, ct) =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            long id = parse.GetValue(stepArg);
            var entry = store.History().FirstOrDefault(e => e.Id == id)
                ?? throw new StudioInputException($"no step {id} in the history (see redraft doc history).");
            if (entry.Kind is not ("generate" or "harmonize"))
                throw new StudioInputException($"step {id} is a '{entry.Kind}'; only generate and harmonize steps can be re-run.");
            var json = JsonNode.Parse(entry.ParametersJson)!.AsObject();
            var step = Step.FromJson(json);
            if (step.MaskHash is { } maskHash) step = step with { Mask = store.GetMask(maskHash) };
            if (parse.GetValue(model) is { } m) step = step with { Model = Path.GetFullPath(m) };
            if (parse.GetValue(tokenizer) is { } t) step = step with { Tokenizer = Path.GetFullPath(t) };
            if (parse.GetValue(threads) is { } th) step = step with { Threads = th };
            var recorded = json["outputs"]!.AsArray().Select(n => (string)n!).ToList();
            var composite = store.GetImage((string)json["input"]!).ToRgb();

            var outcome = await RunAsync(step, composite, "doc rerun", ct);
            if (json["model_hash"] is { } mh && (string?)mh != outcome.ModelHash)
                Console.Error.WriteLine($"doc rerun: note: model hash {outcome.ModelHash} differs from the recorded {(string?)mh}.");
            bool identical = outcome.Pngs.Count == recorded.Count;
            for (int i = 0; i < outcome.Pngs.Count; i++)
            {
                string hash = Convert.ToHexStringLower(SHA256.HashData(outcome.Pngs[i]));
                bool same = i < recorded.Count && recorded[i] == hash;
                identical &= same;
                Console.WriteLine($"seed {outcome.Seeds[i].ToString(CultureInfo.InvariantCulture)}: {(same ? "identical" : "differs")} {hash}");
            }
            Console.WriteLine(identical ? "identical" : "differs");
            return identical ? ExitCodes.Success : ExitCodes.InternalError;
        });
        return c;
    }
}
