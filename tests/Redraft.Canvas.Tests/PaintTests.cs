using Redraft.Imaging;
using static Microsoft.Playwright.Assertions;

namespace Redraft.Canvas.Tests;

/// <summary>
/// Painting in the page (issue 15): strokes made with the mouse become the studio's paint and erase operations on the
/// layer; the layer's pixels are read back through the API.
/// </summary>
[Collection(CanvasCollection.Name)]
public sealed class PaintTests(CanvasServerFixture server, BrowserFixture browser) : CanvasTestBase(server, browser)
{
    private async Task<RgbaImage> Layer(string name, string id) =>
        ImageFiles.DecodeRgba(await Server.Client.GetByteArrayAsync($"{CanvasPage.DocUrl(name)}/layers/{id}.png"), id);

    private static byte[] Pixel(RgbaImage image, int x, int y) => image.Pixels.AsSpan((y * image.Width + x) * 4, 4).ToArray();

    private async Task SetBrush(string colour, int size, double opacity = 1, double hardness = 1)
    {
        await Page.Locator("#brush-colour").FillAsync(colour);
        await Canvas.SetRange("#brush-size", size);
        await Canvas.SetRange("#brush-opacity", opacity);
        await Canvas.SetRange("#brush-hardness", hardness);
    }

    [BrowserFact]
    public async Task ABrushStroke_PaintsTheLayerWhereDrawnOnly_AndSurvivesAReload()
    {
        string name = await Canvas.CreateDocument("brush", 64, 64, seed: 21);
        await Canvas.Open(name);
        var before = await Layer(name, "L1");
        long state = await Canvas.WaitForHead(name);

        await Page.Locator("#doc-size").ClickAsync();
        await Page.Keyboard.PressAsync("b");
        await Expect(Page.Locator("body")).ToHaveAttributeAsync("data-tool", "brush");
        await SetBrush("#1e90ff", size: 6);
        await Canvas.Drag(name, (8, 40), (56, 40));
        await Canvas.WaitForChange(name, state);

        var after = await Layer(name, "L1");
        Assert.Equal("paint", (string)(await Canvas.History(name))[^1]!["kind"]!);
        // Along the stroke: the colour exactly (hard brush, full opacity); far from it: the bytes of before.
        foreach (int x in new[] { 12, 30, 50 }) Assert.Equal(new byte[] { 0x1e, 0x90, 0xff, 255 }, Pixel(after, x, 40));
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
                if (Math.Abs(y - 40) > 5 || x < 2 || x > 61) Assert.Equal(Pixel(before, x, y), Pixel(after, x, y));
        await Canvas.AssertShowsRender(name);

        await Page.ReloadAsync();
        await Canvas.WaitForHead(name);
        byte[] shown = Convert.FromBase64String(await Page.EvaluateAsync<string>("() => window.__redraft.compositePixels(30, 40, 1, 1)"));
        Assert.Equal(new byte[] { 0x1e, 0x90, 0xff, 255 }, shown);
        await Expect(Page.Locator("#brush-colour")).ToHaveValueAsync("#1e90ff");
    }

    [BrowserFact]
    public async Task AFirstStrokeOnADocumentWithoutLayers_PaintsOnANewTransparentLayer_AndPlusAddsAnother()
    {
        string name = await Canvas.CreateBlank("first stroke", 48, 48);
        await Canvas.Open(name);
        long state = await Canvas.WaitForHead(name);

        await Page.Locator("button[data-tool=brush]").ClickAsync();
        await SetBrush("#c81e1e", size: 4);
        await Canvas.Drag(name, (6, 24), (42, 24));
        await Expect(Page.Locator("#layers .layer")).ToHaveCountAsync(1);
        await Canvas.WaitForChange(name, state);
        await Page.WaitForFunctionAsync("() => document.querySelector('#history [data-kind=paint]') !== null");

        var layer = (await Canvas.Document(name))["layers"]![0]!;
        Assert.Equal(("user", 48, 48), ((string)layer["role"]!, (int)layer["width"]!, (int)layer["height"]!));
        var pixels = await Layer(name, (string)layer["id"]!);
        Assert.Equal(new byte[] { 0xc8, 0x1e, 0x1e, 255 }, Pixel(pixels, 24, 24));
        Assert.Equal(0, Pixel(pixels, 24, 5)[3]);
        Assert.Equal(["new", "add-layer", "paint"], (await Canvas.History(name)).Select(s => (string)s!["kind"]!).ToArray());
        await Canvas.AssertShowsRender(name);

        long painted = await Canvas.WaitForHead(name);
        await Page.Locator("[data-layer-action=add]").ClickAsync();
        await Canvas.WaitForChange(name, painted);
        var added = (await Canvas.Document(name))["layers"]!.AsArray()[^1]!;
        Assert.All((await Layer(name, (string)added["id"]!)).Pixels.Where((_, i) => i % 4 == 3), a => Assert.Equal(0, a));
        await Expect(Page.Locator($"[data-testid=layer-{(string)added["id"]!}]")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("selected"));
    }

