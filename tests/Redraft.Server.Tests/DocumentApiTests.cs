using System.Text.Json.Nodes;
using Redraft.Cli.Tests;
using Redraft.Studio;

namespace Redraft.Server.Tests;

/// <summary>
/// The documents API over real HTTP: each route's status and shape, edits as one history step each, operation-id
/// retries that record nothing, the files on disk being the documents the CLI opens (<c>doc verify</c>,
/// <c>doc layers --json</c>, <c>doc render</c> byte for byte), and names that try to leave the documents folder.
/// </summary>
public sealed class DocumentApiTests(DocumentServer server) : IClassFixture<DocumentServer>
{
    private const string Api = "/api/v1/documents/";

    [Fact]
    public async Task List_ShowsTheDocuments_NewestChangeFirst_WithoutHiddenOrForeignFolders()
    {
        string older = await server.NewDocument();
        string newer = await server.NewDocument(32, 32);
        Directory.CreateDirectory(Path.Combine(server.DocumentsDir, "not-a-document"));
        var (status, json) = await server.Get("/api/v1/documents");
        Assert.Equal(200, status);
        var names = json!["documents"]!.AsArray().Select(d => (string)d!["name"]!).ToList();
        Assert.Contains(older, names);
        Assert.DoesNotContain("not-a-document", names);
        Assert.True(names.IndexOf(newer) < names.IndexOf(older), string.Join(",", names));
        var item = json["documents"]!.AsArray().First(d => (string)d!["name"]! == newer)!;
        Assert.Equal(32, (int)item["width"]!);
        Assert.Equal(1, (long)item["state"]!);
        Assert.Equal(32, ((string)item["document_id"]!).Length);
        Assert.Equal(Api + newer, (string)item["url"]!);
    }

    [Fact]
    public async Task Create_Answers201WithTheDocument_WhichTheCliVerifiesAndListsTheSame()
    {
        string name = "made by api";
        var (status, json) = await server.Send(HttpMethod.Post, "/api/v1/documents", new JsonObject { ["name"] = name, ["width"] = 80, ["height"] = 40 });
        Assert.Equal(201, status);
        Assert.Equal(name, (string)json!["name"]!);
        Assert.Equal(80, (int)json["width"]!);
        Assert.Equal(40, (int)json["height"]!);
        Assert.Equal("new", (string)json["entry"]!["kind"]!);
        Assert.Empty(json["layers"]!.AsArray());
        string folder = Path.Combine(server.DocumentsDir, name);
        using (var store = server.Open(name)) AddLayers(store);
        await server.Send(HttpMethod.Patch, Api + Uri.EscapeDataString(name) + "/layers/L2", new JsonObject { ["opacity"] = 0.5 });

        var verify = RedraftProcess.Run("doc", "verify", folder);
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        var cli = RedraftProcess.Run("doc", "layers", folder, "--json");
        Assert.True(cli.ExitCode == 0, cli.Stderr);
        var cliJson = JsonNode.Parse(cli.Stdout)!;
        var api = (await server.Get(Api + Uri.EscapeDataString(name))).Json!;
        Assert.Equal((long)cliJson["state"]!, (long)api["state"]!);
        var cliLayers = cliJson["layers"]!.AsArray();
        var apiLayers = api["layers"]!.AsArray();
        Assert.Equal(2, apiLayers.Count);
        Assert.Equal(cliLayers.Count, apiLayers.Count);
        for (int i = 0; i < cliLayers.Count; i++)
            foreach (var (key, value) in cliLayers[i]!.AsObject())
                Assert.True(JsonNode.DeepEquals(value, apiLayers[i]![key]), $"layer {i} {key}: cli {value?.ToJsonString()}, api {apiLayers[i]![key]?.ToJsonString()}");
    }

