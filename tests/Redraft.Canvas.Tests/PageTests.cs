using static Microsoft.Playwright.Assertions;

namespace Redraft.Canvas.Tests;

/// <summary>The page's frame: the server's lists in the generate panel, the queue display, documents on the start screen.</summary>
[Collection(CanvasCollection.Name)]
public sealed class PageTests(CanvasServerFixture server, BrowserFixture browser) : CanvasTestBase(server, browser)
{
    [BrowserFact]
    public async Task ModelPicker_ShowsTheLoadedModel_AndSamplerListComesFromTheServer()
    {
        string model = (string)(await Server.Get("/sdapi/v1/options"))["sd_model_checkpoint"]!;
        Assert.StartsWith("tiny", model);
        string name = await Canvas.CreateDocument("lists");

        await Canvas.Open(name);

        await Expect(Page.Locator("#model")).ToHaveValueAsync(model);
        int samplers = (await Server.Get("/sdapi/v1/samplers")).AsArray().Count;
        await Expect(Page.Locator("#sampler option")).ToHaveCountAsync(samplers);
        await Expect(Page.Locator("#sampler")).ToHaveValueAsync("Euler a");
    }

    [BrowserFact]
    public async Task Queue_ShowsBusyWhileAJobRuns_AndIdleAfterIt()
    {
        await Page.GotoAsync("/");
        await Expect(Page.Locator("#queue")).ToHaveTextAsync("Idle");

        // Long enough to be seen by a page that asks every two seconds; interrupted as soon as it has been.
        var longJob = Server.Post("/sdapi/v1/txt2img",
            """{"prompt": "a job for the queue display", "steps": 1000, "width": 64, "height": 64, "seed": 5}""");
        try
        {
            await Expect(Page.Locator("#queue")).ToHaveTextAsync("Busy", new() { Timeout = 30_000 });
        }
        finally
        {
            await Server.Post("/sdapi/v1/interrupt", "");
            await longJob;
        }

        await Expect(Page.Locator("#queue")).ToHaveTextAsync("Idle");
    }

    [BrowserFact]
    public async Task StartScreen_ListsDocuments_AndOpensOneOnClick()
    {
        string name = await Canvas.CreateDocument("recent");
        await Page.GotoAsync("/");

        await Page.Locator($"[data-testid='recent-{name}']").ClickAsync();

        await Canvas.WaitForHead(name);
        await Expect(Page.Locator("#doc-name")).ToHaveTextAsync(name);
    }
}
