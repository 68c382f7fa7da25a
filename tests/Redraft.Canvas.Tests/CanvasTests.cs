using System.Text.Json.Nodes;
using Redraft.Imaging;
using static Microsoft.Playwright.Assertions;

namespace Redraft.Canvas.Tests;

/// <summary>
/// The artist's loop in the canvas page, on the tiny model, each test from its own document: real mouse and keyboard
/// input through Playwright; the document read back through the API, and the page's pixels against <c>doc render</c>.
/// </summary>
[Collection(CanvasCollection.Name)]
public sealed class CanvasTests(CanvasServerFixture server, BrowserFixture browser) : CanvasTestBase(server, browser)
{
    [BrowserFact]
    public async Task DroppingASketchOnTheStartScreen_CreatesADocumentFromIt()
    {
        byte[] sketch = CanvasPage.Sketch(80, 48, seed: 5);
        string file = CanvasPage.NewName("dropped") + ".png";
        await Page.GotoAsync("/");

        await Canvas.DropFile("#drop-zone", sketch, file);

        await Expect(Page.Locator("body")).ToHaveAttributeAsync("data-view", "editor");
        string name = file[..^4];
        await Expect(Page.Locator("#doc-name")).ToHaveTextAsync(name);
        var document = await Canvas.Document(name);
        Assert.Equal((80, 48), ((int)document["width"]!, (int)document["height"]!));
        var layer = Assert.Single(document["layers"]!.AsArray())!;
        var stored = ImageFiles.DecodeRgba(await Server.Client.GetByteArrayAsync((string)layer["url"]!), "layer");
        Assert.Equal(ImageFiles.DecodeRgba(sketch, "sketch").Pixels, stored.Pixels);
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task FourVariationsAtStrength08_ArrowKeysPreviewEach_EnterAcceptsTheOneShown()
    {
        string name = await Canvas.CreateDocument("variations");
        await Canvas.Open(name);
        long before = await Canvas.WaitForHead(name);
        await Canvas.SetUpGenerate("a red barn in snow", strength: 0.8, steps: 3, variations: 4, seed: 21);

        await Page.Locator("#run-generate").ClickAsync();
        await Canvas.WaitForJob();
        await Canvas.WaitForChange(name, before);

        var document = await Canvas.Document(name);
        var candidates = document["layers"]!.AsArray().Where(l => (string)l!["role"]! == "candidate").ToList();
        Assert.Equal(4, candidates.Count);
        Assert.All(candidates, c => Assert.True((bool)c!["hidden"]!));
        var step = (await Canvas.History(name))[^1]!;
        Assert.Equal(("generate", 0.8), ((string)step["kind"]!, (double)step["strength"]!));
        Assert.Equal(4, (int)step["parameters"]!["variations"]!);
        await Expect(Page.Locator("#candidates .candidate")).ToHaveCountAsync(4);

        // Each arrow shows the next candidate in place, over the picture.
        string Id(int i) => (string)candidates[i]!["id"]!;
        await Expect(Page.Locator("#candidates")).ToHaveAttributeAsync("data-current", Id(0));
        await Page.Keyboard.PressAsync("ArrowRight");
        await Expect(Page.Locator("#candidates")).ToHaveAttributeAsync("data-current", Id(1));
        await Page.Keyboard.PressAsync("ArrowRight");
        await Page.Keyboard.PressAsync("ArrowRight");
        await Expect(Page.Locator("#candidates")).ToHaveAttributeAsync("data-current", Id(3));
        await Page.Keyboard.PressAsync("ArrowLeft");
        await Expect(Page.Locator("#candidates")).ToHaveAttributeAsync("data-current", Id(2));
        await Expect(Page.Locator("#candidate")).ToBeVisibleAsync();
        await Expect(Page.Locator("#candidate")).ToHaveAttributeAsync("src", (string)candidates[2]!["url"]!);

        long shown = await Canvas.WaitForHead(name);
        await Page.Keyboard.PressAsync("Enter");
        await Canvas.WaitForChange(name, shown);

        var picked = (await Canvas.Document(name))["layers"]!.AsArray().Single(l => (string)l!["id"]! == Id(2))!;
        Assert.Equal("generated", (string)picked["role"]!);
        Assert.True((bool)picked["drawn"]!);
        Assert.Equal("pick", (string)(await Canvas.History(name))[^1]!["kind"]!);
        await Expect(Page.Locator("#candidates .candidate")).ToHaveCountAsync(3);
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task AnImageDroppedOnTheCanvas_BecomesALayerThere_AndTheMouseMovesIt()
    {
        string name = await Canvas.CreateDocument("layer", 96, 64);
        await Canvas.Open(name);
        long before = await Canvas.WaitForHead(name);

        var at = await Canvas.ScreenPoint(name, 40, 30);
        await Canvas.DropFile("#viewport", CanvasPage.Sketch(24, 16, seed: 9), "patch.png", at);
        long added = await Canvas.WaitForChange(name, before);

        var layer = (await Canvas.Document(name))["layers"]!.AsArray()[^1]!;
        Assert.Equal("patch", (string)layer["name"]!);
        // Centred on the drop point.
        Assert.InRange((int)layer["x"]!, 27, 30);
        Assert.InRange((int)layer["y"]!, 21, 24);
        int x0 = (int)layer["x"]!, y0 = (int)layer["y"]!;

        await Canvas.Drag(name, (40, 30), (60, 40));
        await Canvas.WaitForChange(name, added);

        var moved = (await Canvas.Document(name))["layers"]!.AsArray()[^1]!;
        Assert.Equal((string)layer["id"]!, (string)moved["id"]!);
        Assert.InRange((int)moved["x"]! - x0, 19, 21);
        Assert.InRange((int)moved["y"]! - y0, 9, 11);
        Assert.Equal("move", (string)(await Canvas.History(name))[^1]!["kind"]!);
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task AGenerationBox_RegeneratesOnlyInsideIt()
    {
        string name = await Canvas.CreateDocument("box", 96, 96);
        await Canvas.Open(name);
        long before = await Canvas.WaitForHead(name);
        var original = ImageFiles.DecodeRgba(await Server.Client.GetByteArrayAsync($"{CanvasPage.DocUrl(name)}/composite.png"), "before");
        await Canvas.SetUpGenerate("a blue door", strength: 0.9, steps: 2, variations: 1, seed: 4);

        await Page.Locator("button[data-tool=box]").ClickAsync();
        await Canvas.Drag(name, (20, 30), (60, 70));
        string placed = (await Page.Locator("#box").GetAttributeAsync("data-box"))!;
        var box = placed.Split(',').Select(int.Parse).ToArray();
        Assert.InRange(box[0], 19, 21);
        Assert.InRange(box[2], 39, 42);
        await Page.Locator("#run-generate").ClickAsync();
        await Canvas.WaitForJob();
        long generated = await Canvas.WaitForChange(name, before);
        await Page.Locator("#candidates [data-action=accept]").ClickAsync();
        await Canvas.WaitForChange(name, generated);

        var step = (await Canvas.History(name)).Single(s => (string)s!["kind"]! == "generate")!;
        Assert.Equal(placed, (string)step["parameters"]!["region"]!);
        var after = ImageFiles.DecodeRgba(await Server.Client.GetByteArrayAsync($"{CanvasPage.DocUrl(name)}/composite.png"), "after");
        // The box is regenerated through a mask blurred by mask_blur (4 px): the blend reaches 3 blurs beyond its edge.
        const int band = 12;
        int changedInside = 0;
        for (int y = 0; y < 96; y++)
            for (int x = 0; x < 96; x++)
            {
                bool inside = x >= box[0] && y >= box[1] && x < box[0] + box[2] && y < box[1] + box[3];
                bool near = x >= box[0] - band && y >= box[1] - band && x < box[0] + box[2] + band && y < box[1] + box[3] + band;
                bool same = original.Pixels.AsSpan((y * 96 + x) * 4, 4).SequenceEqual(after.Pixels.AsSpan((y * 96 + x) * 4, 4));
                if (inside) changedInside += same ? 0 : 1;
                else if (!near) Assert.True(same, $"pixel ({x}, {y}) beyond the box {placed} and its blur band changed");
            }
        Assert.True(changedInside > box[2] * box[3] / 2, $"only {changedInside} pixels inside the box changed");
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task Harmonize_IsOneButton_ALowStrengthPassThatBecomesTheNewBase()
    {
        string name = await Canvas.CreateDocument("harmonize");
        await Canvas.Open(name);
        long before = await Canvas.WaitForHead(name);
        await Canvas.SetUpGenerate("a pasted-together collage", steps: 3);

        await Page.Locator("#run-harmonize").ClickAsync();
        await Canvas.WaitForJob();
        await Canvas.WaitForChange(name, before);

        var step = (await Canvas.History(name))[^1]!;
        Assert.Equal(("harmonize", 0.3), ((string)step["kind"]!, (double)step["strength"]!));
        var layers = (await Canvas.Document(name))["layers"]!.AsArray();
        Assert.Equal("generated", (string)layers[^1]!["role"]!);
        Assert.True((bool)layers[^1]!["drawn"]!);
        Assert.All(layers.Take(layers.Count - 1), l => Assert.False((bool)l!["drawn"]!));
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task UndoTwiceRedoOnce_WithTheKeys_AndAClickOnAStepShowsThatState()
    {
        string name = await Canvas.CreateDocument("undo");
        await Canvas.Open(name);
        long created = await Canvas.WaitForHead(name);
        await Canvas.SetRange("[data-testid=layer-L1] [data-testid=layer-opacity]", 0.5);
        long half = await Canvas.WaitForChange(name, created);
        await Page.Locator("[data-testid=layer-L1] [data-testid=layer-visible]").ClickAsync();
        long hidden = await Canvas.WaitForChange(name, half);
        Assert.False((bool)(await Canvas.Document(name))["layers"]![0]!["visible"]!);

        await Page.Keyboard.PressAsync("Control+z");
        Assert.Equal(half, await Canvas.WaitForChange(name, hidden));
        await Page.Keyboard.PressAsync("Control+z");
        Assert.Equal(created, await Canvas.WaitForChange(name, half));
        await Page.Keyboard.PressAsync("Control+Shift+z");
        Assert.Equal(half, await Canvas.WaitForChange(name, created));

        var layer = (await Canvas.Document(name))["layers"]![0]!;
        Assert.Equal((0.5, true), ((double)layer["opacity"]!, (bool)layer["visible"]!));
        Assert.Equal(["new", "opacity", "visibility", "undo", "undo", "redo"],
            (await Canvas.History(name)).Select(s => (string)s!["kind"]!).ToArray());
        await Canvas.AssertShowsRender(name);

        // The step that hid the layer, viewed: the page shows that state's render; Esc comes back.
        await Page.Locator("[data-testid=step-3]").ClickAsync();
        await Expect(Page.Locator("body")).ToHaveAttributeAsync("data-viewing", hidden.ToString());
        await Expect(Page.Locator("#viewing")).ToBeVisibleAsync();
        var past = ImageFiles.DecodeRgba(await Server.Client.GetByteArrayAsync($"{CanvasPage.DocUrl(name)}/composite.png?state={hidden}"), "past");
        await Expect(Page.Locator("#composite")).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex($"state={hidden}$"));
        byte[] shown = Convert.FromBase64String(await Page.EvaluateAsync<string>("() => window.__redraft.compositePixels(0, 0, 64, 64)"));
        Assert.Equal(past.Pixels, shown);
        await Page.Keyboard.PressAsync("Escape");
        await Expect(Page.Locator("#viewing")).ToBeHiddenAsync();
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task AReload_ShowsTheSameState_CandidatesAndRememberedSettings()
    {
        string name = await Canvas.CreateDocument("reload");
        await Canvas.Open(name);
        long before = await Canvas.WaitForHead(name);
        await Canvas.SetUpGenerate("a harbour at night", strength: 0.65, steps: 2, variations: 2, seed: 33);
        await Page.Locator("#negative").FillAsync("blurry");
        await Page.Locator("#run-generate").ClickAsync();
        await Canvas.WaitForJob();
        long state = await Canvas.WaitForChange(name, before);

        await Page.ReloadAsync();

        Assert.Equal(state, await Canvas.WaitForHead(name));
        await Canvas.AssertShowsRender(name);
        await Expect(Page.Locator("#candidates .candidate")).ToHaveCountAsync(2);
        await Expect(Page.Locator("#prompt")).ToHaveValueAsync("a harbour at night");
        await Expect(Page.Locator("#negative")).ToHaveValueAsync("blurry");
        await Expect(Page.Locator("#strength")).ToHaveValueAsync("0.65");
        await Expect(Page.Locator("#seed-mode")).ToHaveValueAsync("fixed");
        await Expect(Page.Locator("#seed")).ToHaveValueAsync("33");
        await Expect(Page.Locator("#variations")).ToHaveValueAsync("2");
    }

    [BrowserFact]
    public async Task RerunFromHistory_SaysIdentical_CopyParametersGivesTheInfotext_UseSettingsFillsThePanel()
    {
        string name = await Canvas.CreateDocument("rerun");
        await Canvas.Open(name);
        long before = await Canvas.WaitForHead(name);
        await Canvas.SetUpGenerate("a lantern on a table", strength: 0.7, steps: 3, variations: 2, seed: 8);
        await Page.Locator("#run-generate").ClickAsync();
        await Canvas.WaitForJob();
        await Canvas.WaitForChange(name, before);
        var step = (await Canvas.History(name))[^1]!;
        var row = Page.Locator($"[data-testid=step-{(long)step["id"]!}]");

        await row.Locator("[data-action=rerun]").ClickAsync();
        await Expect(row.Locator(".rerun-report")).ToHaveAttributeAsync("data-result", "identical", new() { Timeout = 60_000 });

        await row.Locator("[data-action=copy]").ClickAsync();
        string infotext = await Server.Client.GetStringAsync($"{CanvasPage.DocUrl(name)}/history/{(long)step["id"]!}/infotext");
        await Expect(Page.Locator("#status")).ToContainTextAsync("copied");
        Assert.Equal(infotext, await Page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));
        Assert.Contains("Seed: 8", infotext);

        await Page.Locator("#prompt").FillAsync("something else");
        await Page.Locator("#steps").FillAsync("9");
        await row.Locator("[data-action=use]").ClickAsync();
        await Expect(Page.Locator("#prompt")).ToHaveValueAsync("a lantern on a table");
        await Expect(Page.Locator("#steps")).ToHaveValueAsync("3");
        await Expect(Page.Locator("#seed")).ToHaveValueAsync("8");
    }

    [BrowserFact]
    public async Task CancelMidGeneration_WithEsc_LeavesTheDocumentUnchanged()
    {
        string name = await Canvas.CreateDocument("cancel");
        await Canvas.Open(name);
        long before = await Canvas.WaitForHead(name);
        int steps = (await Canvas.History(name)).Count;
        await Canvas.SetUpGenerate("a job to cancel", steps: 400);

        await Page.Locator("#run-generate").ClickAsync();
        await Page.WaitForFunctionAsync("() => window.__redraft.events.some(e => e.type === 'progress' && e.step >= 2)", null, new() { Timeout = 60_000 });
        await Page.Keyboard.PressAsync("Escape");

        await Canvas.WaitForJob("cancelled");
        Assert.Single(await Canvas.Events("cancelled"));
        var document = await Canvas.Document(name);
        Assert.Equal(before, (long)document["state"]!);
        Assert.Equal(steps, (await Canvas.History(name)).Count);
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task TheLivePreview_UpdatesAtLeastEveryTwoSteps_OverTheAreaBeingGenerated()
    {
        string name = await Canvas.CreateDocument("preview", 96, 96);
        await Canvas.Open(name);
        await Canvas.SetUpGenerate("a preview test", steps: 8);
        await Page.Locator("button[data-tool=box]").ClickAsync();
        await Canvas.Drag(name, (10, 20), (50, 50));

        var answer = Page.WaitForResponseAsync(r => r.Url.EndsWith("/generate") && r.Request.Method == "POST");
        await Page.Locator("#run-generate").ClickAsync();
        var area = JsonNode.Parse(await (await answer).TextAsync())!["area"]!;
        await Canvas.WaitForJob();

        var previews = (await Canvas.Events("preview")).Select(e => (int)e!["step"]!).ToList();
        Assert.True(previews.Count >= 4, "previews at steps " + string.Join(", ", previews));
        Assert.True(previews[0] <= 2, "first preview at step " + previews[0]);
        Assert.All(previews.Zip(previews.Skip(1)), pair => Assert.InRange(pair.Second - pair.First, 1, 2));
        Assert.True(previews[^1] >= 6, "last preview at step " + previews[^1]);
        // Drawn over the area the generation covers (the box grown by the engine's padding), in document pixels; a
        // preview that arrives after the job ended is dropped, so at least two but not every one may have been drawn.
        Assert.InRange(await Page.EvaluateAsync<int>("() => window.__redraft.previewsDrawn ?? 0"), 2, previews.Count);
        var placed = await Page.Locator("#preview").EvaluateAsync<int[]>("c => [c.style.left, c.style.top, c.style.width, c.style.height].map(v => parseFloat(v))");
        Assert.Equal(new[] { (int)area["x"]!, (int)area["y"]!, (int)area["width"]!, (int)area["height"]! }, placed);
        Assert.NotEqual(new[] { 0, 0, 96, 96 }, placed);
    }

    [BrowserFact]
    public async Task Hotkeys_DoNotFireWhileTypingInThePromptBox()
    {
        string name = await Canvas.CreateDocument("hotkeys");
        await Canvas.Open(name);
        long before = await Canvas.WaitForHead(name);
        await Canvas.SetUpGenerate("two candidates", steps: 2, variations: 2);
        await Page.Locator("#run-generate").ClickAsync();
        await Canvas.WaitForJob();
        long state = await Canvas.WaitForChange(name, before);
        string current = (await Page.Locator("#candidates").GetAttributeAsync("data-current"))!;

        var prompt = Page.Locator("#prompt");
        // Actual pixels first (1, outside any field): a fitted canvas follows the window's layout, which may change
        // while the test types; at 1:1 only a 0 or 1 that fired in the box would change the composite's size.
        await Page.Locator("#doc-size").ClickAsync();
        await Page.Keyboard.PressAsync("1");
        var zoom = (await Page.Locator("#composite").BoundingBoxAsync())!;
        Assert.Equal(64, zoom.Width, 0.01);
        string colour = await Page.Locator("#brush-colour").InputValueAsync();
        int writes = 0;
        Page.Request += (_, r) => { if (r.Method != "GET" && r.Url.Contains("/api/v1/")) writes++; };
        await prompt.FillAsync("");
        string size = (await Page.Locator("#brush-size").InputValueAsync())!;
        await prompt.PressSequentiallyAsync("vgbeifx01c[]");
        await Expect(prompt).ToHaveValueAsync("vgbeifx01c[]");
        foreach (string key in new[] { "ArrowRight", "ArrowLeft", "ArrowRight", "Enter", "Control+z", "Escape" })
            await prompt.PressAsync(key);

        await Expect(Page.Locator("body")).ToHaveAttributeAsync("data-tool", "move");
        await Expect(Page.Locator("#candidates")).ToHaveAttributeAsync("data-current", current);
        await Expect(Page.Locator("#brush-size")).ToHaveValueAsync(size);
        await Expect(Page.Locator("#brush-colour")).ToHaveValueAsync(colour);
        await Expect(Page.Locator("#scope")).ToHaveValueAsync("canvas");
        var after = (await Page.Locator("#composite").BoundingBoxAsync())!;
        Assert.Equal(zoom.Width, after.Width, 0.01);
        Assert.Equal(state, (long)(await Canvas.Document(name))["state"]!);
        Assert.Equal("generate", (string)(await Canvas.History(name))[^1]!["kind"]!);

        // Outside the text field the same keys act: the test would see a hotkey that fired in the box. The round trip
        // of the last one also lets any request the typing would have sent arrive first.
        await Page.Locator("#doc-size").ClickAsync();
        await Page.Keyboard.PressAsync("g");
        await Expect(Page.Locator("body")).ToHaveAttributeAsync("data-tool", "box");
        await Page.Keyboard.PressAsync("ArrowRight");
        await Expect(Page.Locator("#candidates")).Not.ToHaveAttributeAsync("data-current", current);
        await Page.Keyboard.PressAsync("Enter");
        await Canvas.WaitForChange(name, state);
        Assert.Equal(1, writes);
        Assert.Equal("pick", (string)(await Canvas.History(name))[^1]!["kind"]!);
    }

    [BrowserFact]
    public async Task APngDroppedOnThePromptBox_LoadsTheSettingsItCarries()
    {
        string name = await Canvas.CreateDocument("png settings");
        await Canvas.Open(name);
        var answer = await Server.Post("/sdapi/v1/txt2img",
            """{"prompt": "a castle, (dramatic sky:1.2)", "negative_prompt": "lowres", "steps": 4, "cfg_scale": 6.5, "width": 64, "height": 64, "seed": 4242, "sampler_name": "DPM++ 2M"}""");
        byte[] png = Convert.FromBase64String((string)answer["images"]![0]!);

        await Canvas.DropFile("#prompt", png, "from-a1111.png");

        await Expect(Page.Locator("#prompt")).ToHaveValueAsync("a castle, (dramatic sky:1.2)");
        await Expect(Page.Locator("#negative")).ToHaveValueAsync("lowres");
        await Expect(Page.Locator("#steps")).ToHaveValueAsync("4");
        await Expect(Page.Locator("#cfg")).ToHaveValueAsync("6.5");
        await Expect(Page.Locator("#seed")).ToHaveValueAsync("4242");
        await Expect(Page.Locator("#seed-mode")).ToHaveValueAsync("fixed");
        await Expect(Page.Locator("#sampler")).ToHaveValueAsync("DPM++ 2M");
    }
}
