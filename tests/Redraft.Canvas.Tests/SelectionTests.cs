using Redraft.Imaging;
using static Microsoft.Playwright.Assertions;

namespace Redraft.Canvas.Tests;

/// <summary>
/// Selections and masks (issue 15): a lasso selection and a mask painted with the mask brush drive a masked generate
/// (white = regenerate); the composite read back through the API changes inside and nowhere beyond the blur band.
/// </summary>
[Collection(CanvasCollection.Name)]
public sealed class SelectionTests(CanvasServerFixture server, BrowserFixture browser) : CanvasTestBase(server, browser)
{
    /// <summary>The generate's mask blur (4 px) blends up to 3 blurs beyond the mask's edge.</summary>
    private const int Band = 13;

    private async Task<RgbaImage> Composite(string name) =>
        ImageFiles.DecodeRgba(await Server.Client.GetByteArrayAsync($"{CanvasPage.DocUrl(name)}/composite.png"), "composite");

    private static bool Same(RgbaImage a, RgbaImage b, int x, int y) =>
        a.Pixels.AsSpan((y * a.Width + x) * 4, 4).SequenceEqual(b.Pixels.AsSpan((y * b.Width + x) * 4, 4));

    /// <summary>Regenerates the selection from the selection bar, waits for the job and accepts the candidate.</summary>
    private async Task RegenerateAndAccept(string name, long state)
    {
        await Page.Locator("#selection-generate").ClickAsync();
        await Canvas.WaitForJob();
        long generated = await Canvas.WaitForChange(name, state);
        await Page.Locator("#candidates [data-action=accept]").ClickAsync();
        await Canvas.WaitForChange(name, generated);
    }

