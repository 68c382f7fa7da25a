using System.Globalization;
using System.Text.Json.Nodes;
using Redraft.Bench.Canvas;

// The canvas benchmark of issue 15: (1) script time per pointer move of a brush stroke at 1024×1024, (2) undo and
// redo round trips on a 1024×1024 document with 100 steps, (3) the live-mode loop at 512×512 on an SD-Turbo-shaped
// model with random weights. Run it alone on the machine (tools/bench-canvas.sh takes the build lock); the figures
// are quoted in the README, never asserted by tests.

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

var json = new JsonObject();
var table = new List<string>
{
    "| measurement | setting | n | median | p95 | max | target |",
    "| --- | --- | --- | --- | --- | --- | --- |",
};
string chromium;
await using (var browser = await BenchBrowser.Launch())
{
    chromium = browser.Version;
    if (options.Only.Contains("pointer") || options.Only.Contains("undo"))
    {
        await using var server = await BenchServer.Start("tiny", options.Threads, options.VaeDType);
        if (options.Only.Contains("pointer"))
        {
            var rows = await PointerMoveBench.Run(server, browser, options.Strokes, options.BrushSizes);
            foreach (var r in rows)
                table.Add($"| pointer move, {(r.Raster ? "dispatch + raster (1-px readback)" : "script (dispatch)")} | brush {r.BrushSize}, {options.Strokes} strokes × {PointerMoveBench.Moves} moves, zoom {r.Zoom:F2} | {r.Strokes.Count}×{PointerMoveBench.Moves} | **{r.MedianOfMedians:F2} ms** | {r.MedianP95:F2} ms | {r.Max:F2} ms | ≤ 4 ms median |");
            json["pointer_moves"] = PointerMoveBench.Json(rows);
        }
        if (options.Only.Contains("undo"))
        {
            var rows = await UndoRedoBench.Run(server, browser, options.Undos, options.UndoSteps);
            foreach (var r in rows)
            {
                string what = r.Key == "Control+z" ? "undo (Ctrl+Z)" : "redo (Ctrl+Shift+Z)";
                table.Add($"| {what} round trip | 1024², {r.Steps} history steps | {r.RoundTrip.Count} | **{r.RoundTrip.Median:F0} ms** | {r.RoundTrip.P95:F0} ms | {r.RoundTrip.Max:F0} ms | ≤ 200 ms median |");
                table.Add($"| … of it: the edit request / the composite.png request | | {r.RoundTrip.Count} | {r.Edit.Median:F0} / {r.Composite.Median:F0} ms | {r.Edit.P95:F0} / {r.Composite.P95:F0} ms | {r.Edit.Max:F0} / {r.Composite.Max:F0} ms | |");
            }
            json["undo_redo"] = UndoRedoBench.Json(rows);
        }
    }
    if (options.Only.Contains("live"))
    {
        await using var server = await BenchServer.Start("sd21", options.Threads, options.VaeDType);
        var s = LiveLoopBench.Defaults with { Steps = options.LiveSteps, Strength = options.LiveStrength };
        var strokes = await LiveLoopBench.Run(server, browser, options.LiveStrokes, s);
        string setting = $"512², steps {s.Steps}, strength {s.Strength}, CFG {s.Cfg}, {s.Sampler}, debounce {s.DebounceMs} ms";
        bool first = true;
        void Row(string what, Func<LiveLoopBench.Stroke, double> value, string target = "")
        {
            var st = Stats.Of([.. strokes.Select(value)]);
            table.Add($"| {what} | {(first ? setting : "")} | {st.Count} | **{st.Median:F0} ms** | | {st.Max:F0} ms | {target} |");
            first = false;
        }
        Row("live loop: pointerup → result shown", r => r.Loop, "(stroke to picture)");
        Row("… stroke committed and shown", r => r.Commit);
        Row("… generation (job started → result, as the page received them)", r => r.Generation);
        Row("… result → shown", r => r.Show);
        Row("same generation via POST /sdapi/v1/img2img (round trip)", r => r.Img2Img);
        string[] main = ["encode", "sampling", "decode"];
        foreach (string phase in main)
            Row($"… generation phase {phase}", r => r.Phases.GetValueOrDefault(phase));
        Row("… generation, other phases (loading, text, commit)", r => r.Phases.Where(p => !main.Contains(p.Key)).Sum(p => p.Value));
        double ratio = Stats.MedianOf([.. strokes.Select(r => r.Loop)]) / Stats.MedianOf([.. strokes.Select(r => r.Img2Img)]);
        table.Add($"| ratio live loop / img2img (medians) | | | **{ratio:F2}×** | | | |");
        table.Add($"| live jobs per stroke; previews per job; steps run | | | {string.Join(",", strokes.Select(r => r.LiveJobs))}; {string.Join(",", strokes.Select(r => r.Previews))}; {string.Join(",", strokes.Select(r => r.StepsRun))} | | | |");
        json["live"] = new JsonObject { ["settings"] = setting, ["strokes"] = LiveLoopBench.Json(strokes) };
    }
}

string cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
Console.WriteLine($"Redraft.Bench.Canvas {string.Join(' ', args)}");
Console.WriteLine($"{DateTime.Now:yyyy-MM-dd HH:mm}; {Environment.ProcessorCount} cores ({cpu}); server threads {options.Threads}, VAE {options.VaeDType}; Chromium {chromium} headless, 1280×720; the browser, the server and the bench share the cores");
Console.WriteLine();
foreach (string line in table) Console.WriteLine(line);
if (options.Json)
{
    json["threads"] = options.Threads;
    json["cores"] = Environment.ProcessorCount;
    json["chromium"] = chromium;
    Console.WriteLine(json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
}
return 0;