    [BrowserFact]
    public async Task TheEraser_RemovesPixels_AndUndoRestoresThem()
    {
        string name = await Canvas.CreateDocument("eraser", 64, 64, seed: 22);
        await Canvas.Open(name);
        var before = await Layer(name, "L1");
        string image = (string)(await Canvas.Document(name))["layers"]![0]!["image"]!;
        long state = await Canvas.WaitForHead(name);

        await Page.Locator("button[data-tool=eraser]").ClickAsync();
        await SetBrush("#000000", size: 10);
        await Canvas.Drag(name, (32, 6), (32, 58));
        long erased = await Canvas.WaitForChange(name, state);

        var after = await Layer(name, "L1");
        Assert.Equal("erase", (string)(await Canvas.History(name))[^1]!["kind"]!);
        foreach (int y in new[] { 10, 32, 54 }) Assert.Equal(0, Pixel(after, 32, y)[3]);
        Assert.Equal(Pixel(before, 5, 32), Pixel(after, 5, 32));
        await Canvas.AssertShowsRender(name);

        await Page.Locator("#doc-size").ClickAsync();
        await Page.Keyboard.PressAsync("Control+z");
        await Canvas.WaitForChange(name, erased);
        Assert.Equal(image, (string)(await Canvas.Document(name))["layers"]![0]!["image"]!);
        Assert.Equal(before.Pixels, (await Layer(name, "L1")).Pixels);
        await Canvas.AssertShowsRender(name);
    }

    [BrowserFact]
    public async Task TheEyedropperPicksACanvasColour_TheFillPaintsTheContiguousArea_XSwapsColours()
    {
        string name = await Canvas.CreateDocument("fill", 64, 64, seed: 23);
        await Canvas.Open(name);
        var before = await Layer(name, "L1");
        long state = await Canvas.WaitForHead(name);
        // A pixel of one of the sketch's colour blocks, and one of the white around them.
        var (bx, by) = Enumerable.Range(0, 64 * 64).Select(i => (i % 64, i / 64)).First(p => Pixel(before, p.Item1, p.Item2)[0] != 255 || Pixel(before, p.Item1, p.Item2)[1] != 255);
        byte[] block = Pixel(before, bx, by);

        await Page.Locator("#doc-size").ClickAsync();
        await Page.Keyboard.PressAsync("i");
        var (px, py) = await Canvas.ScreenPoint(name, bx, by);
        await Page.Mouse.ClickAsync(px, py);
        string picked = $"#{block[0]:x2}{block[1]:x2}{block[2]:x2}";
        await Expect(Page.Locator("#brush-colour")).ToHaveValueAsync(picked);
        await Expect(Page.Locator($"#recent-colours [data-colour='{picked}']")).ToHaveCountAsync(1);

        await Page.Keyboard.PressAsync("x");
        await Expect(Page.Locator("#brush-colour")).ToHaveValueAsync("#ffffff");
        await Page.Keyboard.PressAsync("x");
        await Expect(Page.Locator("#brush-colour")).ToHaveValueAsync(picked);

        // Fill the white area (the sketch's corner (63, 63) is white unless a block reaches it; find a white pixel).
        var (wx, wy) = Enumerable.Range(0, 64 * 64).Select(i => (63 - i % 64, 63 - i / 64)).First(p => Pixel(before, p.Item1, p.Item2).SequenceEqual(new byte[] { 255, 255, 255, 255 }));
        await Page.Keyboard.PressAsync("f");
        (px, py) = await Canvas.ScreenPoint(name, wx, wy);
        await Page.Mouse.ClickAsync(px, py);
        await Canvas.WaitForChange(name, state);

        var after = await Layer(name, "L1");
        Assert.Equal(block, Pixel(after, wx, wy));
        // The block itself is not white, so the fill stopped at its edge.
        Assert.Equal(block, Pixel(after, bx, by));
        int changed = Enumerable.Range(0, 64 * 64).Count(i => !Pixel(before, i % 64, i / 64).SequenceEqual(Pixel(after, i % 64, i / 64)));
        int white = Enumerable.Range(0, 64 * 64).Count(i => Pixel(before, i % 64, i / 64).SequenceEqual(new byte[] { 255, 255, 255, 255 }));
        Assert.InRange(changed, 1, white);
        await Canvas.AssertShowsRender(name);
    }
}