    [Fact]
    public async Task Create_RefusesAnExistingName409_ABadName400_AndABadSize422()
    {
        string name = await server.NewDocument();
        Assert.Equal(409, (await server.Send(HttpMethod.Post, "/api/v1/documents", new JsonObject { ["name"] = name, ["width"] = 8, ["height"] = 8 })).Status);
        foreach (string bad in new[] { "../escape", ".hidden", "a/b", "", " lead" })
            Assert.Equal(400, (await server.Send(HttpMethod.Post, "/api/v1/documents", new JsonObject { ["name"] = bad, ["width"] = 8, ["height"] = 8 })).Status);
        Assert.False(Directory.Exists(Path.Combine(server.Folder, "escape")));
        var (status, json) = await server.Send(HttpMethod.Post, "/api/v1/documents", new JsonObject { ["name"] = "too-big", ["width"] = 0, ["height"] = 8 });
        Assert.Equal(422, status);
        Assert.Contains("out of range", (string)json!["detail"]!);
        Assert.Equal(400, (await server.Send(HttpMethod.Post, "/api/v1/documents", new JsonObject { ["name"] = "typed", ["width"] = "wide", ["height"] = 8 })).Status);
        // Over 4 x --max-pixels (the default 2048x2048): refused before anything is written.
        var (huge, hugeJson) = await server.Send(HttpMethod.Post, "/api/v1/documents", new JsonObject { ["name"] = "huge", ["width"] = 8192, ["height"] = 4096 });
        Assert.Equal(422, huge);
        Assert.Contains("limit", (string)hugeJson!["detail"]!);
        Assert.False(Directory.Exists(Path.Combine(server.DocumentsDir, "huge")));
    }

