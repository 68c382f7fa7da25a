using Redraft.Imaging;
using static Microsoft.Playwright.Assertions;

namespace Redraft.Canvas.Tests;

/// <summary>
/// The README's pictures of the canvas, made from the page in its main states on the tiny model (random weights, so
/// the generated pixels are noise; the page around them is what they show). In the test run they go to a temporary
/// folder and are checked; <c>tools/screenshots.sh</c> runs this test with <c>REDRAFT_SCREENSHOTS_DIR=docs</c> to
/// write them into <c>docs/</c>. Every picture it makes must be shown by the README.
/// </summary>
[Collection(CanvasCollection.Name)]
public sealed class ScreenshotTests(CanvasServerFixture server, BrowserFixture browser) : CanvasTestBase(server, browser)
{
    /// <summary>The pictures, in the order the README shows them.</summary>
    public static readonly string[] Names = ["canvas-start.png", "canvas-candidates.png", "canvas-generating.png", "canvas-history.png"];

    [BrowserFact]
    public async Task MainStates_AreCapturedAtTheWindowSize_AndTheReadmeShowsEachOne()
    {
        string folder = Environment.GetEnvironmentVariable("REDRAFT_SCREENSHOTS_DIR") is { Length: > 0 } wanted
            ? Path.GetFullPath(wanted)
            : Path.Combine(Server.Folder, "screenshots-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        await Page.SetViewportSizeAsync(1280, 800);

        string name = await Canvas.CreateDocument("cottage", 96, 64, seed: 7);
        await Page.GotoAsync("/");
        await Expect(Page.Locator($"[data-testid='recent-{name}'] img")).ToBeVisibleAsync();
        await Shot(folder, Names[0]);

        await Canvas.Open(name);
        long before = await Canvas.WaitForHead(name);
        await Canvas.SetUpGenerate("a cosy cottage in a meadow, golden hour, oil painting", strength: 0.8, steps: 4, variations: 4, seed: 1234);
        await Page.Locator("#negative").FillAsync("blurry, lowres");
        await Page.Locator("#run-generate").ClickAsync();
        await Canvas.WaitForJob();
        await Canvas.WaitForChange(name, before);
        await Page.Keyboard.PressAsync("ArrowRight");
        await Shot(folder, Names[1]);

        // A generation box and a run in progress, its live preview drawn in place; cancelled once captured.
        await Page.Locator("button[data-tool=box]").ClickAsync();
        await Canvas.Drag(name, (30, 10), (80, 55));
        await Page.Locator("#steps").FillAsync("300");
        int drawn = await Page.EvaluateAsync<int>("() => window.__redraft.previewsDrawn ?? 0");
        await Page.Locator("#run-generate").ClickAsync();
        await Page.WaitForFunctionAsync("n => window.__redraft.previewsDrawn >= n + 3", drawn, new() { Timeout = 60_000 });
        await Expect(Page.Locator("#progress-text")).ToContainTextAsync("Step");
        await Shot(folder, Names[2]);
        await Page.Keyboard.PressAsync("Escape");
        await Canvas.WaitForJob("cancelled");

        long beforePick = await Canvas.WaitForHead(name);
        await Page.Locator("[data-testid=candidate-1]").ClickAsync();
        await Canvas.WaitForChange(name, beforePick);
        // Away from the strip: a candidate under the pointer is shown in place (hover previews).
        await Page.Mouse.MoveAsync(1100, 20);
        var step = (await Canvas.History(name)).First(s => (string)s!["kind"]! == "generate")!;
        var row = Page.Locator($"[data-testid=step-{(long)step["id"]!}]");
        await row.Locator("[data-action=rerun]").ClickAsync();
        await Expect(row.Locator(".rerun-report")).ToHaveAttributeAsync("data-result", "identical", new() { Timeout = 60_000 });
        await Shot(folder, Names[3]);

        string readme = await File.ReadAllTextAsync(Path.Combine(PageTypeCheckTests.Root, "README.md"));
        foreach (string picture in Names)
        {
            var image = ImageFiles.DecodeRgba(await File.ReadAllBytesAsync(Path.Combine(folder, picture)), picture);
            Assert.Equal((1280, 800), (image.Width, image.Height));
            Assert.Contains($"](docs/{picture})", readme);
        }
    }

    private async Task Shot(string folder, string picture)
    {
        // Written whole or not at all: a reader of docs/ never sees half a picture.
        byte[] png = await Page.ScreenshotAsync(new() { Type = Microsoft.Playwright.ScreenshotType.Png });
        AtomicFile.WriteAllBytes(Path.Combine(folder, picture), png);
    }
}
