using Redraft.Cli.Tests;
using static Microsoft.Playwright.Assertions;

namespace Redraft.Canvas.Tests;

/// <summary>
/// Documents in the page: new from a size preset, rename, the layers panel's edits, zoom and pan, and edits made
/// elsewhere (the CLI) showing up in an open page.
/// </summary>
[Collection(CanvasCollection.Name)]
public sealed class DocumentPageTests(CanvasServerFixture server, BrowserFixture browser) : CanvasTestBase(server, browser)
{
    [BrowserFact]
    public async Task NewFromASizePreset_ThenRenameInPlace()
    {
        string name = CanvasPage.NewName("preset");
        await Page.GotoAsync("/");
        await Page.Locator("#new-name").FillAsync(name);
        await Page.Locator("#size-preset").SelectOptionAsync("768x512");
        await Page.Locator("#new-form button[type=submit]").ClickAsync();

        await Expect(Page.Locator("#doc-name")).ToHaveTextAsync(name);
        await Canvas.WaitForHead(name);
        var document = await Canvas.Document(name);
        Assert.Equal((768, 512), ((int)document["width"]!, (int)document["height"]!));
        Assert.Empty(document["layers"]!.AsArray());
        await Canvas.AssertShowsRender(name);

        string renamed = CanvasPage.NewName("renamed");
        await Page.Locator("#doc-name").ClickAsync();
        await Page.Locator("#doc-rename").FillAsync(renamed);
        await Page.Locator("#doc-rename").PressAsync("Enter");

        await Expect(Page.Locator("#doc-name")).ToHaveTextAsync(renamed);
        await Canvas.WaitForHead(renamed);
        Assert.EndsWith("#/doc/" + Uri.EscapeDataString(renamed), Page.Url);
        using var old = await Server.Client.GetAsync(CanvasPage.DocUrl(name));
        Assert.Equal(404, (int)old.StatusCode);
    }