    [Fact]
    public async Task CreateFromAnUploadedImage_MakesTheDocumentDocNewFromMakes()
    {
        string sketch = Path.Combine(server.Folder, "sketch.png");
        File.WriteAllBytes(sketch, ImageFiles.EncodePng(RgbaImage.Filled(40, 30, 10, 120, 200)));
        foreach (var size in new[] { (string?)null, "80x60" })
        {
            string name = "sketch-" + Guid.NewGuid().ToString("N")[..8];
            using var form = new MultipartFormDataContent
            {
                { new StringContent(name), "name" },
                { new ByteArrayContent(File.ReadAllBytes(sketch)), "image", "sketch.png" },
            };
            if (size is not null)
            {
                form.Add(new StringContent("80"), "width");
                form.Add(new StringContent("60"), "height");
            }
            using var response = await server.Client.PostAsync("/api/v1/documents", form);
            string text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == 201, text);
            var api = JsonNode.Parse(text)!;
            string cliFolder = Path.Combine(server.Folder, name + "-cli");
            var made = RedraftProcess.Run(size is null ? ["doc", "new", cliFolder, "--from", sketch] : ["doc", "new", cliFolder, "--from", sketch, "--size", size]);
            Assert.True(made.ExitCode == 0, made.Stderr);
            var cli = JsonNode.Parse(RedraftProcess.Run("doc", "layers", cliFolder, "--json").Stdout)!;
            Assert.Equal((int)cli["width"]!, (int)api["width"]!);
            Assert.Equal((int)cli["height"]!, (int)api["height"]!);
            var layer = api["layers"]![0]!;
            foreach (string key in new[] { "id", "name", "image", "x", "y", "scale", "role" })
                Assert.True(JsonNode.DeepEquals(cli["layers"]![0]![key], layer[key]), $"{key}: cli {cli["layers"]![0]![key]?.ToJsonString()}, api {layer[key]?.ToJsonString()}");
            Assert.Equal((40, 30), ((int)layer["width"]!, (int)layer["height"]!));
            var verify = RedraftProcess.Run("doc", "verify", Path.Combine(server.DocumentsDir, name));
            Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        }
        using var notImage = new MultipartFormDataContent { { new StringContent("broken"), "name" }, { new ByteArrayContent([1, 2, 3]), "image", "x.png" } };
        Assert.Equal(422, (int)(await server.Client.PostAsync("/api/v1/documents", notImage)).StatusCode);
    }

    [Fact]
    public async Task Get_ShowsLayersWithRolesPlacesSizesOpacityAndVisibility_AndAPastState()
    {
        string name = await server.NewDocument();
        string candidate;
        using (var store = server.Open(name))
        {
            AddLayers(store);
            candidate = AddCandidate(store, 90);
        }
        var (status, json) = await server.Get(Api + name);
        Assert.Equal(200, status);
        Assert.Equal(64, (int)json!["width"]!);
        Assert.Equal(4, (long)json["state"]!);
        Assert.Null(json["entry"]);
        var layers = json["layers"]!.AsArray();
        Assert.Equal(["L1", "L2", candidate], layers.Select(l => (string)l!["id"]!));
        var red = layers[0]!;
        Assert.Equal(("red", "user", 5, 7, 0.8, 32, 16, true), ((string)red["name"]!, (string)red["role"]!, (int)red["x"]!, (int)red["y"]!, (double)red["opacity"]!,
            (int)red["width"]!, (int)red["height"]!, (bool)red["drawn"]!));
        Assert.Equal(1.5, (double)layers[1]!["scale"]!);
        var cand = layers[2]!;
        Assert.Equal(("candidate", true, false), ((string)cand["role"]!, (bool)cand["hidden"]!, (bool)cand["drawn"]!));
        Assert.Equal($"{Api}{name}/images/{(string)red["image"]!}.png", (string)red["url"]!);

        var (pastStatus, past) = await server.Get(Api + name + "?state=2");
        Assert.Equal(200, pastStatus);
        Assert.Equal(2, (long)past!["state"]!);
        Assert.Single(past["layers"]!.AsArray());
        Assert.Equal(404, (await server.Get(Api + name + "?state=99")).Status);
    }

    [Fact]
    public async Task Composite_EqualsTheCliRender_ByteForByte_NowAndAtAPastState()
    {
        string name = await server.NewDocument();
        using (var store = server.Open(name)) AddLayers(store);
        Assert.Equal(200, (await server.Send(HttpMethod.Patch, $"{Api}{name}/layers/L1", new JsonObject { ["x"] = 9, ["y"] = 3 })).Status);
        string folder = Path.Combine(server.DocumentsDir, name);
        foreach (var (query, args) in new[] { ("", Array.Empty<string>()), ("?state=3", ["--state", "3"]), ("?transparent=true", new[] { "--transparent" }) })
        {
            using var response = await server.Client.GetAsync($"{Api}{name}/composite.png{query}");
            Assert.Equal(200, (int)response.StatusCode);
            Assert.Equal("image/png", response.Content.Headers.ContentType!.MediaType);
            byte[] api = await response.Content.ReadAsByteArrayAsync();
            string file = Path.Combine(server.Folder, Guid.NewGuid().ToString("N") + ".png");
            var cli = RedraftProcess.Run(["doc", "render", folder, "--out", file, .. args]);
            Assert.True(cli.ExitCode == 0, cli.Stderr);
            Assert.Equal(File.ReadAllBytes(file), api);
        }
        // The head and the past state differ (the move), so the state query is not ignored.
        byte[] now = await server.Client.GetByteArrayAsync($"{Api}{name}/composite.png");
        byte[] before = await server.Client.GetByteArrayAsync($"{Api}{name}/composite.png?state=3");
        Assert.NotEqual(now, before);
        Assert.Equal(404, (int)(await server.Client.GetAsync($"{Api}{name}/composite.png?state=77")).StatusCode);
    }

    [Fact]
    public async Task Thumbnail_IsTheCompositeFittedToTheSize_AtAnyState()
    {
        string name = await server.NewDocument(64, 48);
        using (var store = server.Open(name)) AddLayers(store);
        byte[] cli = await server.Client.GetByteArrayAsync($"{Api}{name}/composite.png");
        var composite = ImageFiles.DecodeRgba(cli, "composite");
        using var response = await server.Client.GetAsync($"{Api}{name}/thumbnail.png?size=32");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType!.MediaType);
        var thumb = ImageFiles.DecodeRgba(await response.Content.ReadAsByteArrayAsync(), "thumbnail");
        Assert.Equal((32, 24), (thumb.Width, thumb.Height));
        // A corner far from the layers stays the white background; the red strip's middle (canvas 21,15) stays reddish.
        Assert.Equal([255, 255, 255, 255], thumb.Pixels[..4]);
        int i = (7 * 32 + 10) * 4, j = (15 * 64 + 21) * 4;
        Assert.InRange(thumb.Pixels[i], composite.Pixels[j] - 8, composite.Pixels[j] + 8);
        Assert.True(thumb.Pixels[i] > thumb.Pixels[i + 1] + 60, $"{thumb.Pixels[i]},{thumb.Pixels[i + 1]}");
        // The first state has no layers: all white, and the default size never enlarges the 64x48 canvas.
        var first = ImageFiles.DecodeRgba(await server.Client.GetByteArrayAsync($"{Api}{name}/thumbnail.png?state=1"), "first");
        Assert.Equal((64, 48), (first.Width, first.Height));
        Assert.All(first.Pixels, p => Assert.Equal(255, p));
        Assert.Equal(400, (int)(await server.Client.GetAsync($"{Api}{name}/thumbnail.png?size=2")).StatusCode);
        Assert.Equal(404, (int)(await server.Client.GetAsync($"{Api}{name}/thumbnail.png?state=50")).StatusCode);
    }

    [Fact]
    public async Task Image_ServesTheStoredPng_AndAnUnknownHashIs404()
    {
        string name = await server.NewDocument();
        string hash;
        using (var store = server.Open(name))
        {
            AddLayers(store);
            hash = store.Document.Layers[0].Image;
        }
        using var response = await server.Client.GetAsync($"{Api}{name}/images/{hash}.png");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(File.ReadAllBytes(Path.Combine(server.DocumentsDir, name, "images", hash + ".png")), await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(404, (int)(await server.Client.GetAsync($"{Api}{name}/images/{new string('0', 64)}.png")).StatusCode);
        Assert.Equal(404, (int)(await server.Client.GetAsync($"{Api}{name}/images/..%2F..%2Fhistory.png")).StatusCode);
    }

    [Fact]
    public async Task History_ListsEveryStepOldestFirst_WithParameters()
    {
        string name = await server.NewDocument();
        using (var store = server.Open(name)) AddLayers(store);
        await server.Send(HttpMethod.Patch, $"{Api}{name}/layers/L1", new JsonObject { ["visible"] = false });
        var (status, json) = await server.Get($"{Api}{name}/history");
        Assert.Equal(200, status);
        var steps = json!["steps"]!.AsArray();
        Assert.Equal(["new", "add-layer", "add-layer", "visibility"], steps.Select(s => (string)s!["kind"]!));
        Assert.Equal([1L, 2, 3, 4], steps.Select(s => (long)s!["id"]!));
        Assert.Equal(64, (int)steps[0]!["parameters"]!["width"]!);
        Assert.False((bool)steps[3]!["parameters"]!["visible"]!);
        Assert.Equal(3, (long)steps[3]!["state_before"]!);
        Assert.Null(steps[0]!["state_before"]);
    }

    [Fact]
    public async Task PatchLayer_EachChangeIsOneStep_SeveralAre400_AnUnknownLayerIs404_AndALibraryRefusalIs422()
    {
        string name = await server.NewDocument();
        using (var store = server.Open(name)) AddLayers(store);
        string layer = $"{Api}{name}/layers/L1";
        var changes = new (JsonObject Body, string Kind, Func<JsonNode, bool> Applied)[]
        {
            (new() { ["visible"] = false }, "visibility", d => !(bool)d["layers"]![0]!["visible"]!),
            (new() { ["opacity"] = 0.25 }, "opacity", d => (double)d["layers"]![0]!["opacity"]! == 0.25),
            (new() { ["name"] = "renamed" }, "rename", d => (string)d["layers"]![0]!["name"]! == "renamed"),
            (new() { ["x"] = 11, ["y"] = 12, ["scale"] = 2 }, "move", d => (int)d["layers"]![0]!["x"]! == 11 && (double)d["layers"]![0]!["scale"]! == 2),
            (new() { ["index"] = 1 }, "reorder", d => (string)d["layers"]![1]!["id"]! == "L1"),
        };
        long state = 3;
        foreach (var (body, kind, applied) in changes)
        {
            var (status, json) = await server.Send(HttpMethod.Patch, layer, body);
            Assert.True(status == 200, json?.ToJsonString());
            Assert.Equal(kind, (string)json!["entry"]!["kind"]!);
            Assert.Equal(++state, (long)json["state"]!);
            Assert.True(applied(json), json.ToJsonString());
        }
        Assert.Equal(400, (await server.Send(HttpMethod.Patch, layer, new JsonObject { ["visible"] = true, ["opacity"] = 1 })).Status);
        Assert.Equal(400, (await server.Send(HttpMethod.Patch, layer, new JsonObject())).Status);
        Assert.Equal(404, (await server.Send(HttpMethod.Patch, $"{Api}{name}/layers/L9", new JsonObject { ["visible"] = true })).Status);
        var (refused, error) = await server.Send(HttpMethod.Patch, layer, new JsonObject { ["opacity"] = 2 });
        Assert.Equal(422, refused);
        Assert.False(string.IsNullOrEmpty((string?)error!["detail"]));
        using var after = server.Open(name);
        Assert.Equal(state, after.StateId);
    }

    [Fact]
    public async Task AddLayer_PutsTheUploadedImageOnTop_AsDocAddLayerDoes_AndARetryAddsItOnce()
    {
        string name = await server.NewDocument();
        byte[] png = ImageFiles.EncodePng(RgbaImage.Filled(12, 10, 0, 200, 0, 180));
        async Task<(int, JsonNode?)> Upload(string operationId)
        {
            using var form = new MultipartFormDataContent
            {
                { new ByteArrayContent(png), "image", "leaf.png" },
                { new StringContent("6"), "x" }, { new StringContent("4"), "y" }, { new StringContent("2"), "scale" },
                { new StringContent("0.5"), "opacity" }, { new StringContent(operationId), "operation_id" },
            };
            using var response = await server.Client.PostAsync($"{Api}{name}/layers", form);
            string text = await response.Content.ReadAsStringAsync();
            return ((int)response.StatusCode, JsonNode.Parse(text));
        }
        var (status, json) = await Upload("drop-1");
        Assert.True(status == 200, json?.ToJsonString());
        Assert.Equal("add-layer", (string)json!["entry"]!["kind"]!);
        var layer = json["layers"]!.AsArray().Single()!;
        Assert.Equal(("L1", "leaf", 6, 4, 2.0, 0.5, 12, 10), ((string)layer["id"]!, (string)layer["name"]!, (int)layer["x"]!, (int)layer["y"]!, (double)layer["scale"]!,
            (double)layer["opacity"]!, (int)layer["width"]!, (int)layer["height"]!));
        var (again, againJson) = await Upload("drop-1");
        Assert.Equal(200, again);
        Assert.Single(againJson!["layers"]!.AsArray());

        // The CLI adding the same file with the same options stores the same image and places it alike.
        string file = Path.Combine(server.Folder, "leaf.png");
        File.WriteAllBytes(file, png);
        string cliDoc = Path.Combine(server.Folder, "cli-" + name);
        Assert.Equal(0, RedraftProcess.Run("doc", "new", cliDoc, "--size", "64x48").ExitCode);
        var added = RedraftProcess.Run("doc", "add-layer", cliDoc, file, "--x", "6", "--y", "4", "--scale", "2", "--opacity", "0.5");
        Assert.True(added.ExitCode == 0, added.Stderr);
        var cli = JsonNode.Parse(RedraftProcess.Run("doc", "layers", cliDoc, "--json").Stdout)!["layers"]![0]!;
        foreach (string key in new[] { "id", "name", "image", "x", "y", "scale", "opacity", "role", "visible" })
            Assert.True(JsonNode.DeepEquals(cli[key], layer[key]), $"{key}: cli {cli[key]?.ToJsonString()}, api {layer[key]?.ToJsonString()}");
        using var noImage = new MultipartFormDataContent { { new StringContent("1"), "x" } };
        Assert.Equal(400, (int)(await server.Client.PostAsync($"{Api}{name}/layers", noImage)).StatusCode);
    }

    [Fact]
    public async Task FlipDuplicateMergeDownAndResize_AreOneStepEach()
    {
        string name = await server.NewDocument();
        using (var store = server.Open(name)) AddLayers(store);
        var (flipped, flip) = await server.Send(HttpMethod.Post, $"{Api}{name}/layers/L1/flip", new JsonObject { ["horizontal"] = false });
        Assert.Equal(200, flipped);
        Assert.Equal("flip", (string)flip!["entry"]!["kind"]!);
        Assert.Equal("vertical", (string)flip["entry"]!["parameters"]!["direction"]!);
        var (duplicated, dup) = await server.Send(HttpMethod.Post, $"{Api}{name}/layers/L2/duplicate");
        Assert.Equal(200, duplicated);
        Assert.Equal(["L1", "L2", "L3"], dup!["layers"]!.AsArray().Select(l => (string)l!["id"]!));
        var (merged, merge) = await server.Send(HttpMethod.Post, $"{Api}{name}/layers/L3/merge-down", new JsonObject { ["operation_id"] = "m1" });
        Assert.Equal(200, merged);
        Assert.Equal("merge-down", (string)merge!["entry"]!["kind"]!);
        Assert.Equal(2, merge["layers"]!.AsArray().Count);
        var (resized, resize) = await server.Send(HttpMethod.Post, $"{Api}{name}/resize", new JsonObject { ["left"] = 8, ["right"] = -4, ["bottom"] = 16 });
        Assert.Equal(200, resized);
        Assert.Equal("resize-canvas", (string)resize!["entry"]!["kind"]!);
        Assert.Equal((68, 64), ((int)resize["width"]!, (int)resize["height"]!));
        Assert.Equal(13, (int)resize["layers"]![0]!["x"]!);
        Assert.Equal(404, (await server.Send(HttpMethod.Post, $"{Api}{name}/layers/L77/flip")).Status);
        Assert.Equal(422, (await server.Send(HttpMethod.Post, $"{Api}{name}/resize", new JsonObject { ["left"] = -100 })).Status);
        Assert.Equal(422, (await server.Send(HttpMethod.Post, $"{Api}{name}/resize", new JsonObject { ["right"] = 9000, ["bottom"] = 9000 })).Status);
        using var store2 = server.Open(name);
        Assert.Equal(["new", "add-layer", "add-layer", "flip", "duplicate", "merge-down", "resize-canvas"], store2.History().Select(h => h.Kind));
    }

    [Fact]
    public async Task DeleteLayer_RemovesItAsOneStep_AndUndoBringsItBack()
    {
        string name = await server.NewDocument();
        using (var store = server.Open(name)) AddLayers(store);
        var (status, json) = await server.Send(HttpMethod.Delete, $"{Api}{name}/layers/L1?operation_id=del-1");
        Assert.Equal(200, status);
        Assert.Equal("delete", (string)json!["entry"]!["kind"]!);
        Assert.Equal(["L2"], json["layers"]!.AsArray().Select(l => (string)l!["id"]!));
        Assert.Equal(404, (await server.Send(HttpMethod.Delete, $"{Api}{name}/layers/L1")).Status);
        var (undone, back) = await server.Send(HttpMethod.Post, $"{Api}{name}/undo");
        Assert.Equal(200, undone);
        Assert.Equal(["L1", "L2"], back!["layers"]!.AsArray().Select(l => (string)l!["id"]!));
    }

    [Fact]
    public async Task PickAndDiscard_AcceptOneCandidate_AndDropTheRest()
    {
        string name = await server.NewDocument();
        string first, second;
        using (var store = server.Open(name))
        {
            first = AddCandidate(store, 40);
            second = AddCandidate(store, 200);
        }
        var (picked, json) = await server.Send(HttpMethod.Post, $"{Api}{name}/candidates/{first}/pick", new JsonObject { ["operation_id"] = "pick-1" });
        Assert.Equal(200, picked);
        Assert.Equal("pick", (string)json!["entry"]!["kind"]!);
        var layer = json["layers"]!.AsArray().First(l => (string)l!["id"]! == first)!;
        Assert.Equal(("generated", true, false, true), ((string)layer["role"]!, (bool)layer["visible"]!, (bool)layer["hidden"]!, (bool)layer["drawn"]!));
        Assert.Equal(422, (await server.Send(HttpMethod.Post, $"{Api}{name}/candidates/{first}/pick")).Status); // no longer a candidate
        Assert.Equal(404, (await server.Send(HttpMethod.Post, $"{Api}{name}/candidates/L99/pick")).Status);

        var (discarded, after) = await server.Send(HttpMethod.Post, $"{Api}{name}/candidates/discard", new JsonObject());
        Assert.Equal(200, discarded);
        Assert.Equal("discard", (string)after!["entry"]!["kind"]!);
        Assert.Equal([first], after["layers"]!.AsArray().Select(l => (string)l!["id"]!));
        Assert.DoesNotContain(second, after["layers"]!.AsArray().Select(l => (string)l!["id"]!));
        Assert.Equal(422, (await server.Send(HttpMethod.Post, $"{Api}{name}/candidates/discard")).Status); // none left
    }

    [Fact]
    public async Task UndoAndRedo_MoveBetweenStates_AsSteps()
    {
        string name = await server.NewDocument();
        using (var store = server.Open(name)) AddLayers(store);
        var (undone, json) = await server.Send(HttpMethod.Post, $"{Api}{name}/undo", new JsonObject { ["operation_id"] = "u1" });
        Assert.Equal(200, undone);
        Assert.Equal("undo", (string)json!["entry"]!["kind"]!);
        Assert.Equal(2, (long)json["state"]!);
        Assert.Single(json["layers"]!.AsArray());
        var (redone, again) = await server.Send(HttpMethod.Post, $"{Api}{name}/redo", new JsonObject { ["operation_id"] = "r1" });
        Assert.Equal(200, redone);
        Assert.Equal("redo", (string)again!["entry"]!["kind"]!);
        Assert.Equal(2, again["layers"]!.AsArray().Count);
        Assert.Equal(422, (await server.Send(HttpMethod.Post, $"{Api}{name}/redo")).Status); // nothing to redo
    }

    [Fact]
    public async Task ARetryWithTheSameOperationId_ReturnsTheFirstStep_AndRecordsNothing_AnotherKindIs409()
    {
        string name = await server.NewDocument();
        using (var store = server.Open(name)) AddLayers(store);
        var body = new JsonObject { ["opacity"] = 0.3, ["operation_id"] = "click-42" };
        var (first, firstJson) = await server.Send(HttpMethod.Patch, $"{Api}{name}/layers/L1", body.DeepClone());
        Assert.Equal(200, first);
        int rows = (await server.Get($"{Api}{name}/history")).Json!["steps"]!.AsArray().Count;
        var (retry, retryJson) = await server.Send(HttpMethod.Patch, $"{Api}{name}/layers/L1", body.DeepClone());
        Assert.Equal(200, retry);
        Assert.True(JsonNode.DeepEquals(firstJson!["entry"], retryJson!["entry"]), retryJson.ToJsonString());
        Assert.Equal(rows, (await server.Get($"{Api}{name}/history")).Json!["steps"]!.AsArray().Count);
        // Undo twice with one id is one undo.
        await server.Send(HttpMethod.Post, $"{Api}{name}/undo", new JsonObject { ["operation_id"] = "undo-7" });
        var (_, undoAgain) = await server.Send(HttpMethod.Post, $"{Api}{name}/undo", new JsonObject { ["operation_id"] = "undo-7" });
        Assert.Equal(rows + 1, (await server.Get($"{Api}{name}/history")).Json!["steps"]!.AsArray().Count);
        Assert.Equal((long)firstJson["state"]! - 1, (long)undoAgain!["state"]!);
        var (reused, error) = await server.Send(HttpMethod.Patch, $"{Api}{name}/layers/L1", new JsonObject { ["visible"] = false, ["operation_id"] = "click-42" });
        Assert.Equal(409, reused);
        Assert.Contains("opacity", (string)error!["detail"]!);
        Assert.Equal(rows + 1, (await server.Get($"{Api}{name}/history")).Json!["steps"]!.AsArray().Count);
    }

    [Fact]
    public async Task NamesThatLeaveTheDocumentsFolder_OrAreHidden_AreNotFound()
    {
        string name = await server.NewDocument();
        // A real document beside the documents folder, and a hidden one inside it: neither is reachable.
        using (DocumentStore.NewDocument(Path.Combine(server.Folder, "outside"), 8, 8)) { }
        using (DocumentStore.NewDocument(Path.Combine(server.DocumentsDir, ".hidden"), 8, 8)) { }
        foreach (string doc in new[] { "..%2Foutside", "%2E%2E%2Foutside", "%2E%2E", ".hidden", "..%5Coutside", name + "%2F..%2F" + name, "%2Ftmp", "missing" })
        {
            foreach (string route in new[] { "", "/history", "/composite.png" })
            {
                using var response = await server.Client.GetAsync(Api + doc + route);
                Assert.True((int)response.StatusCode == 404, $"{doc}{route}: {(int)response.StatusCode}");
            }
            Assert.Equal(404, (await server.Send(HttpMethod.Post, Api + doc + "/undo")).Status);
        }
        Assert.Equal(200, (await server.Get(Api + name)).Status);
    }

    [Fact]
    public void EveryDocumentRoute_IsMapped_AndDocumented()
    {
        var mapped = server.Server.MappedRoutes().Where(r => r.Pattern.StartsWith("/api/v1/documents", StringComparison.Ordinal)).ToHashSet();
        Assert.Equal(30, mapped.Count); // 23 read and edit routes (rename, layer PNG, paint, erase, infotext among them), generate, harmonize, rerun, events, live (submit, result.png, apply)
        var documented = Redraft.Server.Api.ApiRoutes.All.Where(r => r.Path.StartsWith("/api/v1/documents", StringComparison.Ordinal)).Select(r => (r.Method, r.Path)).ToHashSet();
        Assert.Equal(documented, mapped);
    }

    /// <summary>Two user layers as <c>doc add-layer</c> adds them: a half-transparent red strip and a scaled blue square.</summary>
    private static void AddLayers(DocumentStore store)
    {
        store.AddLayer(RgbaImage.Filled(32, 16, 200, 30, 30, 200), new LayerOptions { X = 5, Y = 7, Opacity = 0.8, Name = "red" });
        store.AddLayer(RgbaImage.Filled(20, 20, 20, 30, 200), new LayerOptions { X = 30, Y = 20, Scale = 1.5, Name = "blue" });
    }

    /// <summary>A hidden candidate layer as <c>doc generate</c> leaves one (recorded as a <c>generate</c> step).</summary>
    private static string AddCandidate(DocumentStore store, byte shade)
    {
        string id = "";
        store.Apply(c =>
        {
            id = c.NewLayerId();
            string hash = c.Images.Store(RgbaImage.Filled(16, 16, shade, shade, shade));
            return (c.Current.WithLayerOnTop(new Layer { Id = id, Name = "candidate", Image = hash, Role = LayerRole.Candidate, Hidden = true }),
                new OperationRecord { Kind = "generate", Outputs = [hash] });
        });
        return id;
    }
}
