using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Redraft.Server.Documents;
using Redraft.Studio;

namespace Redraft.Server.Api;

/// <summary>
/// The documents API (<c>/api/v1/documents</c>): list, create, read (layers, composite, images, history) and the
/// layer and history edits, every call through the studio library (<see cref="DocumentStore"/>), so the folders are
/// the documents <c>redraft doc</c> opens and each edit is one history step. Each edit accepts an
/// <c>operation_id</c> (body field or query parameter): a retry with the same id returns the first commit's step and
/// records nothing; the same id sent for another kind of edit is refused (409). Every answer to an edit is the
/// document as it is now, so a client that retried is in step again.
/// </summary>
internal static class DocumentEndpoints
{
    private const string Documents = "/api/v1/documents";
    private const string Doc = Documents + "/{doc}";

    public static void Map(WebApplication app, ApiContext context)
    {
        var folder = context.Documents;
        app.MapGet(Documents, () => ApiJson.Ok(new DocumentList(List(folder))));
        app.MapPost(Documents, (Delegate)(async (HttpContext http) =>
        {
            string name;
            int? width, height;
            RgbaImage? from = null;
            string? fromName = null;
            if (http.Request.HasFormContentType)
            {
                // A sketch to start from (multipart: name, image, optional width and height): it becomes layer L1, fitted and centred.
                var form = await http.Request.ReadFormAsync(http.RequestAborted);
                name = form["name"].FirstOrDefault() ?? throw Field("name", "is required");
                width = FormInt(form["width"].FirstOrDefault(), "width");
                height = FormInt(form["height"].FirstOrDefault(), "height");
                var file = form.Files.GetFile("image") ?? throw Field("image", "is required (a PNG, JPEG or WebP file) in a multipart body");
                using var bytes = new MemoryStream();
                await file.CopyToAsync(bytes, http.RequestAborted);
                fromName = string.IsNullOrEmpty(file.FileName) ? "image" : Path.GetFileName(file.FileName);
                from = ImageFiles.DecodeRgba(bytes.ToArray(), fromName);
            }
            else
            {
                var body = await Read<NewDocumentRequest>(http);
                name = body.Name ?? throw Field("name", "is required");
                (width, height) = (body.Width, body.Height);
            }
            CheckCanvas(context, width ?? from?.Width, height ?? from?.Height);
            string path = folder.NewFolder(name);
            using var store = DocumentStore.NewDocument(path, width, height, from, fromName);
            return Results.Json(DocumentViews.Document(name, store, entry: store.History()[^1]), ApiJson.Options,
                statusCode: StatusCodes.Status201Created);
        }));
        app.MapGet(Doc, (string doc, long? state) =>
        {
            using var store = folder.Open(doc);
            return ApiJson.Ok(DocumentViews.Document(doc, store, CheckState(store, state)));
        });
        app.MapMethods(Doc, ["PATCH"], (Delegate)(async (HttpContext http, string doc) =>
        {
            var body = await Read<DocumentPatchRequest>(http);
            string name = body.Name ?? throw Field("name", "is required (the new name)");
            lock (folder.Gate)
            {
                var snapshot = context.Queue.Snapshot();
                if (snapshot.Active.FirstOrDefault(j => j.Document == doc) is { } busy)
                    throw new ApiException(StatusCodes.Status409Conflict,
                        $"document \"{doc}\" has a job {(busy.Status == Jobs.JobStatus.Running ? "running" : "queued")} ({busy.Id}); rename it when the job has ended.", "Conflict");
                name = folder.Rename(doc, name, body.OperationId);
                // A kept live result goes with its document (it can still be shown and applied under the new name).
                context.Live.Rename(doc, name);
            }
            using var store = folder.Open(name);
            return ApiJson.Ok(DocumentViews.Document(name, store));
        }));
        app.MapGet(Doc + "/composite.png", (string doc, long? state, bool? transparent, string? hide) =>
        {
            using var store = folder.Open(doc);
            long? shown = CheckState(store, state);
            if (string.IsNullOrEmpty(hide)) return Results.File(store.RenderPng(transparent ?? false, shown), "image/png");
            // Without some layers (a comma-separated list of ids): what the canvas shows under a layer being dragged.
            // Not a state of the document, so no provenance chunk.
            var document = shown is { } s ? store.GetState(s) : store.Document;
            var left = hide.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
            if (left.FirstOrDefault(id => document.Layers.All(l => l.Id != id)) is { } unknown)
                throw NotFound($"document \"{doc}\" has no layer {unknown}.");
            document = document with { Layers = [.. document.Layers.Select(l => left.Contains(l.Id) ? l with { Visible = false } : l)] };
            return Results.File(transparent == true ? ImageFiles.EncodePng(store.RenderRgba(document)) : ImageFiles.EncodePng(store.Render(document)), "image/png");
        });
        app.MapGet(Doc + "/thumbnail.png", (string doc, long? state, int? size) =>
        {
            int side = size ?? 128;
            if (side is < 16 or > 1024) throw Field("size", $"{side} is out of range (16 to 1024 pixels on the longer side)");
            using var store = folder.Open(doc);
            long? shown = CheckState(store, state);
            var image = store.Render(shown is { } s ? store.GetState(s) : null);
            // The longer side becomes `side` (never enlarged), the shape kept: a list or history strip of small pictures.
            double scale = Math.Min(1.0, (double)side / Math.Max(image.Width, image.Height));
            int w = Math.Max(1, (int)Math.Round(image.Width * scale)), h = Math.Max(1, (int)Math.Round(image.Height * scale));
            var small = w == image.Width && h == image.Height ? image : ImageFiles.Resize(image, w, h);
            return Results.File(ImageFiles.EncodePng(small), "image/png");
        });
        app.MapGet(Doc + "/images/{hash}.png", (string doc, string hash) =>
        {
            using var store = folder.Open(doc);
            // A hash names a file only after the image store says it holds it: any other text is "not found".
            if (!store.Images.Contains(hash)) throw NotFound($"document \"{doc}\" has no image {hash}.");
            return Results.File(File.ReadAllBytes(store.ImagePath(hash)), "image/png");
        });
        app.MapGet(Doc + "/layers/{id}.png", (string doc, string id, long? state) =>
        {
            using var store = folder.Open(doc);
            long? shown = CheckState(store, state);
            var document = shown is { } s ? store.GetState(s) : store.Document;
            var layer = document.Layers.FirstOrDefault(l => l.Id == id)
                ?? throw NotFound($"document \"{doc}\" has no layer {id}{(shown is null ? "" : $" in state {shown}")}.");
            return Results.File(File.ReadAllBytes(store.ImagePath(layer.Image)), "image/png");
        });
        app.MapGet(Doc + "/history/{step}/infotext", (string doc, long step) =>
        {
            using var store = folder.Open(doc);
            var entry = store.History().FirstOrDefault(e => e.Id == step) ?? throw NotFound($"document \"{doc}\" has no step {step}; GET its history lists them.");
            if (entry.Kind is not ("generate" or "harmonize"))
                throw ApiException.Unprocessable($"step {step} is a '{entry.Kind}'; only generate and harmonize steps have generation parameters.");
            // The first output's PNG carries the generation's infotext in its `parameters` chunk, as A1111 writes it.
            string? text = entry.Outputs.Count == 0 || !store.Images.Contains(entry.Outputs[0]) ? null
                : ImageFiles.ReadPngText(store.ImagePath(entry.Outputs[0])).GetValueOrDefault("parameters");
            return text is null
                ? throw ApiException.Unprocessable($"step {step}'s images carry no parameters (recorded by an older Redraft); its history row lists them.")
                : Results.Text(text, "text/plain; charset=utf-8");
        });
        app.MapGet(Doc + "/history", (string doc) =>
        {
            using var store = folder.Open(doc);
            return ApiJson.Ok(new HistoryList(store.History().Select(DocumentViews.History).ToList()));
        });

        app.MapMethods(Doc + "/layers/{id}", ["PATCH"], (Delegate)(async (HttpContext http, string doc, string id) =>
        {
            var body = await Read<LayerPatchRequest>(http);
            bool move = body.X is not null || body.Y is not null || body.Scale is not null;
            int changes = (body.Visible is null ? 0 : 1) + (body.Opacity is null ? 0 : 1) + (body.Name is null ? 0 : 1) + (move ? 1 : 0) + (body.Index is null ? 0 : 1);
            if (changes != 1)
                throw new ApiException(StatusCodes.Status400BadRequest,
                    "send one change per call: visible, opacity, name, a move (x, y, scale) or index (one history step per action).");
            return body switch
            {
                { Visible: { } visible } => Edit(folder, http, doc, id, body.OperationId, "visibility", (store, op) => store.SetVisible(id, visible, op)),
                { Opacity: { } opacity } => Edit(folder, http, doc, id, body.OperationId, "opacity", (store, op) => store.SetOpacity(id, opacity, op)),
                { Name: { } name } => Edit(folder, http, doc, id, body.OperationId, "rename", (store, op) => store.Rename(id, name, op)),
                { Index: { } index } => Edit(folder, http, doc, id, body.OperationId, "reorder", (store, op) => store.Reorder(id, index, op)),
                _ => Edit(folder, http, doc, id, body.OperationId, "move", (store, op) => store.Place(id, body.X, body.Y, body.Scale, op)),
            };
        }));
        app.MapPost(Doc + "/layers", (Delegate)(async (HttpContext http, string doc) =>
        {
            if (http.Request.HasJsonContentType())
            {
                // An empty layer to paint on: transparent, the canvas's size, on top.
                var body = await Read<EmptyLayerRequest>(http);
                if (body.Empty != true)
                    throw Field("empty", "send true for an empty layer, or a multipart body with an image file");
                return Edit(folder, http, doc, null, body.OperationId, "add-layer", (store, op) =>
                    store.AddLayer(RgbaImage.Filled(store.Document.Width, store.Document.Height, 0, 0, 0, 0), new LayerOptions { Name = body.Name is { Length: > 0 } n ? n : "layer" },
                        source: "empty", operationId: op));
            }
            if (!http.Request.HasFormContentType)
                throw new ApiException(StatusCodes.Status400BadRequest,
                    "send a multipart body: image (file) and optional mask (file, white = keep), x, y, scale, opacity, name, visible, operation_id; or JSON {\"empty\": true, \"name\", \"operation_id\"}.");
            var form = await http.Request.ReadFormAsync(http.RequestAborted);
            var file = form.Files.GetFile("image") ?? throw Field("image", "is required (a PNG, JPEG or WebP file)");
            using var bytes = new MemoryStream();
            await file.CopyToAsync(bytes, http.RequestAborted);
            string source = string.IsNullOrEmpty(file.FileName) ? "image" : Path.GetFileName(file.FileName);
            var image = ImageFiles.DecodeRgba(bytes.ToArray(), source);
            CheckCanvas(context, image.Width, image.Height);
            // A visibility mask (layer-mask convention: luminance times alpha, white = keep), the image's size.
            MaskImage? mask = form.Files.GetFile("mask") is null ? null : MaskImage.FromRgba(await FormImage(http, form, "mask"));
            var options = new LayerOptions
            {
                X = FormInt(form["x"].FirstOrDefault(), "x") ?? 0,
                Y = FormInt(form["y"].FirstOrDefault(), "y") ?? 0,
                Scale = FormDouble(form["scale"].FirstOrDefault(), "scale") ?? 1,
                Opacity = FormDouble(form["opacity"].FirstOrDefault(), "opacity") ?? 1,
                Name = form["name"].FirstOrDefault() is { Length: > 0 } layerName ? layerName : Path.GetFileNameWithoutExtension(source),
                Visible = FormBool(form["visible"].FirstOrDefault(), "visible") ?? true,
            };
            return Edit(folder, http, doc, null, form["operation_id"].FirstOrDefault(), "add-layer", (store, op) => store.AddLayer(image, options, mask, source: source, maskSource: mask is null ? null : "mask", operationId: op));
        }));
        app.MapPost(Doc + "/layers/{id}/paint", (Delegate)(async (HttpContext http, string doc, string id) =>
        {
            var form = await ReadForm(http, "patch (a PNG file), x, y, optional base_image and operation_id");
            var patch = await FormImage(http, form, "patch");
            int x = FormInt(form["x"].FirstOrDefault(), "x") ?? throw Field("x", "is required (layer pixels)");
            int y = FormInt(form["y"].FirstOrDefault(), "y") ?? throw Field("y", "is required (layer pixels)");
            string? baseImage = form["base_image"].FirstOrDefault() is { Length: > 0 } b ? b : null;
            return Edit(folder, http, doc, id, form["operation_id"].FirstOrDefault(), "paint", (store, op) =>
            {
                try
                {
                    store.Paint(id, patch, x, y, op, baseImage);
                }
                catch (LayerChangedException e)
                {
                    // The client drew over this image; another edit changed the layer since: it fetches the layer again and re-applies its stroke.
                    throw new ApiException(StatusCodes.Status409Conflict, e.Message, "Conflict");
                }
            });
        }));
        app.MapPost(Doc + "/layers/{id}/erase", (Delegate)(async (HttpContext http, string doc, string id) =>
        {
            var form = await ReadForm(http, "mask (a PNG file, white = erase), optional space (canvas or layer) and operation_id");
            var mask = MaskImage.FromOperationImage(await FormImage(http, form, "mask"));
            var space = form["space"].FirstOrDefault() switch
            {
                null or "" or "canvas" => MaskSpace.Canvas,
                "layer" => MaskSpace.Layer,
                var other => throw Field("space", $"\"{other}\" is not canvas or layer"),
            };
            return Edit(folder, http, doc, id, form["operation_id"].FirstOrDefault(), "erase", (store, op) => store.Erase(id, mask, space, "mask", op));
        }));
        app.MapPost(Doc + "/layers/{id}/flip", (Delegate)(async (HttpContext http, string doc, string id) =>
        {
            var body = await ReadOptional<FlipRequest>(http) ?? new FlipRequest(null, null);
            return Edit(folder, http, doc, id, body.OperationId, "flip", (store, op) => store.Flip(id, body.Horizontal ?? true, op));
        }));
        app.MapPost(Doc + "/layers/{id}/duplicate", (Delegate)(async (HttpContext http, string doc, string id) =>
            Edit(folder, http, doc, id, (await ReadOperation(http)).OperationId, "duplicate", (store, op) => store.Duplicate(id, op))));
        app.MapPost(Doc + "/layers/{id}/merge-down", (Delegate)(async (HttpContext http, string doc, string id) =>
            Edit(folder, http, doc, id, (await ReadOperation(http)).OperationId, "merge-down", (store, op) => store.MergeDown(id, op))));
        app.MapPost(Doc + "/resize", (Delegate)(async (HttpContext http, string doc) =>
        {
            var body = await Read<ResizeRequest>(http);
            var (left, top, right, bottom) = (body.Left ?? 0, body.Top ?? 0, body.Right ?? 0, body.Bottom ?? 0);
            return Edit(folder, http, doc, null, body.OperationId, "resize-canvas", (store, op) =>
            {
                CheckCanvas(context, (int)Math.Clamp((long)store.Document.Width + left + right, 0, int.MaxValue), (int)Math.Clamp((long)store.Document.Height + top + bottom, 0, int.MaxValue));
                store.ResizeCanvas(left, top, right, bottom, op);
            });
        }));
        app.MapDelete(Doc + "/layers/{id}", (Delegate)(async (HttpContext http, string doc, string id) =>
            Edit(folder, http, doc, id, (await ReadOperation(http)).OperationId, "delete", (store, op) => store.Delete(id, op))));
        app.MapPost(Doc + "/candidates/{id}/pick", (Delegate)(async (HttpContext http, string doc, string id) =>
            Edit(folder, http, doc, id, (await ReadOperation(http)).OperationId, "pick", (store, op) => store.Pick(id, op))));
        app.MapPost(Doc + "/candidates/discard", (Delegate)(async (HttpContext http, string doc) =>
            Edit(folder, http, doc, null, (await ReadOperation(http)).OperationId, "discard", (store, op) => store.DiscardCandidates(op))));
        app.MapPost(Doc + "/undo", (Delegate)(async (HttpContext http, string doc) =>
            Edit(folder, http, doc, null, (await ReadOperation(http)).OperationId, "undo", (store, op) => store.Undo(op))));
        app.MapPost(Doc + "/redo", (Delegate)(async (HttpContext http, string doc) =>
            Edit(folder, http, doc, null, (await ReadOperation(http)).OperationId, "redo", (store, op) => store.Redo(op))));
    }

