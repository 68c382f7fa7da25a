using System.CommandLine;
using System.Globalization;
using Redraft.Diffusion.Pipelines;
using Redraft.Studio;
using Redraft.Studio.Generation;

namespace Redraft.Cli.Commands.Doc;

/// <summary>
/// <c>redraft doc generate</c>, <c>harmonize</c> and <c>rerun</c>: the command-line face of
/// <see cref="DocumentGenerator"/>, with a progress bar.
/// </summary>
internal static class DocGenerate
{
    private sealed class SettingsOptions
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
        public readonly Option<string> Sampler = new("--sampler") { Description = "Sampler name (see redraft samplers)", DefaultValueFactory = _ => "Euler a" };
        public readonly Option<string?> Schedule = new("--schedule") { Description = "Sigma schedule" };
        public readonly Option<double?> Eta = new("--eta") { Description = "DDIM eta" };
        public readonly Option<long> Seed = new("--seed") { Description = "Seed; variation i uses seed+i; -1 = random", DefaultValueFactory = _ => -1 };
        public readonly Option<string> Rng = new("--rng") { Description = "Noise source: cpu or nv", DefaultValueFactory = _ => "cpu" };
        public readonly Option<int?> Threads = new("--threads") { Description = "CPU threads (default: physical cores)" };
        public readonly Option<string?> Tokenizer = new("--tokenizer") { Description = "Folder with CLIP vocab.json and merges.txt" };
        public readonly Option<string> DType = new("--dtype") { Description = "UNet precision: auto, bf16, fp32", DefaultValueFactory = _ => "auto" };
        public readonly Option<string> VaeDType = new("--vae-dtype") { Description = "VAE precision: fp32 (default), bf16 (about twice as fast with AVX512-BF16), auto", DefaultValueFactory = _ => "fp32" };
        public readonly Option<string> Device = new("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };

        public void AddTo(Command c)
        {
            foreach (var o in new Option[] { Model, Config, Vae, Prompt, Negative, Width, Height, Steps, Cfg, Sampler, Schedule, Eta, Seed, Rng, Threads, Tokenizer, DType, VaeDType, Device })
                c.Options.Add(o);
        }

        public GenerationSettings Read(ParseResult p) => new()
        {
            Prompt = p.GetValue(Prompt)!,
            Negative = p.GetValue(Negative) ?? "",
            Steps = p.GetValue(Steps),
            Cfg = p.GetValue(Cfg),
            Sampler = p.GetValue(Sampler)!,
            Schedule = p.GetValue(Schedule),
            Eta = p.GetValue(Eta),
            Seed = p.GetValue(Seed),
            Rng = p.GetValue(Rng)!,
            Width = p.GetValue(Width),
            Height = p.GetValue(Height),
            Model = p.GetValue(Model)!,
            Config = p.GetValue(Config),
            Vae = p.GetValue(Vae),
            Tokenizer = p.GetValue(Tokenizer),
            DType = p.GetValue(DType)!,
            VaeDType = p.GetValue(VaeDType)!,
            Device = p.GetValue(Device)!,
            Threads = p.GetValue(Threads),
        };
    }

    public static Command Generate()
    {
        var o = new SettingsOptions();
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
            int n = parse.GetValue(variations);
            if (n < 1 || n > GenerationRequest.MaxBatch)
                throw new StudioInputException($"--variations {n} is out of range (1 to {GenerationRequest.MaxBatch}).");
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            var options = new GenerateOptions
            {
                Strength = parse.GetValue(strength),
                Region = parse.GetValue(region) is { } text ? Region.Parse(text) : null,
                Variations = n,
                Mask = parse.GetValue(mask) is { } maskPath ? MaskImage.Load(maskPath) : null,
                MaskBlur = parse.GetValue(maskBlur),
                InpaintPadding = parse.GetValue(padding),
            };
            using var generator = new DocumentGenerator(store);
            var result = await ConsoleProgress.RunAsync("doc generate", progress => generator.GenerateAsync(o.Read(parse), options, progress, ct));
            if (sheetPath is not null)
                ContactSheet.Save(sheetPath, [.. result.Images.Select(i => i.Image)], [.. result.Images.Select(i => i.Seed)]);
            foreach (var image in result.Images)
                Console.WriteLine($"{image.LayerId}  candidate {image.Seed.ToString(CultureInfo.InvariantCulture)}");
            return ExitCodes.Success;
        });
        return c;
    }

    public static Command Harmonize()
    {
        var o = new SettingsOptions();
        var docArg = DocCommands.DocArgument();
        var strength = new Option<double>("--strength") { Description = "Low strength evens out seams and style, 0–1", DefaultValueFactory = _ => 0.3 };
        var c = new Command("harmonize", "Low-strength image-to-image over the whole composite; the result becomes a new base layer, the older layers hidden.") { docArg, strength };
        o.AddTo(c);
        c.SetAction(async (parse, ct) =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            using var generator = new DocumentGenerator(store);
            var result = await ConsoleProgress.RunAsync("doc harmonize", progress => generator.HarmonizeAsync(o.Read(parse), parse.GetValue(strength), progress, ct));
            Console.WriteLine(result.Images[0].LayerId);
            return ExitCodes.Success;
        });
        return c;
    }

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
            using var generator = new DocumentGenerator(store);
            var overrides = new RerunOverrides { Model = parse.GetValue(model), Tokenizer = parse.GetValue(tokenizer), Threads = parse.GetValue(threads) };
            var report = await ConsoleProgress.RunAsync("doc rerun", progress => generator.RerunAsync(parse.GetValue(stepArg), overrides, progress, ct));
            if (report.RecordedModelHash is { } recorded && recorded != report.ModelHash)
                Console.Error.WriteLine($"doc rerun: note: model hash {report.ModelHash} differs from the recorded {recorded}.");
            foreach (var output in report.Outputs)
                Console.WriteLine($"seed {output.Seed.ToString(CultureInfo.InvariantCulture)}: {(output.Identical ? "identical" : "differs")} {output.Hash}");
            Console.WriteLine(report.Identical ? "identical" : "differs");
            return report.Identical ? ExitCodes.Success : ExitCodes.InternalError;
        });
        return c;
    }
}
