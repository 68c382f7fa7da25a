using System.Text.Json.Nodes;
using static Microsoft.Playwright.Assertions;

namespace Redraft.Canvas.Tests;

/// <summary>
/// Live mode (issue 15) on the tiny model: a stroke is followed by a live result; a newer stroke supersedes a running
/// live job (seen in its events); Apply turns the result into a candidate whose step reruns identically.
/// </summary>
[Collection(CanvasCollection.Name)]
public sealed class LiveModeTests(CanvasServerFixture server, BrowserFixture browser) : CanvasTestBase(server, browser)
{
    private async Task TurnOn(int debounceMs, int steps = 2)
    {
        await Page.Locator("#live-steps").FillAsync(steps.ToString());
        await Page.Locator("#live-strength").FillAsync("0.5");
        await Page.Locator("#live-debounce").FillAsync(debounceMs.ToString());
        await Page.Locator("#live-debounce").DispatchEventAsync("change");
        await Page.Locator("#live-enabled").CheckAsync();
        await Expect(Page.Locator("#live-panel")).ToBeVisibleAsync();
    }

    private async Task Stroke(string name, double y)
    {
        await Page.Locator("button[data-tool=brush]").ClickAsync();
        await Canvas.Drag(name, (6, y), (50, y));
    }

    private async Task<JsonArray> LiveEvents(string type) =>
        JsonNode.Parse(await Page.EvaluateAsync<string>(
            "t => JSON.stringify(window.__redraft.events.filter(e => e.type === t && e.job.includes('doc-live')))", type))!.AsArray();

    [BrowserFact]
    public async Task AStrokeIsFollowedByOneLiveResult_AndApplyMakesACandidateThatRerunsIdentical()
    {
        string name = await Canvas.CreateDocument("live", 64, 64, seed: 51);
        await Canvas.Open(name);
        await Canvas.SetUpGenerate("a quick live sketch", steps: 2, seed: 5);
        await TurnOn(debounceMs: 100);
        // Turning live mode on shows the picture as it is; the stroke's run is counted from a clean record.
        await Expect(Page.Locator("#live-panel")).ToHaveAttributeAsync("data-state", "done", new() { Timeout = 30_000 });
        string? before = await Page.Locator("#live-panel").GetAttributeAsync("data-job");
        await Page.EvaluateAsync("() => { window.__redraft.events.length = 0; }");
        long state = await Canvas.WaitForHead(name);

        await Stroke(name, 20);
        long stroked = await Canvas.WaitForChange(name, state);

        await Expect(Page.Locator("#live-panel")).Not.ToHaveAttributeAsync("data-job", before!, new() { Timeout = 30_000 });
        await Expect(Page.Locator("#live-panel")).ToHaveAttributeAsync("data-state", "done", new() { Timeout = 30_000 });
        var results = await LiveEvents("result");
        Assert.Single(results);
        string job = (string)results[0]!["job"]!;
        // One live job followed the stroke (its events, whatever their types, name one job).
        var jobs = JsonNode.Parse(await Page.EvaluateAsync<string>(
            "() => JSON.stringify([...new Set(window.__redraft.events.filter(e => e.job.includes('doc-live')).map(e => e.job))])"))!.AsArray();
        Assert.Equal(job, (string)Assert.Single(jobs)!);
        await Expect(Page.Locator("#live-result")).ToHaveJSPropertyAsync("complete", true);
        Assert.True(await Page.Locator("#live-result").EvaluateAsync<int>("i => i.naturalWidth") > 0);
        // Nothing was recorded by the live run.
        Assert.Equal(stroked, (long)(await Canvas.Document(name))["state"]!);

        await Page.Locator("#live-apply").ClickAsync();
        await Canvas.WaitForChange(name, stroked);
        await Expect(Page.Locator("#candidates .candidate")).ToHaveCountAsync(1);
        var step = (await Canvas.History(name))[^1]!;
        Assert.Equal("generate", (string)step["kind"]!);
        // Two sampling steps run at strength 0.5: the schedule has 4 (A1111's img2img rule), decoded with TAESD.
        Assert.Equal((4, 0.5, "taesd"), ((int)step["parameters"]!["steps"]!, (double)step["parameters"]!["strength"]!, (string)step["parameters"]!["vae"]!));

        var rerun = await Server.Post($"{CanvasPage.DocUrl(name)}/history/{(long)step["id"]!}/rerun", "{}");
        var report = await Canvas.FollowJob((string)rerun["job_id"]!);
        Assert.True((bool)report["identical"]!, report.ToJsonString());
        Assert.NotEqual(job, (string)rerun["job_id"]!);
    }

    [BrowserFact]
    public async Task ASecondStrokeDuringARunningLiveJob_SupersedesIt()
    {
        // A canvas large enough that a live run on the tiny model lasts while the second stroke is made.
        string name = await Canvas.CreateDocument("live superseded", 512, 512, seed: 52);
        await Canvas.Open(name);
        await Canvas.SetUpGenerate("superseded", steps: 4, seed: 6);
        await TurnOn(debounceMs: 0, steps: 4);
        long state = await Canvas.WaitForHead(name);

        await Stroke(name, 100);
        await Page.WaitForFunctionAsync("() => window.__redraft.events.some(e => e.type === 'progress' && e.job.includes('doc-live'))", null, new() { Timeout = 30_000 });
        string first = (string)(await LiveEvents("progress"))[0]!["job"]!;
        await Stroke(name, 300);

        await Page.WaitForFunctionAsync("j => window.__redraft.events.some(e => e.type === 'cancelled' && e.job === j)", first, new() { Timeout = 30_000 });
        var cancelled = (await LiveEvents("cancelled")).Single(e => (string)e!["job"]! == first)!;
        Assert.Equal("superseded", (string)cancelled["reason"]!);
        await Expect(Page.Locator("#live-panel")).ToHaveAttributeAsync("data-state", "done", new() { Timeout = 60_000 });
        Assert.NotEqual(first, await Page.Locator("#live-panel").GetAttributeAsync("data-job"));
        Assert.DoesNotContain(await LiveEvents("result"), e => (string)e!["job"]! == first);
    }
}