    /// <summary>
    /// Runs one edit of document <paramref name="doc"/> (on layer <paramref name="layerId"/> when given: 404 when the
    /// current document has no such layer) under an operation id: the client's, or one made here so the step the
    /// edit recorded is found exactly, whatever else commits meanwhile. A client id already committed is a retry:
    /// nothing is applied or checked again (the layer may be gone since); its first step is answered, or 409 when
    /// that step was another kind of edit.
    /// </summary>
    private static IResult Edit(DocumentFolder folder, HttpContext http, string doc, string? layerId, string? operationId, string kind,
        Action<DocumentStore, string> edit)
    {
        operationId ??= http.Request.Query["operation_id"].FirstOrDefault();
        using var store = folder.Open(doc);
        if (operationId is not null && store.FindOperation(operationId) is { } done)
            return done.Kind == kind ? ApiJson.Ok(DocumentViews.Document(doc, store, entry: done)) : throw Reused(operationId, done.Kind);
        if (layerId is not null && !store.Document.Layers.Any(l => l.Id == layerId))
            throw NotFound($"document \"{doc}\" has no layer {layerId}.");
        string id = operationId ?? "api:" + Guid.NewGuid().ToString("N");
        edit(store, id);
        // Found again by id: a commit racing this one (same client id from another request) answers the winner's step.
        var entry = store.FindOperation(id) ?? throw new InvalidOperationException($"the step of operation {id} is not in the history.");
        if (entry.Kind != kind) throw Reused(id, entry.Kind);
        store.Refresh();
        return ApiJson.Ok(DocumentViews.Document(doc, store, entry: entry));
    }

