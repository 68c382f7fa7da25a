using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Redraft.Studio;

namespace Redraft.Cli.Commands.Doc;

/// <summary>
/// The document operations a canvas needs, on the command line: <c>doc layer …</c> (move, scale, flip, duplicate,
/// reorder, opacity, show/hide, rename, delete, merge-down, paint), <c>doc layers</c>, <c>doc redo</c>,
/// <c>doc discard</c>, <c>doc resize</c> and <c>doc verify</c>. Each edit is one history step that undo reverses.
/// </summary>
internal static class DocLayerCommands
{
    public static IEnumerable<Command> Create()
    {
        var layer = new Command("layer", "Edit one layer (each edit is a step undo reverses).");
        foreach (var c in LayerEdits()) layer.Subcommands.Add(c);
        yield return layer;
        yield return Layers();
        yield return Redo();
        yield return Discard();
        yield return Resize();
        yield return Verify();
    }

    private static Argument<string> LayerArgument() => new("LAYER") { Description = "Layer id (L1, L2, …; see doc layers)" };

    /// <summary>A <c>doc layer NAME DOC LAYER …</c> command whose action edits the open store.</summary>
    private static Command Edit(string name, string description, Func<ParseResult, DocumentStore, string, string> act, params Symbol[] extra)
    {
        var docArg = DocCommands.DocArgument();
        var layerArg = LayerArgument();
        var c = new Command(name, description) { docArg, layerArg };
        foreach (var symbol in extra)
        {
            if (symbol is Option o) c.Options.Add(o);
            else if (symbol is Argument a) c.Arguments.Add(a);
        }
        c.SetAction(parse =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            Console.WriteLine(act(parse, store, parse.GetValue(layerArg)!));
            return ExitCodes.Success;
        });
        return c;
    }

    private static IEnumerable<Command> LayerEdits()
    {
        var x = new Option<int?>("--x") { Description = "Canvas column of the layer's left edge" };
        var y = new Option<int?>("--y") { Description = "Canvas row of the layer's top edge" };
        var scale = new Option<double?>("--scale") { Description = "Scale factor" };
        yield return Edit("move", "Move and/or scale a layer.", (p, s, id) => s.Place(id, p.GetValue(x), p.GetValue(y), p.GetValue(scale)).Id, x, y, scale);

        var opacity = new Argument<double>("OPACITY") { Description = "0 (invisible) to 1 (opaque)" };
        yield return Edit("opacity", "Set a layer's opacity.", (p, s, id) => s.SetOpacity(id, p.GetValue(opacity)).Id, opacity);
        yield return Edit("show", "Show a layer.", (_, s, id) => s.SetVisible(id, true).Id);
        yield return Edit("hide", "Hide a layer (it stays in the document).", (_, s, id) => s.SetVisible(id, false).Id);

        var name = new Argument<string>("NAME") { Description = "New name" };
        yield return Edit("rename", "Rename a layer.", (p, s, id) => s.Rename(id, p.GetValue(name)!).Id, name);
        yield return Edit("delete", "Delete a layer (kept in the history; undo brings it back).", (_, s, id) => { s.Delete(id); return id; });

        var vertical = new Option<bool>("--vertical") { Description = "Flip top-bottom instead of left-right" };
        yield return Edit("flip", "Mirror a layer left-right (or top-bottom with --vertical).", (p, s, id) => s.Flip(id, !p.GetValue(vertical)).Id, vertical);
        yield return Edit("duplicate", "Copy a layer above itself; prints the copy's id.", (_, s, id) => s.Duplicate(id).Id);

        var to = new Option<int>("--to") { Description = "New position in the stack: 0 = bottom (see doc layers)", Required = true };
        yield return Edit("reorder", "Move a layer up or down the stack.", (p, s, id) => s.Reorder(id, p.GetValue(to)).Id, to);
        yield return Edit("merge-down", "Merge a layer into the one below it; prints the merged layer's id.", (_, s, id) => s.MergeDown(id).Id);

        var image = new Option<string>("--image") { Description = "RGBA image of the pixels to put (transparency included)", Required = true };
        var px = new Option<int>("--x") { Description = "Layer column of the patch's left edge", Required = true };
        var py = new Option<int>("--y") { Description = "Layer row of the patch's top edge", Required = true };
        yield return Edit("paint", "Replace a rectangle of a layer's pixels with an image (a brush stroke).",
            (p, s, id) => s.Paint(id, ImageFiles.LoadRgba(p.GetValue(image)!), p.GetValue(px), p.GetValue(py)).Id, image, px, py);
    }

    private static Command Layers()
    {
        var docArg = DocCommands.DocArgument();
        var json = new Option<bool>("--json") { Description = "One JSON object: canvas size, state and every layer" };
        var c = new Command("layers", "List the layers, bottom first: id, role, visibility, place, opacity, name.") { docArg, json };
        c.SetAction(parse =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            var d = store.Document;
            if (parse.GetValue(json))
            {
                Console.WriteLine(new JsonObject
                {
                    ["width"] = d.Width,
                    ["height"] = d.Height,
                    ["state"] = store.StateId,
                    ["layers"] = new JsonArray([.. d.Layers.Select((l, i) => (JsonNode)new JsonObject
                    {
                        ["id"] = l.Id, ["index"] = i, ["name"] = l.Name, ["role"] = l.Role.ToString().ToLowerInvariant(),
                        ["visible"] = l.Visible, ["hidden"] = l.Hidden, ["drawn"] = l.IsDrawn, ["x"] = l.X, ["y"] = l.Y, ["scale"] = l.Scale,
                        ["opacity"] = l.Opacity, ["image"] = l.Image, ["mask"] = l.Mask,
                        ["generation"] = l.Generation is { } g ? new JsonObject { ["step"] = g.Step, ["seed"] = g.Seed } : null,
                    })]),
                }.ToJsonString());
                return ExitCodes.Success;
            }
            for (int i = 0; i < d.Layers.Count; i++)
            {
                var l = d.Layers[i];
                string shown = l.IsDrawn ? "shown" : l.Hidden ? "hidden" : "off";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{i}  {l.Id,-4} {l.Role.ToString().ToLowerInvariant(),-9} {shown,-6} at {l.X},{l.Y} ×{l.Scale:0.###} opacity {l.Opacity:0.##}  {l.Name}"));
            }
            return ExitCodes.Success;
        });
        return c;
    }

    private static Command Redo()
    {
        var docArg = DocCommands.DocArgument();
        var c = new Command("redo", "Return to the state the last undo left (until a new edit is made).") { docArg };
        c.SetAction(parse =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            var entry = store.Redo();
            Console.WriteLine($"redo: now at state {entry.StateAfter} ({store.Document.Layers.Count} layer(s))");
            return ExitCodes.Success;
        });
        return c;
    }

    private static Command Discard()
    {
        var docArg = DocCommands.DocArgument();
        var c = new Command("discard", "Remove every hidden candidate (kept in the history).") { docArg };
        c.SetAction(parse =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            store.DiscardCandidates();
            Console.WriteLine($"{store.Document.Layers.Count} layer(s) left");
            return ExitCodes.Success;
        });
        return c;
    }

    private static Command Resize()
    {
        var docArg = DocCommands.DocArgument();
        Option<int> Side(string side) => new($"--{side}") { Description = $"Pixels to add on the {side} (negative: crop)" };
        var left = Side("left");
        var top = Side("top");
        var right = Side("right");
        var bottom = Side("bottom");
        var c = new Command("resize", "Grow or crop the canvas on any side; the picture stays where it is (for outpainting).") { docArg, left, top, right, bottom };
        c.SetAction(parse =>
        {
            using var store = DocumentStore.Open(parse.GetValue(docArg)!);
            store.ResizeCanvas(parse.GetValue(left), parse.GetValue(top), parse.GetValue(right), parse.GetValue(bottom));
            Console.WriteLine($"{store.Document.Width}x{store.Document.Height}");
            return ExitCodes.Success;
        });
        return c;
    }

    private static Command Verify()
    {
        var docArg = DocCommands.DocArgument();
        var c = new Command("verify", "Check the whole document (history, document.json, every image of every state); exit 2 when something is broken.") { docArg };
        c.SetAction(parse =>
        {
            var problems = DocumentStore.Diagnose(parse.GetValue(docArg)!);
            if (problems.Count == 0)
            {
                Console.WriteLine("ok");
                return ExitCodes.Success;
            }
            foreach (var problem in problems) Console.WriteLine(problem.ReplaceLineEndings(" "));
            Console.Error.WriteLine($"redraft: {problems.Count} problem(s) found in {parse.GetValue(docArg)}.");
            return ExitCodes.BadInput;
        });
        return c;
    }
}