    [BrowserFact]
    public async Task LayersPanel_RenamesReordersByDragAndDeletes_EachOneHistoryStep()
    {
        string name = await Canvas.CreateDocument("layers", 64, 64);
        await AddLayer(name, "second", 10, 10, seed: 2);
        await AddLayer(name, "third", 30, 30, seed: 3);
        await Canvas.Open(name);
        await Expect(Page.Locator("#layers .layer")).ToHaveCountAsync(3);
        // Top layer first, as painting programs list them.
        Assert.Equal(["L3", "L2", "L1"], await Page.Locator("#layers .layer").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.layer)"));
        long state = await Canvas.WaitForHead(name);

        await Page.Locator("[data-testid=layer-L2] .name").DblClickAsync();
        await Page.Locator("[data-testid=layer-L2] .rename").FillAsync("the door");
        await Page.Locator("[data-testid=layer-L2] .rename").PressAsync("Enter");
        state = await Canvas.WaitForChange(name, state);
        Assert.Equal("the door", (string)(await Canvas.Document(name))["layers"]![1]!["name"]!);

        await Page.Locator("[data-testid=layer-L3]").DragToAsync(Page.Locator("[data-testid=layer-L1]"));
        state = await Canvas.WaitForChange(name, state);
        Assert.Equal(["L3", "L1", "L2"], (await Canvas.Document(name))["layers"]!.AsArray().Select(l => (string)l!["id"]!).ToArray());

        await Page.Locator("[data-testid=layer-L1] [data-testid=layer-delete]").ClickAsync();
        await Canvas.WaitForChange(name, state);
        Assert.Equal(["L3", "L2"], (await Canvas.Document(name))["layers"]!.AsArray().Select(l => (string)l!["id"]!).ToArray());
        Assert.Equal(["rename", "reorder", "delete"], (await Canvas.History(name)).Skip(3).Select(s => (string)s!["kind"]!).ToArray());
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task WheelZoomsAroundThePointer_SpaceDragAndTheMiddleButtonPan_ZeroFitsAgain()
    {
        string name = await Canvas.CreateDocument("zoom", 64, 64);
        await Canvas.Open(name);
        var fitted = (await Page.Locator("#composite").BoundingBoxAsync())!;
        var (px, py) = await Canvas.ScreenPoint(name, 16, 16);

        await Page.Mouse.MoveAsync(px, py);
        await Page.Mouse.WheelAsync(0, -400);
        var zoomed = (await Page.Locator("#composite").BoundingBoxAsync())!;
        Assert.True(zoomed.Width > fitted.Width * 1.5, $"wheel up zoomed from {fitted.Width} to {zoomed.Width} px");
        // The pixel under the pointer stays under it.
        var (qx, qy) = await Canvas.ScreenPoint(name, 16, 16);
        Assert.InRange(qx - px, -zoomed.Width / 64, zoomed.Width / 64);
        Assert.InRange(qy - py, -zoomed.Height / 64, zoomed.Height / 64);

        await Page.Keyboard.DownAsync(" ");
        await Page.Mouse.DownAsync();
        await Page.Mouse.MoveAsync(px + 50, py + 30, new() { Steps = 5 });
        await Page.Mouse.UpAsync();
        await Page.Keyboard.UpAsync(" ");
        var panned = (await Page.Locator("#composite").BoundingBoxAsync())!;
        Assert.Equal((zoomed.X + 50, zoomed.Y + 30), (Math.Round(panned.X), Math.Round(panned.Y)), new ToleranceComparer(1.5));

        await Page.Mouse.MoveAsync(px, py);
        await Page.Mouse.DownAsync(new() { Button = Microsoft.Playwright.MouseButton.Middle });
        await Page.Mouse.MoveAsync(px - 20, py - 40, new() { Steps = 5 });
        await Page.Mouse.UpAsync(new() { Button = Microsoft.Playwright.MouseButton.Middle });
        var panned2 = (await Page.Locator("#composite").BoundingBoxAsync())!;
        Assert.Equal((panned.X - 20, panned.Y - 40), (Math.Round(panned2.X), Math.Round(panned2.Y)), new ToleranceComparer(1.5));
        Assert.Single(await Canvas.History(name));

        await Page.Keyboard.PressAsync("0");
        var refitted = (await Page.Locator("#composite").BoundingBoxAsync())!;
        Assert.Equal((fitted.X, fitted.Y, fitted.Width), (refitted.X, refitted.Y, refitted.Width), new ToleranceComparer3(0.5));
    }

    [BrowserFact]
    public async Task TwoFingers_PinchZoomAroundTheirMidpoint_AndCancelTheStrokeTheFirstFingerBegan()
    {
        string name = await Canvas.CreateDocument("pinch", 64, 64);
        await Canvas.Open(name);
        await Page.Keyboard.PressAsync("b");
        var fitted = (await Page.Locator("#composite").BoundingBoxAsync())!;
        var (ax, ay) = await Canvas.ScreenPoint(name, 24, 32);
        var (bx, by) = await Canvas.ScreenPoint(name, 40, 32);
        var (mx, my) = await Canvas.ScreenPoint(name, 32, 32);
        // Real touch input through the browser's input pipeline (Playwright itself only taps).
        var cdp = await Page.Context.NewCDPSessionAsync(Page);
        // One event per frame, as fingers on glass arrive (the browser coalesces touch moves per frame).
        async Task Touch(string type, params (double X, double Y)[] fingers)
        {
            await cdp.SendAsync("Input.dispatchTouchEvent", new Dictionary<string, object>
            {
                ["type"] = type,
                ["touchPoints"] = fingers.Select((f, i) => new Dictionary<string, object> { ["x"] = f.X, ["y"] = f.Y, ["id"] = i }).ToArray(),
            });
            await Page.EvaluateAsync("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))");
        }
        // The first finger starts a brush stroke...
        await Touch("touchStart", (ax, ay));
        await Touch("touchMove", (ax + 3, ay));
        // ...the second turns it into a pinch: the fingers spread to twice their distance around the same midpoint.
        await Touch("touchStart", (ax + 3, ay), (bx, by));
        for (int i = 1; i <= 8; i++)
        {
            double spread = (bx - ax) / 2 * (1 + i / 8.0);
            await Touch("touchMove", (mx - spread, my), (mx + spread, my));
        }
        await Touch("touchEnd");
        var pinched = (await Page.Locator("#composite").BoundingBoxAsync())!;
        Assert.InRange(pinched.Width / fitted.Width, 1.9, 2.1);
        // The document point that was between the fingers is still between them.
        var (qx, qy) = await Canvas.ScreenPoint(name, 32, 32);
        Assert.InRange(qx - mx, -pinched.Width / 64, pinched.Width / 64);
        Assert.InRange(qy - my, -pinched.Height / 64, pinched.Height / 64);
        // The stroke the first finger began was cancelled: a stroke made afterwards is the only paint step.
        long before = await Canvas.WaitForHead(name);
        await Canvas.Drag(name, (30, 30), (36, 33));   // near the middle: at twice the zoom the edges are off screen
        await Canvas.WaitForChange(name, before);
        Assert.Equal(["new", "paint"], (await Canvas.History(name)).Select(s => (string)s!["kind"]!).ToArray());
    }

    [BrowserFact]
    public async Task ALayerAddedByTheCli_ShowsUpInTheOpenPage()
    {
        string name = await Canvas.CreateDocument("cli edit", 64, 64);
        await Canvas.Open(name);
        long before = await Canvas.WaitForHead(name);
        string image = Path.Combine(Server.Folder, Guid.NewGuid().ToString("N") + ".png");
        await File.WriteAllBytesAsync(image, CanvasPage.Sketch(20, 20, seed: 12));

        var result = RedraftProcess.Run("doc", "add-layer", Path.Combine(Server.DocumentsDir, name), image, "--x", "8", "--y", "8", "--name", "from the cli");
        Assert.True(result.ExitCode == 0, result.Stderr);

        // The page hears of the change through the document's event stream, without a reload.
        await Expect(Page.Locator("body")).Not.ToHaveAttributeAsync("data-state", before.ToString(), new() { Timeout = 2_000 });
        await Expect(Page.Locator("#layers .layer")).ToHaveCountAsync(2);
        await Expect(Page.Locator("#layers .layer .name").First).ToHaveTextAsync("from the cli");
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task AfterOpeningAnotherDocument_TheButtonsActOnThatOneOnly()
    {
        string first = await Canvas.CreateDocument("first of two");
        string second = await Canvas.CreateDocument("second of two", seed: 2);
        foreach (string name in new[] { first, second })
        {
            var accepted = await Server.Post(CanvasPage.DocUrl(name) + "/generate", """{"prompt": "two", "steps": 2, "variations": 2, "seed": 3}""");
            await Canvas.FollowJob((string)accepted["job_id"]!);
        }
        await Canvas.Open(first);
        await Expect(Page.Locator("#candidates .candidate")).ToHaveCountAsync(2);
        await Page.Locator("#home").ClickAsync();
        await Page.Locator($"[data-testid='recent-{second}']").ClickAsync();
        long before = await Canvas.WaitForHead(second);
        int firstSteps = (await Canvas.History(first)).Count;

        await Page.Locator("#candidates [data-action=accept]").ClickAsync();
        long picked = await Canvas.WaitForChange(second, before);
        await Page.Locator("[data-testid=layer-L1] [data-testid=layer-visible]").ClickAsync();
        await Canvas.WaitForChange(second, picked);

        Assert.Equal(["pick", "visibility"], (await Canvas.History(second)).Skip(2).Select(s => (string)s!["kind"]!).ToArray());
        Assert.Equal(firstSteps, (await Canvas.History(first)).Count);
        await Expect(Page.Locator("#viewport #world")).ToHaveCountAsync(1);
        await Canvas.AssertShowsRender(second);
    }

    private async Task AddLayer(string name, string layerName, int x, int y, int seed)
    {
        using var form = new MultipartFormDataContent();
        var image = new ByteArrayContent(CanvasPage.Sketch(24, 24, seed));
        image.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/png");
        form.Add(image, "image", layerName + ".png");
        form.Add(new StringContent(x.ToString()), "x");
        form.Add(new StringContent(y.ToString()), "y");
        await Server.Url();
        using var response = await Server.Client.PostAsync(CanvasPage.DocUrl(name) + "/layers", form);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<(double, double)>
    {
        public bool Equals((double, double) a, (double, double) b) => Math.Abs(a.Item1 - b.Item1) <= tolerance && Math.Abs(a.Item2 - b.Item2) <= tolerance;
        public int GetHashCode((double, double) obj) => 0;
    }

    private sealed class ToleranceComparer3(double tolerance) : IEqualityComparer<(double, double, double)>
    {
        public bool Equals((double, double, double) a, (double, double, double) b) =>
            Math.Abs(a.Item1 - b.Item1) <= tolerance && Math.Abs(a.Item2 - b.Item2) <= tolerance && Math.Abs(a.Item3 - b.Item3) <= tolerance;
        public int GetHashCode((double, double, double) obj) => 0;
    }
}
