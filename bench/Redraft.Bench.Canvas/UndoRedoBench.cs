using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace Redraft.Bench.Canvas;

/// <summary>
/// (2) Undo and redo round trips in the page on a 1024×1024 document with 100 paint steps (made through the API: a
/// 48×48 patch each, as short strokes leave them). Timed in the page from the keydown of Ctrl+Z (Ctrl+Shift+Z) to
/// body[data-state] showing the new head state (the page sets it once the state's composite is on screen); the
/// resource timings of the requests in between say how much of it was the server's.
/// </summary>
public static class UndoRedoBench
{
    public sealed record Row(string Key, Stats RoundTrip, Stats Edit, Stats Composite, int Steps);

    public static async Task<List<Row>> Run(BenchServer server, BenchBrowser browser, int count, int steps)
    {
        string name = await server.CreateDocument("undo redo", 1024, 1024);
        var random = new Random(7);
        for (int i = 0; i < steps; i++)
            await server.Paint(name, random.Next(0, 1024 - 48), random.Next(0, 1024 - 48), 48, ((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
        int history = await server.Steps(name);
        var page = await browser.Open(server, name);
        try
        {
            // Keys go to the page, not to a text field (the shortcuts never fire while typing).
            await page.Locator("#doc-size").ClickAsync();
            var rows = new List<Row>();
            foreach (var (key, path) in new[] { ("Control+z", "/undo"), ("Control+Shift+z", "/redo") })
            {
                var trips = new List<double>();
                var edits = new List<double>();
                var composites = new List<double>();
                for (int i = 0; i < count; i++)
                {
                    long state = await server.State(name);
                    await Arm(page);
                    await page.Keyboard.PressAsync(key);
                    var trip = JsonNode.Parse(await page.EvaluateAsync<string>("async () => JSON.stringify(await window.__benchRoundTrip)"))!;
                    if ((string)trip["state"]! == state.ToString()) throw new InvalidOperationException($"{key} did not change the state");
                    trips.Add((double)trip["ms"]!);
                    var requests = trip["requests"]!.AsArray();
                    edits.Add(requests.Where(r => ((string)r!["name"]!).EndsWith(path, StringComparison.Ordinal)).Sum(r => (double)r!["duration"]!));
                    composites.Add(requests.Where(r => ((string)r!["name"]!).Contains("/composite.png", StringComparison.Ordinal)).Sum(r => (double)r!["duration"]!));
                }
                rows.Add(new Row(key, Stats.Of(trips), Stats.Of(edits), Stats.Of(composites), history));
                Console.Error.WriteLine($"bench: {key}: {string.Join(" ", trips.Select(t => t.ToString("F0")))} ms");
            }
            return rows;
        }
        finally
        {
            await BenchBrowser.Close(page);
        }
    }

    /// <summary>
    /// Waits, in the page, for the next keydown and then for body[data-state] to name a state other than the one shown
    /// now: <c>window.__benchRoundTrip</c> resolves to the milliseconds between, the state, and the requests made.
    /// </summary>
    private static Task Arm(IPage page) => page.EvaluateAsync("""
        () => {
          const body = document.body;
          const before = body.dataset.state;
          performance.clearResourceTimings();
          window.__benchRoundTrip = new Promise((resolve) => {
            let start = NaN;
            document.addEventListener("keydown", () => { start = performance.now(); }, { capture: true, once: true });
            const observer = new MutationObserver(() => {
              const now = body.dataset.state;
              if (now === undefined || now === before || Number.isNaN(start)) return;
              const ms = performance.now() - start;
              observer.disconnect();
              const requests = performance.getEntriesByType("resource")
                .filter((e) => e.startTime >= start)
                .map((e) => ({ name: new URL(e.name).pathname, start: e.startTime - start, duration: e.duration }));
              resolve({ ms, state: now, requests });
            });
            observer.observe(body, { attributes: true, attributeFilter: ["data-state"] });
          });
        }
        """);

    public static JsonArray Json(IEnumerable<Row> rows) => [.. rows.Select(r => (JsonNode)new JsonObject
    {
        ["key"] = r.Key,
        ["history_steps"] = r.Steps,
        ["round_trip"] = StatsJson(r.RoundTrip),
        ["edit_request"] = StatsJson(r.Edit),
        ["composite_request"] = StatsJson(r.Composite),
    })];

    public static JsonObject StatsJson(Stats s) => new() { ["n"] = s.Count, ["median_ms"] = s.Median, ["p95_ms"] = s.P95, ["max_ms"] = s.Max };
}
