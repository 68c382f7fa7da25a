using Microsoft.Playwright;
using Redraft.Canvas.Tests;
using static Microsoft.Playwright.Assertions;

namespace Redraft.Bench.Canvas;

/// <summary>
/// Debian's Chromium launched headless as the browser tests launch it (<see cref="Chromium.LaunchOptions"/>), one page
/// at a time on a server, with the tests' window size (1280×720).
/// </summary>
public sealed class BenchBrowser : IAsyncDisposable
{
    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private BenchBrowser(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        _browser = browser;
    }

    public string Version => _browser.Version;

    public static async Task<BenchBrowser> Launch()
    {
        if (Chromium.MissingReason is { } missing) throw new FileNotFoundException(missing);
        var playwright = await Playwright.CreateAsync();
        try
        {
            return new BenchBrowser(playwright, await playwright.Chromium.LaunchAsync(Chromium.LaunchOptions()));
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A new context and page showing document <paramref name="name"/> of <paramref name="server"/>, once the page shows
    /// its head state. Uncaught page errors end the benchmark (a broken page measures nothing).
    /// </summary>
    public async Task<IPage> Open(BenchServer server, string name)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.Url.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 720 },
        });
        context.SetDefaultTimeout(120_000);
        var page = await context.NewPageAsync();
        page.PageError += (_, error) => Console.Error.WriteLine($"bench: error in the page: {error}");
        await page.GotoAsync("/#/doc/" + Uri.EscapeDataString(name));
        await WaitForState(page, await server.State(name));
        return page;
    }

    /// <summary>Waits until the page shows state <paramref name="state"/> (body[data-state]).</summary>
    public static Task WaitForState(IPage page, long state) =>
        Expect(page.Locator("body")).ToHaveAttributeAsync("data-state", state.ToString(), new() { Timeout = 120_000 });

    /// <summary>Closes the page's context.</summary>
    public static Task Close(IPage page) => page.Context.CloseAsync();

    public async ValueTask DisposeAsync()
    {
        await _browser.CloseAsync();
        _playwright.Dispose();
    }
}
