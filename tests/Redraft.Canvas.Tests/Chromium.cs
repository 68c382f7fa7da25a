using Microsoft.Playwright;

namespace Redraft.Canvas.Tests;

/// <summary>
/// Debian's Chromium (<c>apt-get install chromium</c>, which <c>.ci/run</c> does) as Playwright launches it here. Playwright
/// never downloads a browser of its own in this project: it is always pointed at <see cref="ExecutablePath"/>.
/// </summary>
public static class Chromium
{
    /// <summary>Where Debian's package puts the browser.</summary>
    public const string ExecutablePath = "/usr/bin/chromium";

    /// <summary>Why browser tests are skipped (null when the browser is there).</summary>
    public static string? MissingReason => File.Exists(ExecutablePath)
        ? null
        : $"{ExecutablePath} not found: install Debian's chromium (apt-get install chromium) to run the browser tests";

    /// <summary>
    /// Why a browser test is skipped on this machine: the browser is missing. Null when it is there, and also under CI
    /// (<c>CI=true</c>), where <c>.ci/run</c> installs it, so a missing browser is a broken set-up: the tests run and fail.
    /// </summary>
    public static string? SkipReason => Environment.GetEnvironmentVariable("CI") == "true" ? null : MissingReason;

    /// <summary>
    /// Headless, and without the background connections (updates, sync, safe browsing, QUIC) that a closed network
    /// refuses many at a time and that slow every start. Playwright gives each launched browser a new empty profile
    /// folder of its own and deletes it when the browser closes.
    /// </summary>
    public static BrowserTypeLaunchOptions LaunchOptions() => new()
    {
        ExecutablePath = ExecutablePath,
        Headless = true,
        ChromiumSandbox = false,
        Args =
        [
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
        ],
    };
}