    /// <summary>409: the operation id was already committed as another kind of step.</summary>
    internal static ApiException Reused(string operationId, string kind) => new(StatusCodes.Status409Conflict,
        $"operation id {operationId} was used for a '{kind}' step; send a new id for a new action.", "Conflict");

    private static IReadOnlyList<DocumentSummary> List(DocumentFolder folder)
    {
        var list = new List<DocumentSummary>();
        foreach (string name in folder.Names())
        {
            try
            {
                using var store = folder.Open(name);
                var last = store.History()[^1];
                list.Add(new DocumentSummary(name, store.DocumentId, store.Document.Width, store.Document.Height, store.StateId, last.Time, DocumentViews.Url(name)));
            }
            catch (RedraftInputException)
            {
                // A folder that does not open (half copied, edited by hand) is left out of the list; opening it names the problem.
            }
        }
        return [.. list.OrderByDescending(d => d.Modified).ThenBy(d => d.Name, StringComparer.Ordinal)];
    }

    /// <summary>A past state the document has, or 404.</summary>
    private static long? CheckState(DocumentStore store, long? state)
    {
        if (state is not { } s) return null;
        try
        {
            store.GetState(s);
        }
        catch (StudioInputException)
        {
            throw NotFound($"the document has no state {s}; its history lists the states (state_after).");
        }
        return s;
    }

