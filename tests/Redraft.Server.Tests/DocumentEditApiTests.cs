using System.Net.ServerSentEvents;
using System.Text.Json.Nodes;
using Redraft.Cli.Tests;
using Redraft.Studio;
using Redraft.Studio.Generation;

namespace Redraft.Server.Tests;

/// <summary>
/// The documents API's second set of routes over real HTTP, without a model: undo/redo availability in every view,
/// renaming a document, a layer's PNG, paint and erase uploads (with the <c>base_image</c> precondition and operation-id
/// retries), a step's infotext, and the document's event stream seeing this server's and another process's commits.
/// </summary>
public sealed class DocumentEditApiTests(DocumentServer server) : IClassFixture<DocumentServer>
{
    private const string Api = "/api/v1/documents/";

    private async Task<(int Status, JsonNode? Json)> PostForm(string path, IEnumerable<(string Name, string Value)> fields, params (string Name, byte[] Png)[] files)
    {
        using var form = new MultipartFormDataContent();
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        foreach (var (name, png) in files)
        {
            var content = new ByteArrayContent(png);
            content.Headers.ContentType = new("image/png");
            form.Add(content, name, name + ".png");
        }
        using var response = await server.Client.PostAsync(path, form);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private async Task<int> Rows(string name) => (await server.Get($"{Api}{name}/history")).Json!["steps"]!.AsArray().Count;

    [Fact]
    public async Task EveryView_SaysWhetherUndoAndRedoCanRun_AlsoAfterAnotherProcessUndid()
    {
        string name = await server.NewDocument();
        var view = (await server.Get(Api + name)).Json!;
        Assert.False((bool)view["can_undo"]!);
        Assert.False((bool)view["can_redo"]!);
        using (var store = server.Open(name)) store.AddLayer(RgbaImage.Filled(8, 8, 200, 0, 0));
        var (_, patched) = await server.Send(HttpMethod.Patch, $"{Api}{name}/layers/L1", new JsonObject { ["opacity"] = 0.5 });
        Assert.True((bool)patched!["can_undo"]!);
        Assert.False((bool)patched["can_redo"]!);
        var (_, undone) = await server.Send(HttpMethod.Post, $"{Api}{name}/undo");
        Assert.True((bool)undone!["can_undo"]!);
        Assert.True((bool)undone["can_redo"]!);
        var (_, redone) = await server.Send(HttpMethod.Post, $"{Api}{name}/redo");
        Assert.False((bool)redone!["can_redo"]!);
        // Another process (the CLI's library) undoes twice: the API's next read says so, also on a past state's view.
        using (var store = server.Open(name))
        {
            store.Undo();
            store.Undo();
        }
        var now = (await server.Get(Api + name)).Json!;
        Assert.False((bool)now["can_undo"]!);
        Assert.True((bool)now["can_redo"]!);
        Assert.True((bool)(await server.Get($"{Api}{name}?state=2")).Json!["can_redo"]!);
    }

    [Fact]
    public async Task Rename_MovesTheFolder_AnswersTheDocumentUnderItsNewName_ARetryAgain_AndRefusesBadAndTakenNames()
    {
        string name = await server.NewDocument();
        string taken = await server.NewDocument();
        using (var store = server.Open(name)) store.AddLayer(RgbaImage.Filled(8, 8, 0, 200, 0));
        string newName = "renamed " + name;
        var body = new JsonObject { ["name"] = newName, ["operation_id"] = "rename-1" };
        var (status, json) = await server.Send(HttpMethod.Patch, Api + name, body.DeepClone());
        Assert.Equal(200, status);
        Assert.Equal(newName, (string)json!["name"]!);
        Assert.Single(json["layers"]!.AsArray());
        Assert.Equal(Api + Uri.EscapeDataString(newName) + "/composite.png", (string)json["composite_url"]!);
        Assert.False(Directory.Exists(Path.Combine(server.DocumentsDir, name)));
        Assert.Equal(404, (await server.Get(Api + name)).Status);
        Assert.Equal(200, (await server.Get(Api + Uri.EscapeDataString(newName))).Status);
        var verify = RedraftProcess.Run("doc", "verify", Path.Combine(server.DocumentsDir, newName));
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        // The same action retried answers the renamed document; the id for another rename is 409.
        var (again, againJson) = await server.Send(HttpMethod.Patch, Api + name, body.DeepClone());
        Assert.Equal(200, again);
        Assert.Equal(newName, (string)againJson!["name"]!);
        Assert.Equal(409, (await server.Send(HttpMethod.Patch, Api + Uri.EscapeDataString(newName), new JsonObject { ["name"] = "third", ["operation_id"] = "rename-1" })).Status);

        Assert.Equal(409, (await server.Send(HttpMethod.Patch, Api + Uri.EscapeDataString(newName), new JsonObject { ["name"] = taken })).Status);
        foreach (string bad in new[] { "../escape", ".hidden", "a/b", "", " lead" })
            Assert.Equal(400, (await server.Send(HttpMethod.Patch, Api + Uri.EscapeDataString(newName), new JsonObject { ["name"] = bad })).Status);
        Assert.Equal(400, (await server.Send(HttpMethod.Patch, Api + Uri.EscapeDataString(newName), new JsonObject())).Status);
        Assert.Equal(404, (await server.Send(HttpMethod.Patch, Api + "missing", new JsonObject { ["name"] = "x" })).Status);
        Assert.True(Directory.Exists(Path.Combine(server.DocumentsDir, newName)));
        Assert.False(Directory.Exists(Path.Combine(server.Folder, "escape")));
    }

    [Fact]
    public async Task LayerPng_IsTheStoredImage_NowAndAtAPastState()
    {
        string name = await server.NewDocument();
        string first, second;
        using (var store = server.Open(name))
        {
            store.AddLayer(RgbaImage.Filled(8, 4, 10, 20, 30, 128));
            first = store.Document.Layers[0].Image;
            store.Paint("L1", RgbaImage.Filled(2, 2, 250, 0, 0), 1, 1);
            second = store.Document.Layers[0].Image;
        }
        Assert.NotEqual(first, second);
        using (var now = await server.Client.GetAsync($"{Api}{name}/layers/L1.png"))
        {
            Assert.Equal(200, (int)now.StatusCode);
            Assert.Equal("image/png", now.Content.Headers.ContentType!.MediaType);
            using var store = server.Open(name);
            Assert.Equal(File.ReadAllBytes(store.ImagePath(second)), await now.Content.ReadAsByteArrayAsync());
            Assert.Equal(File.ReadAllBytes(store.ImagePath(first)), await server.Client.GetByteArrayAsync($"{Api}{name}/layers/L1.png?state=2"));
        }
        Assert.Equal(404, (int)(await server.Client.GetAsync($"{Api}{name}/layers/L9.png")).StatusCode);
        Assert.Equal(404, (int)(await server.Client.GetAsync($"{Api}{name}/layers/L1.png?state=1")).StatusCode); // no L1 yet
        Assert.Equal(404, (int)(await server.Client.GetAsync($"{Api}{name}/layers/L1.png?state=99")).StatusCode);
    }

    [Fact]
    public async Task AddLayer_Empty_IsATransparentCanvasSizedUserLayerOnTop_InOneStep_AndAnUploadTakesAVisibilityMask()
    {
        string name = await server.NewDocument(64, 48);
        using (var store = server.Open(name)) store.AddLayer(RgbaImage.Filled(8, 8, 200, 0, 0));
        int rows = await Rows(name);
        var (status, view) = await server.Send(HttpMethod.Post, $"{Api}{name}/layers", new JsonObject { ["empty"] = true, ["name"] = "ink", ["operation_id"] = "empty-1" });
        Assert.True(status == 200, view?.ToJsonString());
        Assert.Equal("add-layer", (string)view!["entry"]!["kind"]!);
        var top = view["layers"]!.AsArray()[^1]!;
        Assert.Equal(("L2", "ink", "user", 64, 48, 0, 0), ((string)top["id"]!, (string)top["name"]!, (string)top["role"]!, (int)top["width"]!, (int)top["height"]!, (int)top["x"]!, (int)top["y"]!));
        using (var store = server.Open(name))
            Assert.All(store.GetImage((string)top["image"]!).Pixels, b => Assert.Equal(0, b)); // every pixel transparent
        // A retry records nothing; without empty: true the JSON body is refused in one line.
        Assert.Equal((string)view["entry"]!["id"]!.ToString(), (await server.Send(HttpMethod.Post, $"{Api}{name}/layers", new JsonObject { ["empty"] = true, ["operation_id"] = "empty-1" })).Json!["entry"]!["id"]!.ToString());
        var (refused, error) = await server.Send(HttpMethod.Post, $"{Api}{name}/layers", new JsonObject { ["name"] = "ink" });
        Assert.Equal(400, refused);
        Assert.Contains("empty", (string)error!["detail"]!);
        Assert.Equal(rows + 1, await Rows(name));

        // An upload with a mask (white = keep): the left half of the image shows, the right half does not.
        var mask = new RgbaImage(8, 8, new byte[8 * 8 * 4]);
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 4; x++) mask.Pixels.AsSpan(((y * 8) + x) * 4, 4).Fill(255);
        var (added, withMask) = await PostForm($"{Api}{name}/layers", [("x", "20"), ("y", "20")],
            ("image", ImageFiles.EncodePng(RgbaImage.Filled(8, 8, 0, 0, 250))), ("mask", ImageFiles.EncodePng(mask)));
        Assert.True(added == 200, withMask?.ToJsonString());
        Assert.NotNull((string?)withMask!["layers"]!.AsArray()[^1]!["mask"]);
        using (var store = server.Open(name))
        {
            var composite = store.Render();
            Assert.Equal((0, 0, 250), composite.GetPixel(21, 24));
            Assert.Equal((255, 255, 255), composite.GetPixel(26, 24));
        }
        // A mask of another size is refused in one line.
        var (wrong, wrongJson) = await PostForm($"{Api}{name}/layers", [], ("image", ImageFiles.EncodePng(RgbaImage.Filled(8, 8, 0, 0, 250))), ("mask", ImageFiles.EncodePng(RgbaImage.Filled(4, 4, 255, 255, 255))));
        Assert.Equal(422, wrong);
        Assert.DoesNotContain('\n', (string)wrongJson!["detail"]!);
    }

