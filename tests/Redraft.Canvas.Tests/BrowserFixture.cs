using Microsoft.Playwright;

namespace Redraft.Canvas.Tests;

/// <summary>
/// One Chromium for a test collection, launched on first use and closed when the collection ends. Each test takes a
/// new context from <see cref="NewContext"/> (its own cookies, storage and cache) and disposes it, also when it fails.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>A new browser context whose relative URLs resolve against <paramref name="baseUrl"/>.</summary>
    public async Task<IBrowserContext> NewContext(Uri baseUrl)
    {
        var browser = await Browser();
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = baseUrl.ToString() });
        // Playwright's waits give up after 30 s by default; a hung page fails the test sooner than the job timeouts.
        context.SetDefaultTimeout(20_000);
        return context;
    }

    private async Task<IBrowser> Browser()
    {
        await _gate.WaitAsync();
        try
        {
            if (_browser is not null) return _browser;
            Assert.True(Chromium.MissingReason is null, Chromium.MissingReason);
            _playwright = await Playwright.CreateAsync();
            _browser = await _playwright.Chromium.LaunchAsync(Chromium.LaunchOptions());
            return _browser;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.CloseAsync();
        _playwright?.Dispose();
    }
}
