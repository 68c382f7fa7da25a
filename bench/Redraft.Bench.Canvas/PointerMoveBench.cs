using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace Redraft.Bench.Canvas;

/// <summary>
/// (1) Script time per pointer move of a brush stroke on a 1024×1024 document. One real pointerdown (Playwright's
/// mouse), then <see cref="Moves"/> pointermove events dispatched on <c>#viewport</c>, one per animation frame (as
/// Chromium delivers pointer moves), each timed in the page with <c>performance.now()</c> around its dispatch: the
/// stage's listeners, the stroke's dabs drawn on the overlay canvas, the brush cursor. Then the real pointerup commits
/// the stroke (a paint step), and the next stroke waits for it to show.
/// </summary>
/// <remarks>
/// Chromium records 2D canvas drawing and rasterizes it later (at the frame, or when the pixels are read), so the
/// dispatch time is the script's share. The <c>raster</c> mode reads one pixel of the overlay after each dispatch,
/// which makes Chromium rasterize the dabs drawn so far inside the timed span: an upper bound with the drawing done.
/// </remarks>
public static class PointerMoveBench
{
    public const int Moves = 500;

    /// <summary>A stroke's move distance per event on screen (CSS pixels): about 8 px, a brisk hand at 60 events/s.</summary>
    private const double StepX = 6, StepY = 5;

    public sealed record Row(int BrushSize, bool Raster, double MedianOfMedians, double MedianP95, double Max, IReadOnlyList<Stats> Strokes, double Zoom, int StepsAdded);

    public static async Task<List<Row>> Run(BenchServer server, BenchBrowser browser, int strokes, int[] sizes)
    {
        string name = await server.CreateDocument("pointer moves", 1024, 1024);
        var page = await browser.Open(server, name);
        try
        {
            await page.Locator("[data-tool=brush]").ClickAsync();
            await page.Locator("#brush-colour").FillAsync("#c02080");
            await SetRange(page, "#brush-opacity", 1);
            await SetRange(page, "#brush-hardness", 0.8);
            var box = await page.Locator("#composite").BoundingBoxAsync() ?? throw new InvalidOperationException("the composite is not on screen");
            double zoom = box.Width / 1024;
            var rows = new List<Row>();
            // The plain mode first for every size: the readback mode reads the overlay canvas, which could change how
            // Chromium keeps that canvas for the strokes after it.
            foreach (bool raster in new[] { false, true })
                foreach (int size in sizes)
                {
                    await SetRange(page, "#brush-size", size);
                    var stats = new List<Stats>();
                    int before = await server.Steps(name);
                    for (int stroke = 0; stroke < strokes; stroke++)
                        stats.Add(Stats.Of(await Stroke(server, page, name, box, stroke, raster)));
                    int added = await server.Steps(name) - before;
                    rows.Add(new Row(size, raster, Stats.MedianOf([.. stats.Select(s => s.Median)]), Stats.MedianOf([.. stats.Select(s => s.P95)]),
                        stats.Max(s => s.Max), stats, zoom, added));
                    Console.Error.WriteLine($"bench: pointer moves, size {size}{(raster ? " + raster" : "")}: medians {string.Join(" ", stats.Select(s => s.Median.ToString("F2")))} ms");
                }
            return rows;
        }
        finally
        {
            await BenchBrowser.Close(page);
        }
    }

    /// <summary>One stroke: the per-move times (ms); returns once its paint step shows in the page.</summary>
    private static async Task<List<double>> Stroke(BenchServer server, IPage page, string name, LocatorBoundingBoxResult box, int stroke, bool raster)
    {
        var points = Path(box, stroke);
        long state = await server.State(name);
        await page.Mouse.MoveAsync((float)points[0][0], (float)points[0][1]);
        await page.Mouse.DownAsync();
        var times = await page.EvaluateAsync<double[]>("""
            async ({ points, raster }) => {
              const viewport = document.getElementById("viewport");
              const overlay = raster ? document.getElementById("stroke").getContext("2d") : null;
              const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
              const times = [];
              for (const [x, y] of points) {
                await frame();
                const start = performance.now();
                viewport.dispatchEvent(new PointerEvent("pointermove", {
                  pointerId: 1, pointerType: "mouse", isPrimary: true, clientX: x, clientY: y, buttons: 1, bubbles: true, cancelable: true, composed: true,
                }));
                if (overlay) overlay.getImageData(0, 0, 1, 1);
                times.push(performance.now() - start);
              }
              return times;
            }
            """, new { points = points.Skip(1).ToArray(), raster });
        await page.Mouse.UpAsync();
        // The stroke is committed as one paint step; the next starts from the page showing it.
        for (var deadline = DateTime.UtcNow.AddMinutes(2); await server.State(name) == state;)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the stroke was not committed");
            await Task.Delay(20);
        }
        await BenchBrowser.WaitForState(page, await server.State(name));
        // The synthetic moves drew: the composite has the brush colour where the middle move went.
        double zoom = box.Width / 1024;
        var (mx, my) = ((int)((points[Moves / 2][0] - box.X) / zoom), (int)((points[Moves / 2][1] - box.Y) / zoom));
        byte[] shown = Convert.FromBase64String(await page.EvaluateAsync<string>($"() => window.__redraft.compositePixels({mx}, {my}, 1, 1)"));
        if (shown is not [192, 32, 128, 255]) throw new InvalidOperationException($"the stroke did not paint ({mx}, {my}): {string.Join(",", shown)}");
        return [.. times];
    }

    /// <summary>
    /// <see cref="Moves"/> + 1 screen points bouncing inside the composite's middle 80 %, a different start per stroke:
    /// every move about <c>hypot(StepX, StepY)</c> CSS pixels.
    /// </summary>
    private static double[][] Path(LocatorBoundingBoxResult box, int stroke)
    {
        double left = box.X + 0.1 * box.Width, right = box.X + 0.9 * box.Width, top = box.Y + 0.1 * box.Height, bottom = box.Y + 0.9 * box.Height;
        double x = left + (right - left) * (0.2 + 0.15 * stroke % 0.6), y = top + (bottom - top) * (0.3 + 0.1 * stroke % 0.5);
        double vx = StepX, vy = StepY;
        var points = new double[Moves + 1][];
        for (int i = 0; i <= Moves; i++)
        {
            points[i] = [Math.Round(x, 2), Math.Round(y, 2)];
            if (x + vx < left || x + vx > right) vx = -vx;
            if (y + vy < top || y + vy > bottom) vy = -vy;
            x += vx;
            y += vy;
        }
        return points;
    }

    /// <summary>Sets a range input as a user's drag would end (input and change events).</summary>
    public static Task SetRange(IPage page, string selector, double value) =>
        page.Locator(selector).EvaluateAsync("(input, value) => { input.value = String(value); input.dispatchEvent(new Event('input', { bubbles: true })); input.dispatchEvent(new Event('change', { bubbles: true })); }", value);

    /// <summary>The rows as JSON (every stroke's statistics).</summary>
    public static JsonArray Json(IEnumerable<Row> rows) => [.. rows.Select(r => (JsonNode)new JsonObject
    {
        ["brush_size"] = r.BrushSize,
        ["mode"] = r.Raster ? "dispatch+raster" : "dispatch",
        ["median_of_medians_ms"] = r.MedianOfMedians,
        ["median_p95_ms"] = r.MedianP95,
        ["max_ms"] = r.Max,
        ["strokes"] = new JsonArray([.. r.Strokes.Select(s => (JsonNode)new JsonObject { ["median_ms"] = s.Median, ["p95_ms"] = s.P95, ["max_ms"] = s.Max })]),
    })];
}