    /// <summary>
    /// A canvas of at most four times the server's per-image pixel limit (<c>--max-pixels</c>): the studio allows up to
    /// 16384 per side, but every read of a document renders it, and a client must not make the server render gigapixels.
    /// </summary>
    private static void CheckCanvas(ApiContext context, int? width, int? height)
    {
        if (width is { } w && height is { } h && (long)w * h > 4 * context.Options.MaxPixels)
            throw ApiException.Unprocessable($"canvas {w}x{h} is over this server's limit of {4 * context.Options.MaxPixels} pixels (4 x --max-pixels).");
    }

    /// <summary>The multipart form of an upload route (400 naming its fields when the body is not one).</summary>
    private static async Task<IFormCollection> ReadForm(HttpContext http, string fields)
    {
        if (!http.Request.HasFormContentType)
            throw new ApiException(StatusCodes.Status400BadRequest, $"send a multipart body: {fields}.");
        try
        {
            return await http.Request.ReadFormAsync(http.RequestAborted);
        }
        catch (InvalidDataException e)
        {
            // An empty or cut multipart body.
            throw new ApiException(StatusCodes.Status400BadRequest, $"the multipart body does not parse ({e.Message.ReplaceLineEndings(" ")}); send {fields}.");
        }
    }

    /// <summary>The uploaded image file <paramref name="field"/> of a form, decoded (straight RGBA).</summary>
    private static async Task<RgbaImage> FormImage(HttpContext http, IFormCollection form, string field)
    {
        var file = form.Files.GetFile(field) ?? throw Field(field, "is required (a PNG file)");
        using var bytes = new MemoryStream();
        await file.CopyToAsync(bytes, http.RequestAborted);
        return ImageFiles.DecodeRgba(bytes.ToArray(), field);
    }

