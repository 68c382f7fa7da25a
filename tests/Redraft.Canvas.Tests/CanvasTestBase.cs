using Microsoft.Playwright;

namespace Redraft.Canvas.Tests;

/// <summary>
/// A test of the canvas page: its own browser context (fresh storage: tests do not share remembered settings) and
/// page, closed after the test, also when it fails; <see cref="Canvas"/> drives it.
/// </summary>
public abstract class CanvasTestBase(CanvasServerFixture server, BrowserFixture browser) : IAsyncLifetime
{
    private IBrowserContext? _context;

    protected CanvasServerFixture Server { get; } = server;

    protected CanvasPage Canvas { get; private set; } = null!;

    protected IPage Page => Canvas.Page;

    public async Task InitializeAsync()
    {
        if (Chromium.SkipReason is not null) return;
        _context = await browser.NewContext(await Server.Url());
        await _context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"]);
        var page = await _context.NewPageAsync();
        // A page error (an exception in a module) fails the test that caused it, not a later one.
        page.PageError += (_, error) => PageErrors.Add(error);
        Canvas = new CanvasPage(Server, page);
    }

    /// <summary>Uncaught errors of the page's scripts during the test.</summary>
    protected List<string> PageErrors { get; } = [];

    public async Task DisposeAsync()
    {
        if (_context is not null) await _context.CloseAsync();
        Assert.True(PageErrors.Count == 0, "errors in the page's scripts: " + string.Join(" | ", PageErrors));
    }
}
