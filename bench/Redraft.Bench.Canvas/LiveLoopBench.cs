using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Redraft.Bench.Canvas;

/// <summary>
/// (3) The live-mode loop on a 512×512 document: a real mouse stroke with the brush, then (debounce 0) the stroke's
/// paint step, the live job of the whole canvas and its result on screen. Timed in the page from the pointerup to
/// <c>#live-panel[data-state=done]</c> naming a new job; split by the job's events as the page received them (started →
/// result is the server's generation; the job's phases split it). Each stroke waits for the previous result. After each stroke, the same
/// generation through <c>POST /sdapi/v1/img2img</c> (the composite as init image, the same prompt, seed, sampler,
/// steps, strength and CFG) is timed from here: the baseline in the same run.
/// </summary>
public static class LiveLoopBench
{
    public sealed record Settings(string Prompt, long Seed, int Steps, double Strength, double Cfg, int DebounceMs, string Sampler);

    public sealed record Stroke(double Loop, double Commit, double Generation, double Show, int LiveJobs, int Previews, int StepsRun, double Img2Img, IReadOnlyDictionary<string, double> Phases);

    /// <summary>
    /// SD-Turbo's img2img setting: 2 steps at strength 0.5 run int(2 × 0.5) = 1 UNet evaluation (A1111's img2img
    /// semantics; 1 step at 0.5 would run none: only the VAE).
    /// </summary>
    public static readonly Settings Defaults = new("a cottage in a meadow, watercolour", 5, 2, 0.5, 1, 0, "Euler a");