    private static int? FormInt(string? text, string field) =>
        text is null or "" ? null
        : int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int value) ? value
        : throw Field(field, $"\"{text}\" is not a whole number");

    private static ApiException NotFound(string detail) => new(StatusCodes.Status404NotFound, detail, "NotFound");

    private static ApiException Field(string name, string problem) => new(StatusCodes.Status400BadRequest, $"{name}: {problem}.");

    /// <summary>The JSON body as <typeparamref name="T"/>; a field of the wrong type is 400 naming it.</summary>
    private static async Task<T> Read<T>(HttpContext http)
    {
        var body = await RequestBody.ReadObject(http);
        try
        {
            return body.Deserialize<T>(ApiJson.Options) ?? throw Field("body", "must be a JSON object");
        }
        catch (JsonException e)
        {
            throw Field(e.Path is { Length: > 2 } path ? path[2..] : "body", "wrong type (" + e.Message.ReplaceLineEndings(" ").Split(" Path:")[0] + ")");
        }
    }

    /// <summary>An optional JSON body as <typeparamref name="T"/> (null when there is none).</summary>
    private static async Task<T?> ReadOptional<T>(HttpContext http) where T : class =>
        http.Request.ContentLength is null or 0 && !http.Request.Headers.ContainsKey("Transfer-Encoding") ? null : await Read<T>(http);

    private static double? FormDouble(string? text, string field) =>
        text is null or "" ? null
        : double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value) && double.IsFinite(value) ? value
        : throw Field(field, $"\"{text}\" is not a number");

    private static bool? FormBool(string? text, string field) =>
        text is null or "" ? null
        : bool.TryParse(text, out bool value) ? value
        : throw Field(field, $"\"{text}\" is not true or false");

    /// <summary>The body of an edit without fields: optional (no body = no operation id unless the query has one).</summary>
    private static async Task<OperationRequest> ReadOperation(HttpContext http) =>
        http.Request.ContentLength is null or 0 && !http.Request.Headers.ContainsKey("Transfer-Encoding")
            ? new OperationRequest(null)
            : await Read<OperationRequest>(http);
}