    [Fact]
    public async Task Erase_InLayerSpace_WithAMaskOfAnotherSizeThanTheLayer_Is422InOneLineNamingBothSizes()
    {
        string name = await server.NewDocument(64, 48);
        using (var store = server.Open(name)) store.AddLayer(RgbaImage.Filled(32, 16, 200, 0, 0));
        int rows = await Rows(name);
        var (status, error) = await PostForm($"{Api}{name}/layers/L1/erase", [("space", "layer")], ("mask", ImageFiles.EncodePng(RgbaImage.Filled(8, 8, 255, 255, 255))));
        Assert.Equal(422, status);
        string detail = (string)error!["detail"]!;
        Assert.DoesNotContain('\n', detail);
        Assert.Contains("8x8", detail);
        Assert.Contains("32x16", detail);
        Assert.Equal(rows, await Rows(name));
        // The layer's size: erased.
        var stroke = RgbaImage.Filled(32, 16, 0, 0, 0);
        stroke.Pixels.AsSpan(0, 4).Fill(255);
        Assert.Equal(200, (await PostForm($"{Api}{name}/layers/L1/erase", [("space", "layer")], ("mask", ImageFiles.EncodePng(stroke)))).Status);
    }

    [Fact]
    public async Task Paint_ReplacesTheRectangle_OnceperOperationId_AndAStaleBaseImageIs409()
    {
        string name = await server.NewDocument();
        string before;
        using (var store = server.Open(name))
        {
            store.AddLayer(RgbaImage.Filled(16, 16, 0, 0, 255));
            before = store.Document.Layers[0].Image;
        }
        var patch = ImageFiles.EncodePng(RgbaImage.Filled(4, 2, 255, 0, 0, 100));
        (string, string)[] fields = [("x", "3"), ("y", "5"), ("base_image", before), ("operation_id", "stroke-1")];
        var (status, json) = await PostForm($"{Api}{name}/layers/L1/paint", fields, ("patch", patch));
        Assert.True(status == 200, json?.ToJsonString());
        Assert.Equal("paint", (string)json!["entry"]!["kind"]!);
        string after = (string)json["layers"]![0]!["image"]!;
        using (var store = server.Open(name))
        {
            var image = store.GetImage(after);
            int at = (6 * 16 + 4) * 4; // inside the patch: straight RGBA as sent
            Assert.Equal(new byte[] { 255, 0, 0, 100 }, image.Pixels[at..(at + 4)]);
            Assert.Equal(new byte[] { 0, 0, 255, 255 }, image.Pixels[0..4]);
        }
        int rows = await Rows(name);
        // The retry (same id, now-stale base image) answers the first step and paints nothing.
        var (retry, retryJson) = await PostForm($"{Api}{name}/layers/L1/paint", fields, ("patch", patch));
        Assert.Equal(200, retry);
        Assert.Equal((long)json["entry"]!["id"]!, (long)retryJson!["entry"]!["id"]!);
        Assert.Equal(rows, await Rows(name));
        // A new stroke drawn over the old image: 409 Conflict, nothing recorded.
        var (stale, staleJson) = await PostForm($"{Api}{name}/layers/L1/paint", [("x", "0"), ("y", "0"), ("base_image", before), ("operation_id", "stroke-2")], ("patch", patch));
        Assert.Equal(409, stale);
        Assert.Equal("Conflict", (string)staleJson!["error"]!);
        Assert.Equal(rows, await Rows(name));
        // Outside the layer: the library's 422; no patch or no x: 400; unknown layer: 404.
        Assert.Equal(422, (await PostForm($"{Api}{name}/layers/L1/paint", [("x", "14"), ("y", "0")], ("patch", patch))).Status);
        Assert.Equal(400, (await PostForm($"{Api}{name}/layers/L1/paint", [("x", "1"), ("y", "1")])).Status);
        Assert.Equal(400, (await PostForm($"{Api}{name}/layers/L1/paint", [("y", "1")], ("patch", patch))).Status);
        Assert.Equal(404, (await PostForm($"{Api}{name}/layers/L7/paint", [("x", "0"), ("y", "0")], ("patch", patch))).Status);
        Assert.Equal(rows, await Rows(name));
    }

