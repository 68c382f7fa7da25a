using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Redraft.Cli.Tests;
using Redraft.Models;
using Redraft.Server;
using Redraft.Tests.Shared;
using static Microsoft.Playwright.Assertions;

namespace Redraft.Canvas.Tests;

/// <summary>
/// The model picker's downloads: a server of the test's own whose catalogue names a checkpoint served by a fake
/// Hugging Face hub (a tiny stand-in, sent slowly enough that its progress shows); the page offers it with its size and
/// licence, downloads it showing the progress, cancels and resumes it, and then generates with it.
/// </summary>
[Collection(CanvasCollection.Name)]
public sealed class ModelPickerTests(BrowserFixture browser)
{
    private const string Licence = "Test Stand-in Licence";

    private static ModelCatalogue Catalogue(long size) => ModelCatalogue.Parse($$"""
        { "default": "stand-in", "models": [ { "name": "stand-in", "title": "a tiny checkpoint served by the fake hub", "role": "checkpoint",
          "family": "sd1", "licence": { "name": "{{Licence}}", "url": "https://example.invalid/licence", "acceptance": true },
          "files": [ { "repo": "test-org/stand-in", "revision": "main", "path": "stand-in.safetensors", "size": {{size}}, "sha256": null } ] } ] }
        """, "test catalogue");

    /// <summary>The size as the page writes it (decimal units, one decimal below 10).</summary>
    private static string SizeWords(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB"];
        double value = bytes;
        int unit = 0;
        for (; value >= 1000 && unit < units.Length - 1; unit++) value /= 1000;
        return unit > 0 && value < 10 ? $"{value.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)} {units[unit]}" : $"{Math.Round(value)} {units[unit]}";
    }

    [BrowserFact]
    public async Task ModelPicker_DownloadsACatalogueCheckpoint_WithItsLicenceProgressAndCancel_ThenGeneratesWithIt()
    {
        using var hub = new FakeHub();
        string served = Path.Combine(Directory.CreateTempSubdirectory("redraft-picker-").FullName, "stand-in.safetensors");
        var made = RedraftProcess.Run("make-model", "--preset", "tiny", "--seed", "5", "--out", served);
        Assert.True(made.ExitCode == 0, made.Stderr);
        byte[] bytes = File.ReadAllBytes(served);
        Directory.Delete(Path.GetDirectoryName(served)!, true);
        // About 2.4 s on the wire (64 KiB chunks), so the page sees it running, cancels it and resumes it.
        var delay = TimeSpan.FromSeconds(2.4 / Math.Max(1, bytes.Length / 65536));
        hub.Add("test-org/stand-in", "stand-in.safetensors", new FakeHub.HubFile { Bytes = bytes, ChunkDelay = delay });

        var server = new CanvasServerFixture(o => o with
        {
            Hub = new HubEnvironment { Endpoint = hub.Endpoint, HubCache = Path.Combine(o.ModelsDir!, "..", "hf", "hub") },
            Catalogue = Catalogue(bytes.Length),
        });
        IBrowserContext? context = null;
        try
        {
            context = await browser.NewContext(await server.Url());
            var page = await context.NewPageAsync();
            var errors = new List<string>();
            page.PageError += (_, error) => errors.Add(error);
            var canvas = new CanvasPage(server, page);
            string name = await canvas.CreateDocument("picker");
            await canvas.Open(name);

            // Offered, not installed: its size on the button, its licence to accept before the button works.
            var row = page.Locator("[data-testid='download-stand-in']");
            await page.Locator("#model-downloads summary").ClickAsync();
            var button = row.Locator("button.download");
            await Expect(button).ToHaveTextAsync($"Download ({SizeWords(bytes.Length)})");
            await Expect(row.Locator(".licence")).ToContainTextAsync(Licence);
            await Expect(button).ToBeDisabledAsync();
            Assert.Empty(hub.Gets);
            await row.Locator("input.accept").CheckAsync();
            await button.ClickAsync();

            // Progress while it runs: bytes of the total, and a speed.
            var progress = new Regex($@"^[\d.]+ (B|kB|MB) of {Regex.Escape(SizeWords(bytes.Length))} · [\d.]+ (B|kB|MB)/s$");
            await Expect(row.Locator(".download-status")).ToHaveTextAsync(progress);
            await Expect(row).ToHaveAttributeAsync("data-state", "running");

            // Cancelled midway: the server's word on the kept .part, and Resume asks the hub only for the rest.
            await row.Locator("button.cancel").ClickAsync();
            await Expect(row).ToHaveAttributeAsync("data-state", "cancelled");
            await Expect(row.Locator(".download-status")).ToContainTextAsync(".part");
            await Expect(button).ToHaveTextAsync("Resume");
            await button.ClickAsync();
            await Expect(row.Locator(".download-status")).ToHaveTextAsync(progress);

            // Done: the row is gone, the model is in the list and selected, the file is the served bytes.
            await Expect(row).ToHaveCountAsync(0, new() { Timeout = 30_000 });
            var listed = (await server.Get("/sdapi/v1/sd-models")).AsArray().Single(m => (string)m!["model_name"]! == "stand-in")!;
            await Expect(page.Locator("#model")).ToHaveValueAsync((string)listed["title"]!);
            string sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
            Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes((string)listed["filename"]!))));
            Assert.Contains(hub.Gets, r => r.Host == "cdn" && r.Range is { } range && range != "bytes=0-");

            // A generation from the page uses it (its history step records the new model's hash, not the tiny default's).
            await canvas.SetUpGenerate("a cat", steps: 2);
            await page.Locator("#run-generate").ClickAsync();
            await canvas.WaitForJob();
            var step = (await canvas.History(name)).Last()!;
            Assert.Equal(sha256[..10], (string)step["model_hash"]!);
            Assert.True(errors.Count == 0, "errors in the page's scripts: " + string.Join(" | ", errors));
        }
        finally
        {
            // The page first: its open event streams would hold the server's stop for its whole grace period.
            if (context is not null) await context.CloseAsync();
            await server.DisposeAsync();
        }
    }
}