    [BrowserFact]
    public async Task ALassoSelection_RegeneratesInsideIt_AndNothingBeyondItsBlurBand()
    {
        string name = await Canvas.CreateDocument("lasso", 96, 96, seed: 31);
        await Canvas.Open(name);
        long state = await Canvas.WaitForHead(name);
        var before = await Composite(name);
        await Canvas.SetUpGenerate("a stained glass window", strength: 0.9, steps: 2);

        await Page.Locator("#doc-size").ClickAsync();
        await Page.Keyboard.PressAsync("l");
        (double X, double Y)[] polygon = [(20, 20), (70, 26), (46, 72)];
        var (x0, y0) = await Canvas.ScreenPoint(name, polygon[0].X, polygon[0].Y);
        await Page.Mouse.MoveAsync(x0, y0);
        await Page.Mouse.DownAsync();
        foreach (var (px, py) in polygon.Skip(1).Append(polygon[0]))
        {
            var (sx, sy) = await Canvas.ScreenPoint(name, px, py);
            await Page.Mouse.MoveAsync(sx, sy, new() { Steps = 10 });
        }
        await Page.Mouse.UpAsync();
        await Expect(Page.Locator("body")).ToHaveAttributeAsync("data-selection", "yes");

        await RegenerateAndAccept(name, state);

        var step = (await Canvas.History(name)).Single(s => (string)s!["kind"]! == "generate")!;
        Assert.NotNull((string?)step["parameters"]!["mask"]);
        var after = await Composite(name);
        int changedInside = 0, inside = 0;
        for (int y = 0; y < 96; y++)
            for (int x = 0; x < 96; x++)
            {
                if (Inside(polygon, x + 0.5, y + 0.5))
                {
                    inside++;
                    changedInside += Same(before, after, x, y) ? 0 : 1;
                }
                // The lasso's vertices land on pixel centres (+0.5) and its fill is antialiased: 2 px more.
                else if (Distance(polygon, x + 0.5, y + 0.5) > Band + 2)
                    Assert.True(Same(before, after, x, y), $"pixel ({x}, {y}) beyond the lasso and its blur band changed");
            }
        Assert.True(changedInside > inside / 2, $"{changedInside} of {inside} pixels inside the lasso changed");
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task AMaskPaintedWithTheMaskBrush_DrivesAMaskedGenerate()
    {
        string name = await Canvas.CreateDocument("mask brush", 96, 96, seed: 32);
        await Canvas.Open(name);
        long state = await Canvas.WaitForHead(name);
        var before = await Composite(name);
        await Canvas.SetUpGenerate("a river", strength: 0.9, steps: 2);

        await Page.Locator("button[data-tool=mask]").ClickAsync();
        await Canvas.SetRange("#brush-size", 12);
        await Canvas.SetRange("#brush-hardness", 1);
        await Canvas.Drag(name, (20, 48), (76, 48));
        await Expect(Page.Locator("body")).ToHaveAttributeAsync("data-selection", "yes");

        await RegenerateAndAccept(name, state);

        var step = (await Canvas.History(name)).Single(s => (string)s!["kind"]! == "generate")!;
        Assert.NotNull((string?)step["parameters"]!["mask"]);
        var after = await Composite(name);
        int changedOnStroke = 0;
        for (int y = 0; y < 96; y++)
            for (int x = 0; x < 96; x++)
            {
                // The stroke: a 12-px band along y = 48 from x = 20 to 76 (round ends).
                double dx = Math.Max(0, Math.Max(20 - (x + 0.5), (x + 0.5) - 76)), dy = Math.Abs(y + 0.5 - 48.5);
                double distance = Math.Sqrt(dx * dx + dy * dy) - 6;
                if (distance <= 0 && dx == 0 && dy < 4) changedOnStroke += Same(before, after, x, y) ? 0 : 1;
                else if (distance > Band) Assert.True(Same(before, after, x, y), $"pixel ({x}, {y}) away from the mask stroke changed");
            }
        Assert.True(changedOnStroke > 100, $"only {changedOnStroke} pixels on the stroke changed");
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task DraggingTheCanvasEdge_GrowsTheDocument_AndAnOutpaintFillsTheNewStrip()
    {
        string name = await Canvas.CreateDocument("outpaint", 64, 64, seed: 33);
        await Canvas.Open(name);
        long state = await Canvas.WaitForHead(name);
        await Canvas.SetUpGenerate("a wide landscape", strength: 0.9, steps: 2);

        var edge = (await Page.Locator("[data-testid=edge-right]").BoundingBoxAsync())!;
        var composite = (await Page.Locator("#composite").BoundingBoxAsync())!;
        double zoom = composite.Width / 64;
        float ex = (float)(edge.X + edge.Width / 2), ey = (float)(edge.Y + edge.Height / 2);
        await Page.Mouse.MoveAsync(ex, ey);
        await Page.Mouse.DownAsync();
        await Page.Mouse.MoveAsync((float)(ex + 33 * zoom), ey, new() { Steps = 8 });
        await Page.Mouse.UpAsync();
        long grown = await Canvas.WaitForChange(name, state);

        var document = await Canvas.Document(name);
        Assert.Equal((96, 64), ((int)document["width"]!, (int)document["height"]!));
        Assert.Equal("resize-canvas", (string)(await Canvas.History(name))[^1]!["kind"]!);
        // The new strip is selected (with a little of the old picture) for the generate that fills it.
        await Expect(Page.Locator("#scope")).ToHaveValueAsync("selection");
        await Expect(Page.Locator("body")).ToHaveAttributeAsync("data-selection", "yes");
        var before = await Composite(name);
        Assert.All(Enumerable.Range(0, 64).SelectMany(y => Enumerable.Range(64, 32).Select(x => (x, y))),
            p => Assert.Equal(new byte[] { 255, 255, 255, 255 }, before.Pixels.AsSpan((p.y * 96 + p.x) * 4, 4).ToArray()));

        await Page.Locator("#run-generate").ClickAsync();
        await Canvas.WaitForJob();
        long generated = await Canvas.WaitForChange(name, grown);
        await Page.Locator("#candidates [data-action=accept]").ClickAsync();
        await Canvas.WaitForChange(name, generated);

        var after = await Composite(name);
        int filled = Enumerable.Range(0, 64).SelectMany(y => Enumerable.Range(64, 32).Select(x => (x, y)))
            .Count(p => !after.Pixels.AsSpan((p.y * 96 + p.x) * 4, 3).SequenceEqual(new byte[] { 255, 255, 255 }));
        Assert.True(filled > 32 * 64 * 3 / 4, $"only {filled} of the new strip's {32 * 64} pixels were filled");
        // Left of the selected strip and its blur band, the old picture is untouched.
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64 - 16 - Band; x++)
                Assert.True(Same(before, after, x, y), $"pixel ({x}, {y}) of the old picture changed");
        await Canvas.AssertShowsRender(name);
    }

    private static bool Inside((double X, double Y)[] polygon, double x, double y)
    {
        bool inside = false;
        for (int i = 0, j = polygon.Length - 1; i < polygon.Length; j = i++)
            if ((polygon[i].Y > y) != (polygon[j].Y > y)
                && x < (polygon[j].X - polygon[i].X) * (y - polygon[i].Y) / (polygon[j].Y - polygon[i].Y) + polygon[i].X)
                inside = !inside;
        return inside;
    }

    private static double Distance((double X, double Y)[] polygon, double x, double y)
    {
        double best = double.MaxValue;
        for (int i = 0, j = polygon.Length - 1; i < polygon.Length; j = i++)
        {
            var (ax, ay) = polygon[j];
            var (bx, by) = polygon[i];
            double t = Math.Clamp(((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / ((bx - ax) * (bx - ax) + (by - ay) * (by - ay)), 0, 1);
            best = Math.Min(best, Math.Sqrt(Math.Pow(x - (ax + t * (bx - ax)), 2) + Math.Pow(y - (ay + t * (by - ay)), 2)));
        }
        return best;
    }
}