    [Fact]
    public async Task Erase_TakesAlphaAwayWhereTheMaskIsWhite_InCanvasOrLayerSpace_OncePerOperationId()
    {
        string name = await server.NewDocument(32, 32);
        using (var store = server.Open(name)) store.AddLayer(RgbaImage.Filled(16, 16, 0, 0, 255), new LayerOptions { X = 8, Y = 8 });
        // Canvas space: white over canvas 8..11 (the layer's first 4 columns and rows).
        var canvasMask = new MaskImage(32, 32, new byte[32 * 32]);
        for (int y = 8; y < 12; y++) Array.Fill(canvasMask.Pixels, (byte)255, y * 32 + 8, 4);
        var (status, json) = await PostForm($"{Api}{name}/layers/L1/erase", [("operation_id", "erase-1")], ("mask", ImageFiles.EncodePng(canvasMask)));
        Assert.True(status == 200, json?.ToJsonString());
        Assert.Equal("erase", (string)json!["entry"]!["kind"]!);
        using (var store = server.Open(name))
        {
            var image = store.GetImage((string)json["layers"]![0]!["image"]!);
            Assert.Equal(0, image.Pixels[3]);                  // layer 0,0 = canvas 8,8: erased
            Assert.Equal(255, image.Pixels[(5 * 16 + 5) * 4 + 3]); // layer 5,5: kept
        }
        int rows = await Rows(name);
        Assert.Equal(200, (await PostForm($"{Api}{name}/layers/L1/erase", [("operation_id", "erase-1")], ("mask", ImageFiles.EncodePng(canvasMask)))).Status);
        Assert.Equal(rows, await Rows(name));
        // Layer space: a 16x16 mask; a canvas-sized one is refused in layer space (422).
        var layerMask = new MaskImage(16, 16, new byte[16 * 16]);
        layerMask.Pixels[15 * 16 + 15] = 255;
        var (layerStatus, layerJson) = await PostForm($"{Api}{name}/layers/L1/erase", [("space", "layer")], ("mask", ImageFiles.EncodePng(layerMask)));
        Assert.Equal(200, layerStatus);
        using (var store = server.Open(name))
            Assert.Equal(0, store.GetImage((string)layerJson!["layers"]![0]!["image"]!).Pixels[(15 * 16 + 15) * 4 + 3]);
        Assert.Equal(422, (await PostForm($"{Api}{name}/layers/L1/erase", [("space", "layer")], ("mask", ImageFiles.EncodePng(canvasMask)))).Status);
        Assert.Equal(400, (await PostForm($"{Api}{name}/layers/L1/erase", [("space", "sideways")], ("mask", ImageFiles.EncodePng(canvasMask)))).Status);
        Assert.Equal(400, (await PostForm($"{Api}{name}/layers/L1/erase", [])).Status);
    }