    public static async Task<List<Stroke>> Run(BenchServer server, BenchBrowser browser, int strokes, Settings s)
    {
        string name = await server.CreateDocument("live loop", 512, 512);
        var page = await browser.Open(server, name);
        try
        {
            await page.Locator("#prompt").FillAsync(s.Prompt);
            await page.Locator("#cfg").FillAsync(s.Cfg.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await page.Locator("#seed-mode").SelectOptionAsync("fixed");
            await page.Locator("#seed").FillAsync(s.Seed.ToString());
            await page.Locator("#sampler").SelectOptionAsync(s.Sampler);
            await page.Locator("#live-steps").FillAsync(s.Steps.ToString());
            await page.Locator("#live-strength").FillAsync(s.Strength.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await page.Locator("#live-debounce").FillAsync(s.DebounceMs.ToString());
            await page.Locator("#live-debounce").DispatchEventAsync("change");
            // Turning live mode on runs once: the warm-up (the model's first run), not timed.
            await page.Locator("#live-enabled").CheckAsync();
            var clock = Stopwatch.StartNew();
            await Expect(page.Locator("#live-panel")).ToHaveAttributeAsync("data-state", "done", new() { Timeout = 600_000 });
            Console.Error.WriteLine($"bench: live warm-up run: {clock.Elapsed.TotalSeconds:F1} s");
            await Img2Img(server, name, s);
            await page.Locator("[data-tool=brush]").ClickAsync();
            await PointerMoveBench.SetRange(page, "#brush-size", 24);

            var results = new List<Stroke>();
            for (int i = 0; i < strokes; i++)
            {
                await Arm(page);
                double y = 60 + i * 90;
                await Drag(page, (40, y), (470, y));
                var loop = JsonNode.Parse(await page.EvaluateAsync<string>("async () => JSON.stringify(await window.__benchLive)"))!;
                double img2img = await Img2Img(server, name, s);
                try
                {
                    results.Add(Measure(loop, img2img));
                }
                catch (InvalidOperationException e)
                {
                    throw new InvalidOperationException($"the page's record of the live job is incomplete: {loop.ToJsonString()}", e);
                }
                var r = results[^1];
                Console.Error.WriteLine($"bench: live stroke {i + 1}: loop {r.Loop:F0} ms (commit {r.Commit:F0}, generation {r.Generation:F0}, show {r.Show:F0}); img2img {img2img:F0} ms");
            }
            return results;
        }
        finally
        {
            await BenchBrowser.Close(page);
        }
    }

    /// <summary>One stroke's figures from what the page recorded.</summary>
    private static Stroke Measure(JsonNode loop, double img2img)
    {
        double up = (double)loop["up"]!, shown = (double)loop["shown"]!, done = (double)loop["done"]!;
        var events = loop["events"]!.AsArray().Select(e => (Type: (string)e!["type"]!, Phase: (string?)e["phase"], Total: (int?)e["total"], Time: (double)e["time"]!)).ToList();
        // A job that started before the page subscribed to its events begins with a snapshot instead of started.
        double started = events.First(e => e.Type is "started" or "snapshot").Time, result = events.First(e => e.Type == "result").Time;
        // Each phase lasts until the next phase event (the last until the result).
        var phases = new Dictionary<string, double>();
        // A snapshot names the phase running when the page subscribed (its phase event came before).
        var marks = events.Where(e => e.Type == "phase" || (e.Type == "snapshot" && e.Phase is not null)).ToList();
        for (int k = 0; k < marks.Count; k++)
        {
            double end = k + 1 < marks.Count ? marks[k + 1].Time : result;
            phases[marks[k].Phase ?? "?"] = phases.GetValueOrDefault(marks[k].Phase ?? "?") + end - marks[k].Time;
        }
        int stepsRun = events.Where(e => e.Type == "progress" && e.Total is not null).Select(e => e.Total!.Value).DefaultIfEmpty(0).Max();
        return new Stroke(done - up, shown - up, result - started, done - result, (int)loop["live_jobs"]!, events.Count(e => e.Type == "preview"),
            stepsRun, img2img, phases);
    }

    /// <summary>
    /// In the page: after the next pointerup, the time the stroke's state shows (body[data-state]) and the time
    /// #live-panel shows a result of a job other than the one it shows now; <c>window.__benchLive</c> resolves to
    /// those, that job's events and how many live jobs the page followed since the pointerup.
    /// </summary>
    private static Task Arm(IPage page) => page.EvaluateAsync("""
        () => {
          const panel = document.getElementById("live-panel");
          const body = document.body;
          const previous = panel.dataset.job;
          const stateBefore = body.dataset.state;
          const eventsBefore = window.__redraft.events.length;
          window.__benchLive = new Promise((resolve) => {
            let up = NaN, shown = NaN;
            window.addEventListener("pointerup", () => { up = performance.now(); }, { capture: true, once: true });
            const stateObserver = new MutationObserver(() => {
              const state = body.dataset.state;
              if (Number.isNaN(up) || state === undefined || state === stateBefore) return;
              shown = performance.now();
              stateObserver.disconnect();
            });
            stateObserver.observe(body, { attributes: true, attributeFilter: ["data-state"] });
            const observer = new MutationObserver(() => {
              if (panel.dataset.state !== "done" || panel.dataset.job === previous || Number.isNaN(up)) return;
              const done = performance.now();
              observer.disconnect();
              stateObserver.disconnect();
              const job = panel.dataset.job;
              const recent = window.__redraft.events.slice(eventsBefore);
              const events = recent.filter((e) => e.job === job).map((e) => ({ type: e.type, phase: e.phase ?? null, total: e.total ?? null, time: e.time }));
              const liveJobs = new Set(recent.filter((e) => e.job.includes("doc-live")).map((e) => e.job)).size;
              resolve({ up, shown, done, job, events, live_jobs: liveJobs });
            });
            observer.observe(panel, { attributes: true, attributeFilter: ["data-state", "data-job"] });
          });
        }
        """);

    /// <summary>A mouse drag between two document pixels, in 12 moves (as the browser tests draw).</summary>
    private static async Task Drag(IPage page, (double X, double Y) from, (double X, double Y) to)
    {
        var box = await page.Locator("#composite").BoundingBoxAsync() ?? throw new InvalidOperationException("the composite is not on screen");
        double zoom = box.Width / 512;
        await page.Mouse.MoveAsync((float)(box.X + from.X * zoom), (float)(box.Y + from.Y * zoom));
        await page.Mouse.DownAsync();
        await page.Mouse.MoveAsync((float)(box.X + to.X * zoom), (float)(box.Y + to.Y * zoom), new() { Steps = 12 });
        await page.Mouse.UpAsync();
    }

    /// <summary>The same generation through A1111's img2img, on the document's composite now: milliseconds of the round trip.</summary>
    private static async Task<double> Img2Img(BenchServer server, string name, Settings s)
    {
        long state = await server.State(name);
        byte[] composite = await server.Client.GetByteArrayAsync($"{BenchServer.DocUrl(name)}/composite.png?state={state}");
        var body = new JsonObject
        {
            ["init_images"] = new JsonArray("data:image/png;base64," + Convert.ToBase64String(composite)),
            ["prompt"] = s.Prompt,
            ["steps"] = s.Steps,
            ["denoising_strength"] = s.Strength,
            ["cfg_scale"] = s.Cfg,
            ["sampler_name"] = s.Sampler,
            ["seed"] = s.Seed,
            ["width"] = 512,
            ["height"] = 512,
        };
        var clock = Stopwatch.StartNew();
        await server.PostJson("/sdapi/v1/img2img", body);
        return clock.Elapsed.TotalMilliseconds;
    }

    public static JsonArray Json(IEnumerable<Stroke> strokes) => [.. strokes.Select(r => (JsonNode)new JsonObject
    {
        ["loop_ms"] = r.Loop,
        ["commit_ms"] = r.Commit,
        ["generation_ms"] = r.Generation,
        ["show_ms"] = r.Show,
        ["live_jobs"] = r.LiveJobs,
        ["previews"] = r.Previews,
        ["steps_run"] = r.StepsRun,
        ["img2img_ms"] = r.Img2Img,
        ["phases_ms"] = new JsonObject([.. r.Phases.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))]),
    })];
}
