using System.CommandLine;
using System.Globalization;
using Redraft.Studio;

namespace Redraft.Cli.Commands.Doc;

/// <summary><c>redraft doc …</c>: studio documents (a folder with document.json, images/ and history.db).</summary>
internal static class DocCommands
{
    public static Command Create()
    {
        var doc = new Command("doc", "Work on a studio document: layers, generation, history, undo.");
        doc.Subcommands.Add(New());
        doc.Subcommands.Add(AddLayer());
        doc.Subcommands.Add(Erase());
        doc.Subcommands.Add(Render());
        doc.Subcommands.Add(History());
        doc.Subcommands.Add(Undo());
        doc.Subcommands.Add(DocGenerate.Generate());
        doc.Subcommands.Add(DocGenerate.Harmonize());
        doc.Subcommands.Add(DocGenerate.Rerun());
        doc.Subcommands.Add(Pick());
        foreach (var c in DocLayerCommands.Create()) doc.Subcommands.Add(c);
        return doc;
    }

    internal static Argument<string> DocArgument() => new("DOC") { Description = "Document folder" };

    private static Command New()
    {
        var docArg = DocArgument();
        var size = new Option<string?>("--size") { Description = "Canvas size WIDTHxHEIGHT (default: the --from image's size)" };
        var from = new Option<string?>("--from") { Description = "Image to start from (becomes layer L1, fitted and centred)" };
        var c = new Command("new", "Create a document folder.") { docArg, size, from };
        c.SetAction(parse =>
        {
            var (w, h) = ParseSize(parse.GetValue(size));
            using var store = DocumentStore.NewDocument(parse.GetValue(docArg)!, w, h, parse.GetValue(from));
            Console.WriteLine($"{store.Folder}: {store.Document.Width}x{store.Document.Height}, {store.Document.Layers.Count} layer(s)");
            return ExitCodes.Success;
        });
        return c;
    }

    internal static (int? W, int? H) ParseSize(string? text)
    {
        if (text is null) return (null, null);
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int w)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int h))
            return (w, h);
        throw new StudioInputException($"--size '{text}': expected WIDTHxHEIGHT, e.g. 512x512.");
    }

    private static Command AddLayer()
    {
        var docArg = DocArgument();
        var image = new Argument<string>("IMAGE") { Description = "Image file to paste as a new top layer" };
        var x = new Option<int>("--x") { Description = "Canvas column of the layer's left edge" };
        var y = new Option<int>("--y") { Description = "Canvas row of the layer's top edge" };
        var scale = new Option<double>("--scale") { Description = "Scale factor", DefaultValueFactory = _ => 1 };
        var opacity = new Option<double>("--opacity") { Description = "Opacity 0–1", DefaultValueFactory = _ => 1 };
        var mask = new Option<string?>("--mask") { Description = "Visibility mask of the image's size (white = keep)" };
        var name = new Option<string?>("--name") { Description = "Layer name (default: the file name)" };
        var c = new Command("add-layer", "Paste an image (a sketch, a generated element) as a new top layer.") { docArg, image, x, y, scale, opacity, mask, name };
        c.SetAction(parse =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            var layer = store.AddLayer(parse.GetValue(image)!, new LayerOptions
            {
                X = parse.GetValue(x),
                Y = parse.GetValue(y),
                Scale = parse.GetValue(scale),
                Opacity = parse.GetValue(opacity),
                Name = parse.GetValue(name),
            }, parse.GetValue(mask));
            Console.WriteLine(layer.Id);
            return ExitCodes.Success;
        });
        return c;
    }

    private static Command Erase()
    {
        var docArg = DocArgument();
        var layerOpt = new Option<string>("--layer") { Description = "Layer id (L1, L2, …)", Required = true };
        var mask = new Option<string>("--mask") { Description = "Mask of the canvas's size, white = erase (a mask with transparency: its alpha; else its luminance)", Required = true };
        var c = new Command("erase", "Erase part of a layer through a mask (undo brings it back).") { docArg, layerOpt, mask };
        c.SetAction(parse =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            string maskPath = parse.GetValue(mask)!;
            var maskImage = MaskImage.LoadOperationMask(maskPath);
            var layer = store.Erase(parse.GetValue(layerOpt)!, maskImage, MaskSpace.Canvas, maskPath);
            Console.WriteLine(layer.Id);
            return ExitCodes.Success;
        });
        return c;
    }

    private static Command Render()
    {
        var docArg = DocArgument();
        var outOpt = new Option<string>("--out") { Description = "Output PNG (written atomically)", Required = true };
        var transparent = new Option<bool>("--transparent") { Description = "RGBA over a transparent background instead of RGB over white" };
        var state = new Option<long?>("--state") { Description = "Render this past state (the 'state' of doc layers --json, or a history row's)" };
        var c = new Command("render", "Render the composite to a PNG (with a 'redraft' chunk: document, state, the generations shown).") { docArg, outOpt, transparent, state };
        c.SetAction(parse =>
        {
            string output = parse.GetValue(outOpt)!;
            OutputFiles.Paths(output, 1);
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            store.RenderToFile(output, parse.GetValue(transparent), parse.GetValue(state));
            Console.WriteLine(output);
            return ExitCodes.Success;
        });
        return c;
    }

    private static Command History()
    {
        var docArg = DocArgument();
        var c = new Command("history", "Print every step: id, time, operation, prompt, seed, strength, sampler, duration.") { docArg };
        c.SetAction(parse =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            var rows = new List<string[]> { new[] { "step", "time", "operation", "prompt", "seed", "strength", "sampler", "duration" } };
            foreach (var e in store.History())
                rows.Add([
                    e.Id.ToString(CultureInfo.InvariantCulture),
                    e.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                    e.Kind,
                    Shorten(e.Prompt ?? "", 40),
                    e.Seed?.ToString(CultureInfo.InvariantCulture) ?? "",
                    e.Strength?.ToString("0.###", CultureInfo.InvariantCulture) ?? "",
                    e.Sampler ?? "",
                    e.Duration.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s",
                ]);
            var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
            foreach (var r in rows)
                Console.WriteLine(string.Join("  ", r.Select((v, i) => v.PadRight(widths[i]))).TrimEnd());
            return ExitCodes.Success;
        });
        return c;
    }

    private static string Shorten(string text, int max)
    {
        text = text.ReplaceLineEndings(" ");
        return text.Length <= max ? text : text[..(max - 1)] + "…";
    }

    private static Command Undo()
    {
        var docArg = DocArgument();
        var c = new Command("undo", "Go back to the state before the current one (recorded as a step; no image is deleted).") { docArg };
        c.SetAction(parse =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            var entry = store.Undo();
            Console.WriteLine($"undo: now at state {entry.StateAfter} ({store.Document.Layers.Count} layer(s))");
            return ExitCodes.Success;
        });
        return c;
    }

    private static Command Pick()
    {
        var docArg = DocArgument();
        var candidate = new Argument<string>("CANDIDATE") { Description = "Candidate layer id (from doc generate)" };
        var c = new Command("pick", "Accept a candidate variation: it becomes a visible layer; the other candidates stay hidden.") { docArg, candidate };
        c.SetAction(parse =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            string id = parse.GetValue(candidate)!;
            store.Pick(id);
            Console.WriteLine(id);
            return ExitCodes.Success;
        });
        return c;
    }
}
