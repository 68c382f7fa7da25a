using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Redraft.Canvas.Tests;

/// <summary>
/// The page at <c>GET /</c> in headless Chromium against a real server on the tiny model: it shows the loaded model,
/// the queue as the jobs API reports it, and runs txt2img from its prompt box.
/// </summary>
[Collection(CanvasCollection.Name)]
public sealed class PageTests(CanvasServerFixture server, BrowserFixture browser) : IAsyncLifetime
{
    private IBrowserContext? _context;
    private IPage _page = null!;

    public async Task InitializeAsync()
    {
        if (Chromium.SkipReason is not null) return;
        _context = await browser.NewContext(await server.Url());
        _page = await _context.NewPageAsync();
    }

    // xunit disposes the test class after a failed test too: the context (its pages, its storage) never outlives a test.
    public async Task DisposeAsync()
    {
        if (_context is not null) await _context.CloseAsync();
    }

    [BrowserFact]
    public async Task Page_ShowsTheLoadedModel()
    {
        string model = (string)(await server.Get("/sdapi/v1/options"))["sd_model_checkpoint"]!;
        Assert.StartsWith("tiny", model);

        await _page.GotoAsync("/");

        await Expect(_page.Locator("#model")).ToHaveTextAsync(model);
    }

    [BrowserFact]
    public async Task Generate_ShowsTheImageThatTxt2imgAnswersForTheSameRequest()
    {
        await _page.GotoAsync("/");
        await _page.Locator("#prompt").FillAsync("a lighthouse at dusk");
        await _page.Locator("#steps").FillAsync("3");
        await _page.Locator("#width").FillAsync("64");
        await _page.Locator("#height").FillAsync("48");
        await _page.Locator("#seed").FillAsync("7");
        await _page.Locator("#generate").ClickAsync();

        var image = _page.Locator("#result img");
        await Expect(image).ToHaveJSPropertyAsync("complete", true);
        // The image's pixels as the page decoded them: drawn 1:1 into a canvas and read back (RGBA, not premultiplied).
        var shown = await image.EvaluateAsync<PageImage>("""
            img => {
              const canvas = document.createElement("canvas");
              canvas.width = img.naturalWidth;
              canvas.height = img.naturalHeight;
              const context = canvas.getContext("2d");
              context.drawImage(img, 0, 0);
              const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
              let binary = "";
              for (const byte of data) binary += String.fromCharCode(byte);
              return { width: canvas.width, height: canvas.height, rgba: btoa(binary) };
            }
            """);

        var answer = await server.Post("/sdapi/v1/txt2img",
            """{"prompt": "a lighthouse at dusk", "steps": 3, "width": 64, "height": 48, "seed": 7}""");
        var expected = Redraft.Imaging.ImageFiles.DecodeRgba(Convert.FromBase64String((string)answer["images"]![0]!), "txt2img answer");
        Assert.Equal((expected.Width, expected.Height), (shown.Width, shown.Height));
        Assert.Equal(expected.Pixels, Convert.FromBase64String(shown.Rgba));
    }

    [BrowserFact]
    public async Task Queue_ShowsTheRunningJobWhileItRuns_AndIdleAfterIt()
    {
        await _page.GotoAsync("/");
        await Expect(_page.Locator("#running")).ToHaveTextAsync("Idle");

        // Long enough to be seen by a page that asks once a second; interrupted as soon as it has been.
        var longJob = server.Post("/sdapi/v1/txt2img",
            """{"prompt": "a job for the queue display", "steps": 1000, "width": 64, "height": 64, "seed": 5}""");
        try
        {
            await Expect(_page.Locator("#running")).ToContainTextAsync("running: \"a job for the queue display\"", new() { Timeout = 30_000 });
        }
        finally
        {
            await server.Post("/sdapi/v1/interrupt", "");
            await longJob;
        }

        await Expect(_page.Locator("#running")).ToHaveTextAsync("Idle");
    }

    /// <summary>What the page's script returns for an image: its natural size and its pixels (base64 RGBA).</summary>
    private sealed class PageImage
    {
        public int Width { get; set; }
        public int Height { get; set; }
        public string Rgba { get; set; } = "";
    }
}
