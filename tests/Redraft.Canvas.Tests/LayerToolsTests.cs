using System.Text;
using Redraft.Imaging;
using static Microsoft.Playwright.Assertions;

namespace Redraft.Canvas.Tests;

/// <summary>
/// The layers toolbar and handles (issue 15): duplicate, flip, merge down, scale with the frame's corners, paste from
/// the clipboard, and export of the composite (with its provenance chunk) and of a layer. Each edit is one history
/// step, read back through the API.
/// </summary>
[Collection(CanvasCollection.Name)]
public sealed class LayerToolsTests(CanvasServerFixture server, BrowserFixture browser) : CanvasTestBase(server, browser)
{
    private async Task AddLayer(string name, int x, int y, int width, int height, int seed)
    {
        using var form = new MultipartFormDataContent();
        var image = new ByteArrayContent(CanvasPage.Sketch(width, height, seed));
        image.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/png");
        form.Add(image, "image", "patch.png");
        form.Add(new StringContent(x.ToString()), "x");
        form.Add(new StringContent(y.ToString()), "y");
        await Server.Url();
        using var response = await Server.Client.PostAsync(CanvasPage.DocUrl(name) + "/layers", form);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<RgbaImage> LayerImage(string name, string id) =>
        ImageFiles.DecodeRgba(await Server.Client.GetByteArrayAsync($"{CanvasPage.DocUrl(name)}/layers/{id}.png"), id);

    private async Task<string[]> Kinds(string name, int skip) => (await Canvas.History(name)).Skip(skip).Select(s => (string)s!["kind"]!).ToArray();

    [BrowserFact]
    public async Task DuplicateFlipAndMergeDown_AreOneStepEach_AndUndoable()
    {
        string name = await Canvas.CreateDocument("layer tools", 64, 64, seed: 41);
        await AddLayer(name, 8, 8, 24, 16, seed: 42);
        await Canvas.Open(name);
        long state = await Canvas.WaitForHead(name);
        await Page.Locator("[data-testid=layer-L2] .name").ClickAsync();

        await Page.Locator("[data-layer-action=duplicate]").ClickAsync();
        state = await Canvas.WaitForChange(name, state);
        await Expect(Page.Locator("[data-testid=layer-L3]")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("selected"));
        await Page.Locator("[data-layer-action=flip-h]").ClickAsync();
        state = await Canvas.WaitForChange(name, state);

        var original = await LayerImage(name, "L2");
        var flipped = await LayerImage(name, "L3");
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 24; x++)
                Assert.Equal(original.Pixels.AsSpan((y * 24 + x) * 4, 4).ToArray(), flipped.Pixels.AsSpan((y * 24 + 23 - x) * 4, 4).ToArray());

        await Page.Locator("[data-layer-action=merge-down]").ClickAsync();
        state = await Canvas.WaitForChange(name, state);
        Assert.Equal(["duplicate", "flip", "merge-down"], await Kinds(name, 2));
        Assert.Equal(2, (await Canvas.Document(name))["layers"]!.AsArray().Count);
        await Canvas.AssertShowsRender(name);

        await Page.Locator("#doc-size").ClickAsync();
        await Page.Keyboard.PressAsync("Control+z");
        await Canvas.WaitForChange(name, state);
        Assert.Equal(3, (await Canvas.Document(name))["layers"]!.AsArray().Count);
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task DraggingACornerOfTheSelectedLayer_ScalesItAboutTheOppositeCorner_InOneMoveStep()
    {
        string name = await Canvas.CreateDocument("scale", 96, 96, seed: 43);
        await AddLayer(name, 10, 12, 20, 20, seed: 44);
        await Canvas.Open(name);
        long state = await Canvas.WaitForHead(name);
        await Page.Locator("[data-testid=layer-L2] .name").ClickAsync();
        await Expect(Page.Locator("#frame")).ToBeVisibleAsync();

        var corner = (await Page.Locator("#frame .se").BoundingBoxAsync())!;
        var (tx, ty) = await Canvas.ScreenPoint(name, 49.5, 51.5);
        await Page.Mouse.MoveAsync((float)(corner.X + corner.Width / 2), (float)(corner.Y + corner.Height / 2));
        await Page.Mouse.DownAsync();
        await Page.Mouse.MoveAsync(tx, ty, new() { Steps = 10 });
        await Page.Mouse.UpAsync();
        await Canvas.WaitForChange(name, state);

        var layer = (await Canvas.Document(name))["layers"]![1]!;
        Assert.Equal((10, 12), ((int)layer["x"]!, (int)layer["y"]!));
        Assert.InRange((double)layer["scale"]!, 1.9, 2.1);
        Assert.Equal(["move"], await Kinds(name, 2));
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task AnImageOnTheClipboard_IsPastedAsALayer()
    {
        string name = await Canvas.CreateDocument("paste", 64, 64, seed: 45);
        await Canvas.Open(name);
        long state = await Canvas.WaitForHead(name);
        byte[] png = CanvasPage.Sketch(16, 12, seed: 46);
        await Page.EvaluateAsync("""
            async data => {
              const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
              await navigator.clipboard.write([new ClipboardItem({ "image/png": new Blob([bytes], { type: "image/png" }) })]);
            }
            """, Convert.ToBase64String(png));

        await Page.Locator("[data-layer-action=paste]").ClickAsync();
        await Canvas.WaitForChange(name, state);

        var layer = (await Canvas.Document(name))["layers"]!.AsArray()[^1]!;
        Assert.Equal((16, 12), ((int)layer["width"]!, (int)layer["height"]!));
        // Centred on the canvas.
        Assert.Equal((24, 26), ((int)layer["x"]!, (int)layer["y"]!));
        Assert.Equal(ImageFiles.DecodeRgba(png, "pasted").Pixels, (await LayerImage(name, (string)layer["id"]!)).Pixels);
    }

    [BrowserFact]
    public async Task Export_DownloadsTheCompositeWithItsProvenanceChunk_AndALayersImage()
    {
        string name = await Canvas.CreateDocument("export", 64, 64, seed: 47);
        await Canvas.Open(name);
        long state = await Canvas.WaitForHead(name);

        var download = await Page.RunAndWaitForDownloadAsync(() => Page.Locator("#export").ClickAsync());
        byte[] composite = await File.ReadAllBytesAsync((await download.PathAsync())!);
        Assert.Equal(name + ".png", download.SuggestedFilename);
        Assert.Equal(await Server.Client.GetByteArrayAsync($"{CanvasPage.DocUrl(name)}/composite.png?state={state}"), composite);
        string text = Encoding.Latin1.GetString(composite);
        Assert.Contains("tEXtredraft", text);
        Assert.Contains((string)(await Canvas.Document(name))["document_id"]!, text);

        await Page.Locator("[data-testid=layer-L1] .name").ClickAsync();
        var layerDownload = await Page.RunAndWaitForDownloadAsync(() => Page.Locator("[data-layer-action=download]").ClickAsync());
        Assert.Equal(await Server.Client.GetByteArrayAsync($"{CanvasPage.DocUrl(name)}/layers/L1.png"), await File.ReadAllBytesAsync((await layerDownload.PathAsync())!));
    }
}
