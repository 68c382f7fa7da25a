using System.CommandLine;
using System.Globalization;
using Redraft.Diffusion.Pipelines;
using Redraft.Imaging;
using Redraft.Studio;
using Redraft.Studio.Generation;

namespace Redraft.Cli.Commands.Doc;

/// <summary>
/// <c>redraft doc generate</c>, <c>harmonize</c> and <c>rerun</c>: the command-line face of
/// <see cref="DocumentGenerator"/>, with a progress bar.
/// </summary>
internal static class DocGenerate
{
    public static Command Generate()
    {
        var o = new GenerationCliOptions(GenerationCommand.DocGenerate);
        var docArg = DocCommands.DocArgument();
        var region = new Option<string?>("--region") { Description = "Only this part of the canvas: x,y,w,h (default: the whole canvas); runs at the model's working size unless --region-native" };
        var regionNative = new Option<bool>("--region-native") { Description = "Run --region at its own size (rounded to 8) instead of the model's working size" };
        var variations = new Option<int>("--variations") { Description = "Candidates to make (seeds seed … seed+N-1; with --variation-strength, N near variations of one seed)", DefaultValueFactory = _ => 1 };
        var mask = new Option<string?>("--mask") { Description = "Inpainting mask over the canvas, white = regenerate (a mask with transparency: its alpha; else its luminance)" };
        var sheet = new Option<string?>("--sheet") { Description = "Also write a contact sheet PNG of the variations, labelled with their seeds" };
        var c = new Command("generate", "Image-to-image over the composite, a region or a mask; the results become hidden candidate layers.") { docArg, region, regionNative, variations, mask, sheet };
        o.AddTo(c);
        c.SetAction(async (parse, ct) =>
        {
            string? sheetPath = parse.GetValue(sheet);
            if (sheetPath is not null) OutputFiles.Paths(sheetPath, 1);
            var previewPath = o.PreviewPath(parse);
            int n = parse.GetValue(variations);
            if (n < 1 || n > GenerationRequest.MaxBatch)
                throw new StudioInputException($"--variations {n} is out of range (1 to {GenerationRequest.MaxBatch}).");
            var settings = o.Read(parse);
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            var options = new GenerateOptions
            {
                Region = parse.GetValue(region) is { } text ? Region.Parse(text) : null,
                RegionNative = parse.GetValue(regionNative),
                Variations = n,
                Mask = parse.GetValue(mask) is { } maskPath ? MaskImage.LoadOperationMask(maskPath) : null,
            };
            using var generator = new DocumentGenerator(store);
            var result = await ConsoleProgress.RunAsync("doc generate", progress => generator.GenerateAsync(settings, options, progress, ct),
                e => WritePreview(e, previewPath));
            GenerationCliOptions.NoteTiling("doc generate", settings, result.Settings);
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
        var o = new GenerationCliOptions(GenerationCommand.DocHarmonize);
        var docArg = DocCommands.DocArgument();
        var c = new Command("harmonize", "Low-strength image-to-image over the whole composite; the result becomes a new base layer, the older layers hidden.") { docArg };
        o.AddTo(c);
        c.SetAction(async (parse, ct) =>
        {
            var previewPath = o.PreviewPath(parse);
            var settings = o.Read(parse);
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            using var generator = new DocumentGenerator(store);
            var result = await ConsoleProgress.RunAsync("doc harmonize", progress => generator.HarmonizeAsync(settings, settings.Strength, progress, ct),
                e => WritePreview(e, previewPath));
            GenerationCliOptions.NoteTiling("doc harmonize", settings, result.Settings);
            Console.WriteLine(result.Images[0].LayerId);
            return ExitCodes.Success;
        });
        return c;
    }

    private static void WritePreview(GenerationEvent e, string? path)
    {
        if (e.Preview is { } preview && path is not null) ImageFiles.SavePng(path, preview);
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