    [Fact]
    public async Task Infotext_IsTheFirstOutputsParametersChunk_404ForAnUnknownStep_422ForAnEdit()
    {
        string name = await server.NewDocument();
        const string infotext = "a red roof\nNegative prompt: blurry\nSteps: 2, Sampler: Euler a, CFG scale: 7.5, Seed: 7, Size: 64x48, Denoising strength: 0.75";
        long step;
        using (var store = server.Open(name))
        {
            // A generate step as the studio records one: its output PNGs carry the infotext in their parameters chunk.
            string first = store.StorePng(ImageFiles.EncodePng(RgbImage.Filled(64, 48, 1, 2, 3), new Dictionary<string, string> { ["parameters"] = infotext }));
            string second = store.StorePng(ImageFiles.EncodePng(RgbImage.Filled(64, 48, 4, 5, 6), new Dictionary<string, string> { ["parameters"] = infotext.Replace("Seed: 7", "Seed: 8") }));
            step = store.Apply(c => (c.Current, new OperationRecord { Kind = "generate", Outputs = [first, second] })).Id;
        }
        using (var response = await server.Client.GetAsync($"{Api}{name}/history/{step}/infotext"))
        {
            Assert.Equal(200, (int)response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
            Assert.Equal(infotext, await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(404, (int)(await server.Client.GetAsync($"{Api}{name}/history/99/infotext")).StatusCode);
        Assert.Equal(422, (int)(await server.Client.GetAsync($"{Api}{name}/history/1/infotext")).StatusCode); // the creation
    }

    [Fact]
    public async Task Events_StartWithASnapshot_ThenSayChanged_ForAnotherProcesssCommit_AndForAnApiEdit()
    {
        string name = await server.NewDocument();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await server.Client.GetAsync($"{Api}{name}/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
        await using var events = SseParser.Create(stream).EnumerateAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);

        async Task<(string Type, JsonObject Data)> Next()
        {
            while (true)
            {
                Assert.True(await events.MoveNextAsync());
                if (events.Current.EventType != "ping") return (events.Current.EventType, JsonNode.Parse(events.Current.Data)!.AsObject());
            }
        }

        var (type, snapshot) = await Next();
        Assert.Equal("snapshot", type);
        Assert.Equal(1, (long)snapshot["state"]!);
        Assert.False((bool)snapshot["can_undo"]!);

        // The CLI adds a layer (another process): seen within 2 s.
        string image = Path.Combine(server.Folder, $"{name}-layer.png");
        ImageFiles.SavePng(image, RgbaImage.Filled(8, 8, 9, 9, 9));
        var cli = RedraftProcess.Run("doc", "add-layer", Path.Combine(server.DocumentsDir, name), image);
        Assert.True(cli.ExitCode == 0, cli.Stderr);
        var clock = System.Diagnostics.Stopwatch.StartNew(); // the commit is done when the process has ended
        var (changedType, changed) = await Next();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"changed came {clock.Elapsed} after the CLI's commit");
        Assert.Equal("changed", changedType);
        Assert.Equal(2, (long)changed["state"]!);
        Assert.Equal("add-layer", (string)changed["kind"]!);
        Assert.Equal(2, (long)changed["entry_id"]!);
        Assert.True((bool)changed["can_undo"]!);

        // This server's own edit and undo.
        await server.Send(HttpMethod.Patch, $"{Api}{name}/layers/L1", new JsonObject { ["visible"] = false });
        var (_, hidden) = await Next();
        Assert.Equal("visibility", (string)hidden["kind"]!);
        await server.Send(HttpMethod.Post, $"{Api}{name}/undo");
        var (_, undone) = await Next();
        Assert.Equal("undo", (string)undone["kind"]!);
        Assert.Equal(2, (long)undone["state"]!);
        Assert.True((bool)undone["can_redo"]!);
        Assert.Equal(404, (int)(await server.Client.GetAsync($"{Api}missing/events")).StatusCode);
    }
}
