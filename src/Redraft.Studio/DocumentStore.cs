using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Redraft.Imaging;

namespace Redraft.Studio;

/// <summary>
/// An open studio document folder: its current <see cref="Document"/>, its content-addressed images and its
/// history database. Every operation is recorded; nothing ever deletes a stored image, and <see cref="Undo"/>
/// moves back to the previous state.
/// </summary>
/// <remarks>
/// <para><b>Layout of a document folder</b></para>
/// <list type="bullet">
/// <item><c>document.json</c>: the current document (<see cref="DocumentJson"/>) and the history state it mirrors;
/// written atomically (temporary file + rename) after each committed operation.</item>
/// <item><c>images/SHA256.png</c>: every layer image and mask ever stored, named by the SHA-256 of the PNG
/// file's bytes (so a file's name verifies its content); written atomically before the operation that uses it
/// is committed; never deleted or overwritten.</item>
/// <item><c>history.db</c>: SQLite in WAL mode, <c>synchronous=FULL</c>; <c>PRAGMA application_id</c> = 0x52445246
/// ("RDRF"), <c>PRAGMA user_version</c> = <see cref="SchemaVersion"/>. Tables: <c>states</c> (every document
/// state ever reached, with its parent state), <c>operations</c> (one row per operation) and <c>meta</c>
/// (<c>head</c> = current state, <c>next_layer</c> = next layer number). Each operation is one transaction.</item>
/// </list>
/// <para><b>Crash safety.</b> The database is the authority. An operation (1) writes its new images, (2) commits
/// the new state, its history row and the new head in one transaction, (3) rewrites <c>document.json</c>. A kill
/// before (2) leaves the old state everywhere (at most an unreferenced image or a stray <c>.*.tmp</c> file); a
/// kill between (2) and (3) leaves <c>document.json</c> one state behind, and the next <see cref="Open"/> rolls it
/// forward to the head. <see cref="NewDocument(string, int?, int?, string?)"/> builds the folder under a temporary
/// name and renames it into place.</para>
/// <para>Not thread-safe. Two processes may open the same document; an operation whose process lost the race
/// fails with <see cref="StudioInputException"/> and changes nothing.</para>
/// </remarks>
public sealed class DocumentStore : IDisposable, ILayerPixels
{
    /// <summary>File name of the current document.</summary>
    public const string DocumentFileName = "document.json";

    /// <summary>Folder of content-addressed images.</summary>
    public const string ImagesFolderName = "images";

    /// <summary>File name of the history database.</summary>
    public const string DatabaseFileName = "history.db";

    /// <summary>Schema version written to <c>PRAGMA user_version</c>; newer databases are refused.</summary>
    public const int SchemaVersion = 1;

    /// <summary><c>PRAGMA application_id</c> of a history database: "RDRF".</summary>
    public const int ApplicationId = 0x52445246;

    private readonly SqliteConnection _db;
    private long _nextLayer;

    private DocumentStore(string folder, SqliteConnection db, Document document, long state, long nextLayer)
    {
        Folder = folder;
        _db = db;
        Document = document;
        StateId = state;
        _nextLayer = nextLayer;
    }

    /// <summary>Full path of the document folder.</summary>
    public string Folder { get; }

    /// <summary>The current document.</summary>
    public Document Document { get; private set; }

    /// <summary>The id of the current state in the history database.</summary>
    public long StateId { get; private set; }

    /// <summary>Path of <c>document.json</c>.</summary>
    public string DocumentPath => Path.Combine(Folder, DocumentFileName);

    /// <summary>Path of <c>history.db</c>.</summary>
    public string DatabasePath => Path.Combine(Folder, DatabaseFileName);

    // ---------------------------------------------------------------- create / open

    /// <summary>
    /// Creates a document folder (<c>redraft doc new</c>) and opens it. With <paramref name="fromImage"/> the image
    /// becomes layer <c>L1</c>; without a size the canvas takes the image's size, and with a different size the
    /// image is scaled to fit inside the canvas (aspect ratio kept) and centred.
    /// </summary>
    /// <param name="folder">Must not exist, or be an empty folder. Parent folders are created.</param>
    /// <param name="width">Canvas width, or null to take the image's (then <paramref name="height"/> must be null too).</param>
    /// <param name="height">Canvas height.</param>
    /// <param name="fromImage">Optional image file to start from (any format SkiaSharp reads; alpha kept).</param>
    /// <exception cref="StudioInputException">Folder not empty, no size and no image, size out of range, unreadable image.</exception>
    public static DocumentStore NewDocument(string folder, int? width, int? height, string? fromImage = null)
    {
        RgbaImage? from = fromImage is null ? null : ImageFiles.LoadRgba(fromImage);
        return NewDocument(folder, width, height, from, fromImage);
    }

    /// <summary>As <see cref="NewDocument(string, int?, int?, string?)"/>, from pixels in memory.</summary>
    /// <param name="folder">Must not exist, or be an empty folder.</param>
    /// <param name="width">Canvas width, or null for the image's.</param>
    /// <param name="height">Canvas height, or null for the image's.</param>
    /// <param name="from">Optional first layer.</param>
    /// <param name="fromName">Recorded as the source in the history (a path or a description).</param>
    public static DocumentStore NewDocument(string folder, int? width, int? height, RgbaImage? from, string? fromName = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if ((width is null) != (height is null))
            throw new StudioInputException("give both width and height, or neither (to use the image's size).");
        int w = width ?? from?.Width ?? throw new StudioInputException("give a canvas size or an image to start from.");
        int h = height ?? from!.Height;
        if (w < 1 || h < 1 || w > Document.MaxSide || h > Document.MaxSide)
            throw new StudioInputException($"canvas size {w}x{h} is out of range (1 to {Document.MaxSide} per side).");

        string full = Path.GetFullPath(folder);
        if (File.Exists(full))
            throw new StudioInputException($"{folder}: a file of that name exists; choose a new folder.");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new StudioInputException($"{folder}: already exists and is not empty; choose a new folder.");
        string parent = Path.GetDirectoryName(full.TrimEnd(Path.DirectorySeparatorChar))
            ?? throw new StudioInputException($"{folder}: cannot create a document at the root.");
        Directory.CreateDirectory(parent);

        string temp = Path.Combine(parent, $".{Path.GetFileName(full.TrimEnd(Path.DirectorySeparatorChar))}.new-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(Path.Combine(temp, ImagesFolderName));
            var layers = new List<Layer>();
            var parameters = new JsonObject { ["width"] = w, ["height"] = h, ["from"] = fromName };
            var outputs = new List<string>();
            if (from is not null)
            {
                string hash = StoreBytesIn(temp, ImageFiles.EncodePng(from));
                outputs.Add(hash);
                int x = 0, y = 0;
                double scale = 1;
                if (from.Width != w || from.Height != h)
                {
                    scale = Math.Min((double)w / from.Width, (double)h / from.Height);
                    var (sw, sh) = Compositor.ScaledSize(from.Width, from.Height, scale);
                    x = (w - sw) / 2;
                    y = (h - sh) / 2;
                }
                layers.Add(new Layer
                {
                    Id = "L1",
                    Name = fromName is null ? "background" : Path.GetFileNameWithoutExtension(fromName),
                    Image = hash, X = x, Y = y, Scale = scale,
                });
                parameters["image"] = hash;
                parameters["x"] = x;
                parameters["y"] = y;
                parameters["scale"] = scale;
            }
            var document = new Document(w, h, layers);
            document.Validate();

            using (var db = Connect(Path.Combine(temp, DatabaseFileName), create: true))
            {
                Execute(db, "PRAGMA journal_mode=WAL");
                Execute(db, "PRAGMA synchronous=FULL");
                using var tx = db.BeginTransaction();
                Execute(db, """
                    CREATE TABLE states (
                        id INTEGER PRIMARY KEY,
                        parent INTEGER REFERENCES states(id),
                        created TEXT NOT NULL,
                        document TEXT NOT NULL
                    );
                    CREATE TABLE operations (
                        id INTEGER PRIMARY KEY,
                        time TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        prompt TEXT,
                        seed INTEGER,
                        strength REAL,
                        sampler TEXT,
                        model_hash TEXT,
                        duration_ms INTEGER NOT NULL,
                        parameters TEXT NOT NULL,
                        inputs TEXT NOT NULL,
                        outputs TEXT NOT NULL,
                        state_before INTEGER REFERENCES states(id),
                        state_after INTEGER NOT NULL REFERENCES states(id)
                    );
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                    """, tx);
                Execute(db, $"PRAGMA application_id={ApplicationId}", tx);
                Execute(db, $"PRAGMA user_version={SchemaVersion}", tx);
                string now = Now();
                Execute(db, "INSERT INTO states (id, parent, created, document) VALUES (1, NULL, $t, $d)", tx,
                    ("$t", now), ("$d", DocumentJson.SerializeToString(document)));
                InsertOperation(db, tx, now, new OperationRecord
                {
                    Kind = "new",
                    ParametersJson = parameters.ToJsonString(),
                    Outputs = outputs,
                }, null, 1);
                Execute(db, "INSERT INTO meta (key, value) VALUES ('head', '1'), ('next_layer', $n)", tx,
                    ("$n", (layers.Count + 1).ToString(CultureInfo.InvariantCulture)));
                tx.Commit();
            }
            AtomicFile.WriteAllBytes(Path.Combine(temp, DocumentFileName), DocumentJson.Serialize(document, 1));

            if (Directory.Exists(full))
                Directory.Delete(full);
            Directory.Move(temp, full);
        }
        catch
        {
            try { if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
        return Open(full);
    }

    /// <summary>
    /// Opens a document folder, validating it: <c>document.json</c> parses and follows the rules, the database is
    /// a Redraft history database of a schema this version reads, <c>document.json</c> matches a recorded state,
    /// and every image the current state refers to exists. Nothing is changed when any check fails. If the last
    /// operation was committed but <c>document.json</c> not yet rewritten (a kill in between), the file is
    /// rolled forward to the committed state.
    /// </summary>
    /// <exception cref="StudioInputException">Any check failed (one line naming the file and the problem).</exception>
    public static DocumentStore Open(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        string full = Path.GetFullPath(folder);
        if (!Directory.Exists(full))
            throw new StudioInputException($"{folder}: no such document folder.");
        string jsonPath = Path.Combine(full, DocumentFileName);
        byte[] json;
        try
        {
            json = File.ReadAllBytes(jsonPath);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StudioInputException($"{jsonPath}: missing; {folder} is not a Redraft document.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StudioInputException($"{jsonPath}: cannot read ({ex.Message}).", ex);
        }
        var (fileDocument, fileState) = DocumentJson.Parse(json, jsonPath);
        if (fileState is null)
            throw new StudioInputException($"{jsonPath}: 'state' is missing.");

        string dbPath = Path.Combine(full, DatabaseFileName);
        if (!File.Exists(dbPath))
            throw new StudioInputException($"{dbPath}: missing; the document's history is gone.");
        SqliteConnection db = OpenDatabase(dbPath);
        try
        {
            long head = ReadHead(db, null, dbPath);
            Document headDocument = fileDocument;
            if (fileState != head)
            {
                Document recorded = ReadState(db, null, fileState.Value, dbPath)
                    ?? throw new StudioInputException($"{jsonPath}: refers to state {fileState}, which {dbPath} does not have.");
                if (!recorded.Equals(fileDocument))
                    throw new StudioInputException(
                        $"{jsonPath}: differs from state {fileState} recorded in {dbPath} (edited outside Redraft?); undo the edit or restore the file.");
                headDocument = ReadState(db, null, head, dbPath)
                    ?? throw new StudioInputException($"{dbPath}: the current state {head} is missing.");
            }
            else
            {
                Document? recorded = ReadState(db, null, head, dbPath);
                if (recorded is null)
                    throw new StudioInputException($"{dbPath}: the current state {head} is missing.");
                if (!recorded.Equals(fileDocument))
                    throw new StudioInputException(
                        $"{jsonPath}: differs from state {head} recorded in {dbPath} (edited outside Redraft?); undo the edit or restore the file.");
            }
            foreach (var layer in headDocument.Layers)
            {
                foreach (var (what, hash) in new[] { ("image", layer.Image), ("mask", layer.Mask) })
                    if (hash is not null && !File.Exists(ImagePathIn(full, hash)))
                        throw new StudioInputException(
                            $"{full}: layer {layer.Id} ('{layer.Name}'): {what} {ImagesFolderName}/{hash}.png is missing.");
            }
            long nextLayer = Math.Max(ReadMetaLong(db, null, "next_layer") ?? 1, MaxLayerNumber(headDocument) + 1);
            var store = new DocumentStore(full, db, headDocument, head, nextLayer);
            if (fileState != head)
                store.WriteDocumentFile();
            store.RemoveStaleTemporaryFiles();
            return store;
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    // ---------------------------------------------------------------- operations

    /// <summary>A fresh layer id (<c>L</c> + number), never used before in this document.</summary>
    public string NewLayerId() => "L" + (_nextLayer++).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Adds an image file as a new top layer (<c>redraft doc add-layer</c>); <paramref name="maskPath"/> is an
    /// optional visibility mask (white = keep) that must be the image's size.
    /// </summary>
    /// <exception cref="StudioInputException">Unreadable files, a mask of another size, values out of range, or a
    /// layer that would lie entirely outside the canvas. Nothing is changed.</exception>
    public Layer AddLayer(string imagePath, LayerOptions? options = null, string? maskPath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagePath);
        RgbaImage image = ImageFiles.LoadRgba(imagePath);
        MaskImage? mask = maskPath is null ? null : MaskImage.Load(maskPath);
        options ??= new LayerOptions();
        if (options.Name is null)
            options = options with { Name = Path.GetFileNameWithoutExtension(imagePath) };
        return AddLayer(image, options, mask, imagePath, maskPath);
    }

    /// <summary>Adds pixels as a new top layer; see <see cref="AddLayer(string, LayerOptions?, string?)"/>.</summary>
    /// <param name="image">The layer's pixels (straight alpha).</param>
    /// <param name="options">Placement, opacity, name.</param>
    /// <param name="mask">Optional visibility mask of the image's size (white = keep).</param>
    /// <param name="source">Recorded in the history as where the image came from.</param>
    /// <param name="maskSource">Recorded in the history as where the mask came from.</param>
    public Layer AddLayer(RgbaImage image, LayerOptions? options = null, MaskImage? mask = null, string? source = null, string? maskSource = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        options ??= new LayerOptions();
        if (!double.IsFinite(options.Scale) || options.Scale <= 0 || options.Scale > Document.MaxScale)
            throw new StudioInputException($"scale {options.Scale} is out of range (0 < scale <= {Document.MaxScale}).");
        if (!double.IsFinite(options.Opacity) || options.Opacity < 0 || options.Opacity > 1)
            throw new StudioInputException($"opacity {options.Opacity} is out of range (0 to 1).");
        if (mask is not null && (mask.Width != image.Width || mask.Height != image.Height))
            throw new StudioInputException(
                $"{maskSource ?? "mask"}: mask is {mask.Width}x{mask.Height} but the layer image is {image.Width}x{image.Height}; a layer mask must be the image's size (masks are not resized).");
        var (sw, sh) = Compositor.ScaledSize(image.Width, image.Height, options.Scale);
        if ((long)options.X + sw <= 0 || (long)options.Y + sh <= 0 || options.X >= Document.Width || options.Y >= Document.Height)
            throw new StudioInputException(
                $"a {sw}x{sh} layer at {options.X},{options.Y} lies entirely outside the {Document.Width}x{Document.Height} canvas.");

        string hash = StoreImage(image);
        string? maskHash = mask is null ? null : StoreMask(mask);
        var layer = new Layer
        {
            Id = NewLayerId(),
            Name = options.Name ?? "layer",
            Image = hash,
            Mask = maskHash,
            X = options.X,
            Y = options.Y,
            Scale = options.Scale,
            Opacity = options.Opacity,
            Visible = options.Visible,
        };
        var parameters = new JsonObject
        {
            ["layer"] = layer.Id,
            ["name"] = layer.Name,
            ["source"] = source,
            ["mask_source"] = maskSource,
            ["image"] = hash,
            ["mask"] = maskHash,
            ["x"] = layer.X,
            ["y"] = layer.Y,
            ["scale"] = layer.Scale,
            ["opacity"] = layer.Opacity,
            ["visible"] = layer.Visible,
        };
        RecordOperation(new OperationRecord
        {
            Kind = "add-layer",
            ParametersJson = parameters.ToJsonString(),
            Outputs = maskHash is null ? [hash] : [hash, maskHash],
        }, Document.WithLayerOnTop(layer));
        return layer;
    }

    /// <summary>
    /// Erases part of a layer (<c>redraft doc erase</c>): the layer's alpha is multiplied by (1 − mask/255), white
    /// = erase. The result is stored as a new image and the layer points at it; the old image is kept, so
    /// <see cref="Undo"/> brings it back.
    /// </summary>
    /// <remarks>
    /// With <see cref="MaskSpace.Canvas"/> (default) the mask must be the canvas's size; each layer pixel takes the
    /// mean of the mask over the canvas area it covers (area outside the canvas counts as 0, not erased). With
    /// <see cref="MaskSpace.Layer"/> the mask must be the layer image's size. Masks of other sizes are rejected,
    /// not resized.
    /// </remarks>
    /// <exception cref="StudioInputException">Unknown layer or mask of the wrong size; nothing is changed.</exception>
    public Layer Erase(string layerId, MaskImage mask, MaskSpace space = MaskSpace.Canvas, string? maskSource = null)
    {
        ArgumentNullException.ThrowIfNull(mask);
        Layer layer = Document.GetLayer(layerId);
        RgbaImage image = GetImage(layer.Image);
        int w = image.Width, h = image.Height;
        byte[] amount;
        if (space == MaskSpace.Layer)
        {
            if (mask.Width != w || mask.Height != h)
                throw new StudioInputException(
                    $"{maskSource ?? "mask"}: mask is {mask.Width}x{mask.Height} but layer {layer.Id}'s image is {w}x{h} (layer-space masks must match it; masks are not resized).");
            amount = mask.Pixels;
        }
        else
        {
            if (mask.Width != Document.Width || mask.Height != Document.Height)
                throw new StudioInputException(
                    $"{maskSource ?? "mask"}: mask is {mask.Width}x{mask.Height} but the canvas is {Document.Width}x{Document.Height} (erase masks are in canvas pixels; masks are not resized).");
            amount = CanvasMaskToLayer(mask, layer, w, h);
        }

        var pixels = (byte[])image.Pixels.Clone();
        for (int p = 0; p < amount.Length; p++)
        {
            int m = amount[p];
            if (m == 0) continue;
            int i = p * 4 + 3;
            pixels[i] = (byte)((pixels[i] * (255 - m) + 127) / 255);
        }
        string maskHash = StoreMask(mask);
        string newHash = StoreImage(new RgbaImage(w, h, pixels));
        var parameters = new JsonObject
        {
            ["layer"] = layer.Id,
            ["mask"] = maskHash,
            ["mask_source"] = maskSource,
            ["space"] = space == MaskSpace.Canvas ? "canvas" : "layer",
            ["image_before"] = layer.Image,
            ["image_after"] = newHash,
        };
        Document next = Document.WithLayer(layer.Id, l => l with { Image = newHash });
        RecordOperation(new OperationRecord
        {
            Kind = "erase",
            ParametersJson = parameters.ToJsonString(),
            Inputs = [layer.Image, maskHash],
            Outputs = [newHash],
        }, next);
        return next.GetLayer(layer.Id);
    }

    /// <summary>
    /// Goes back to the state before the current one (<c>redraft doc undo</c>), recording an <c>undo</c> row.
    /// Repeated calls walk back towards the document's first state; no image is deleted.
    /// </summary>
    /// <returns>The history row of the undo (its <see cref="HistoryEntry.StateAfter"/> is the state restored).</returns>
    /// <exception cref="StudioInputException">Already at the first state.</exception>
    public HistoryEntry Undo()
    {
        long? parent = ReadParent(_db, null, StateId);
        if (parent is null)
            throw new StudioInputException("nothing to undo: the document is at its first state.");
        Document previous = ReadState(_db, null, parent.Value, DatabasePath)
            ?? throw new StudioInputException($"{DatabasePath}: state {parent} is missing.");
        EnsureImagesExist(previous);
        long? undone = ScalarLong(_db, null,
            "SELECT id FROM operations WHERE state_after = $s AND kind <> 'undo' ORDER BY id LIMIT 1", ("$s", StateId));
        var parameters = new JsonObject { ["from_state"] = StateId, ["to_state"] = parent.Value, ["undoes"] = undone };
        return Commit(new OperationRecord { Kind = "undo", ParametersJson = parameters.ToJsonString() }, previous, parent.Value);
    }

    /// <summary>
    /// Accepts a candidate variation (<c>redraft doc pick</c>): the hidden candidate layer made by a generate step
    /// becomes a visible layer; the other candidates stay hidden. Recorded as a <c>pick</c> row.
    /// </summary>
    /// <exception cref="StudioInputException">No such layer, or it is not a hidden candidate.</exception>
    public Layer Pick(string layerId)
    {
        var layer = Document.GetLayer(layerId);
        if (!layer.Hidden || !layer.Name.StartsWith("candidate ", StringComparison.Ordinal))
            throw new StudioInputException($"layer '{layerId}' is not a hidden candidate (doc generate makes candidates named 'candidate <seed>').");
        var next = Document.WithLayer(layerId, l => l with { Hidden = false, Visible = true });
        var parameters = new JsonObject { ["layer"] = layerId, ["image"] = layer.Image, ["name"] = layer.Name };
        RecordOperation(new OperationRecord { Kind = "pick", ParametersJson = parameters.ToJsonString() }, next);
        return Document.GetLayer(layerId);
    }

    /// <summary>
    /// Records an operation done outside this class (generate, pick, harmonize…) and makes
    /// <paramref name="newDocument"/> current, in one transaction; then rewrites <c>document.json</c>.
    /// Store the operation's images first (<see cref="StoreImage"/>, <see cref="StorePng"/>, <see cref="StoreMask"/>).
    /// </summary>
    /// <exception cref="StudioInputException">Invalid kind or parameters, a document breaking the rules, an image
    /// hash not stored, the canvas size changed, or another process changed the document meanwhile. Nothing is
    /// changed.</exception>
    public HistoryEntry RecordOperation(OperationRecord operation, Document newDocument)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(newDocument);
        if (operation.Kind is null || operation.Kind.Length is 0 or > 32 || !operation.Kind.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-'))
            throw new StudioInputException($"operation kind '{operation.Kind}' is invalid (lowercase letters, digits and '-').");
        try
        {
            using var parsed = JsonDocument.Parse(operation.ParametersJson ?? "");
            if (parsed.RootElement.ValueKind != JsonValueKind.Object)
                throw new StudioInputException($"{operation.Kind}: parameters must be a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new StudioInputException($"{operation.Kind}: parameters are not valid JSON ({ex.Message.ReplaceLineEndings(" ")}).", ex);
        }
        newDocument.Validate();
        if (newDocument.Width != Document.Width || newDocument.Height != Document.Height)
            throw new StudioInputException(
                $"{operation.Kind}: the canvas is {Document.Width}x{Document.Height}; an operation cannot change it to {newDocument.Width}x{newDocument.Height}.");
        EnsureImagesExist(newDocument);
        foreach (string hash in operation.Inputs.Concat(operation.Outputs))
            if (!Document.IsHash(hash) || !File.Exists(ImagePath(hash)))
                throw new StudioInputException($"{operation.Kind}: image {hash} is not stored in {ImagesFolderName}/.");
        return Commit(operation, newDocument, null);
    }

    // ---------------------------------------------------------------- reading

    /// <summary>The composite of <paramref name="document"/> (default: the current one) over an opaque background.</summary>
    public RgbImage Render(Document? document = null, byte backgroundR = 255, byte backgroundG = 255, byte backgroundB = 255) =>
        Compositor.Render(document ?? Document, this, backgroundR, backgroundG, backgroundB);

    /// <summary>The composite over a transparent background.</summary>
    public RgbaImage RenderRgba(Document? document = null) => Compositor.RenderRgba(document ?? Document, this);

    /// <summary>Renders the current document to a PNG file, atomically (<c>redraft doc render</c>); RGB over white,
    /// or RGBA when <paramref name="transparent"/>.</summary>
    /// <exception cref="StudioInputException">The output folder does not exist or cannot be written.</exception>
    public void RenderToFile(string path, bool transparent = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            if (transparent) ImageFiles.SavePng(path, RenderRgba());
            else ImageFiles.SavePng(path, Render());
        }
        catch (Exception ex) when (ex is DirectoryNotFoundException or UnauthorizedAccessException or IOException)
        {
            throw new StudioInputException($"{path}: cannot write ({ex.Message}).", ex);
        }
    }

    /// <summary>Every operation, oldest first (<c>redraft doc history</c>).</summary>
    public IReadOnlyList<HistoryEntry> History()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = """
            SELECT id, time, kind, prompt, seed, strength, sampler, model_hash, duration_ms, parameters, inputs, outputs,
                   state_before, state_after
            FROM operations ORDER BY id
            """;
        using var r = cmd.ExecuteReader();
        var rows = new List<HistoryEntry>();
        while (r.Read())
        {
            rows.Add(new HistoryEntry(
                r.GetInt64(0),
                DateTimeOffset.Parse(r.GetString(1), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
                r.GetString(2),
                r.IsDBNull(3) ? null : r.GetString(3),
                r.IsDBNull(4) ? null : r.GetInt64(4),
                r.IsDBNull(5) ? null : r.GetDouble(5),
                r.IsDBNull(6) ? null : r.GetString(6),
                r.IsDBNull(7) ? null : r.GetString(7),
                TimeSpan.FromMilliseconds(r.GetInt64(8)),
                r.GetString(9),
                JsonSerializer.Deserialize<List<string>>(r.GetString(10)) ?? [],
                JsonSerializer.Deserialize<List<string>>(r.GetString(11)) ?? [],
                r.IsDBNull(12) ? null : r.GetInt64(12),
                r.GetInt64(13)));
        }
        return rows;
    }

    /// <summary>The document as it was in state <paramref name="stateId"/> (for re-running a step).</summary>
    /// <exception cref="StudioInputException">No such state.</exception>
    public Document GetState(long stateId) =>
        ReadState(_db, null, stateId, DatabasePath) ?? throw new StudioInputException($"{DatabasePath}: no state {stateId}.");

    // ---------------------------------------------------------------- images

    /// <summary>Path of the stored image or mask named <paramref name="hash"/>.</summary>
    public string ImagePath(string hash)
    {
        if (!Document.IsHash(hash))
            throw new StudioInputException($"'{hash}' is not an image hash (64 lowercase hex digits).");
        return ImagePathIn(Folder, hash);
    }

    /// <summary>Encodes and stores an RGBA image; returns its hash. Storing the same bytes twice is a no-op.</summary>
    public string StoreImage(RgbaImage image) => StoreBytesIn(Folder, ImageFiles.EncodePng(image));

    /// <summary>Encodes and stores a mask as a grayscale PNG; returns its hash.</summary>
    public string StoreMask(MaskImage mask) => StoreBytesIn(Folder, ImageFiles.EncodePng(mask));

    /// <summary>
    /// Stores PNG bytes as they are (keeping, say, a <c>parameters</c> text chunk); returns their hash.
    /// </summary>
    /// <exception cref="StudioInputException">Not a PNG that decodes.</exception>
    public string StorePng(ReadOnlySpan<byte> png)
    {
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (!png.StartsWith(signature))
            throw new StudioInputException("not a PNG (bad signature).");
        var bytes = png.ToArray();
        ImageFiles.DecodeRgba(bytes, "PNG");
        return StoreBytesIn(Folder, bytes);
    }

    /// <summary>Loads a stored image, checking that its bytes still match its name.</summary>
    /// <exception cref="StudioInputException">Missing, corrupt, or not decodable.</exception>
    public RgbaImage GetImage(string hash)
    {
        string path = ImagePath(hash);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StudioInputException($"{path}: image is missing.", ex);
        }
        if (HashOf(bytes) != hash)
            throw new StudioInputException($"{path}: content does not match its name (the file is corrupt).");
        return ImageFiles.DecodeRgba(bytes, path);
    }

    /// <summary>Loads a stored mask (see <see cref="GetImage"/>; decoded as in <see cref="MaskImage.FromRgba"/>).</summary>
    public MaskImage GetMask(string hash) => MaskImage.FromRgba(GetImage(hash));

    // ---------------------------------------------------------------- verification

    /// <summary>
    /// Checks the whole folder: SQLite integrity, every state parses and has its parent, every history row's
    /// states exist, <c>document.json</c> mirrors the head, and every image named by any state or history row
    /// exists, matches its hash and decodes. Returns the problems found (empty when consistent).
    /// </summary>
    public IReadOnlyList<string> Verify()
    {
        var problems = new List<string>();
        string integrity = ScalarString(_db, null, "PRAGMA integrity_check") ?? "no result";
        if (integrity != "ok") problems.Add($"{DatabasePath}: integrity check: {integrity}");

        var hashes = new SortedSet<string>(StringComparer.Ordinal);
        var states = new Dictionary<long, long?>();
        using (var cmd = _db.CreateCommand())
        {
            cmd.CommandText = "SELECT id, parent, document FROM states ORDER BY id";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                long id = r.GetInt64(0);
                states[id] = r.IsDBNull(1) ? null : r.GetInt64(1);
                try
                {
                    var (doc, _) = DocumentJson.Parse(Encoding.UTF8.GetBytes(r.GetString(2)), $"state {id}");
                    foreach (var l in doc.Layers)
                    {
                        hashes.Add(l.Image);
                        if (l.Mask is not null) hashes.Add(l.Mask);
                    }
                }
                catch (StudioInputException ex) { problems.Add(ex.Message); }
            }
        }
        foreach (var (id, parent) in states)
            if (parent is long p && !states.ContainsKey(p)) problems.Add($"state {id}: parent {p} does not exist");
        foreach (var e in History())
        {
            if (!states.ContainsKey(e.StateAfter)) problems.Add($"history row {e.Id}: state {e.StateAfter} does not exist");
            if (e.StateBefore is long b && !states.ContainsKey(b)) problems.Add($"history row {e.Id}: state {b} does not exist");
            foreach (var h in e.Inputs.Concat(e.Outputs)) hashes.Add(h);
        }
        long head = ReadHead(_db, null, DatabasePath);
        if (!states.ContainsKey(head)) problems.Add($"head state {head} does not exist");
        try
        {
            var (fileDoc, fileState) = DocumentJson.Parse(File.ReadAllBytes(DocumentPath), DocumentPath);
            if (fileState != head) problems.Add($"{DocumentPath}: mirrors state {fileState}, the head is {head}");
            else if (!fileDoc.Equals(GetState(head))) problems.Add($"{DocumentPath}: differs from state {head}");
        }
        catch (Exception ex) when (ex is StudioInputException or IOException) { problems.Add(ex.Message); }
        foreach (var h in hashes)
        {
            try { GetImage(h); }
            catch (StudioInputException ex) { problems.Add(ex.Message); }
        }
        return problems;
    }

    /// <summary>Closes the database.</summary>
    public void Dispose() => _db.Dispose();

    // ---------------------------------------------------------------- internals

    private HistoryEntry Commit(OperationRecord operation, Document newDocument, long? existingState)
    {
        string now = Now();
        long nextLayer = Math.Max(_nextLayer, MaxLayerNumber(newDocument) + 1);
        long stateAfter, opId;
        using (var tx = _db.BeginTransaction(deferred: false))
        {
            long head = ReadHead(_db, tx, DatabasePath);
            if (head != StateId)
                throw new StudioInputException(
                    $"{Folder}: the document was changed by another process (now at state {head}, this one opened it at {StateId}); open it again.");
            if (existingState is long existing)
                stateAfter = existing;
            else
            {
                Execute(_db, "INSERT INTO states (parent, created, document) VALUES ($p, $t, $d)", tx,
                    ("$p", head), ("$t", now), ("$d", DocumentJson.SerializeToString(newDocument)));
                stateAfter = ScalarLong(_db, tx, "SELECT last_insert_rowid()")!.Value;
            }
            opId = InsertOperation(_db, tx, now, operation, head, stateAfter);
            long stored = ReadMetaLong(_db, tx, "next_layer") ?? 1;
            Execute(_db, "UPDATE meta SET value = $v WHERE key = 'head'", tx, ("$v", stateAfter.ToString(CultureInfo.InvariantCulture)));
            Execute(_db, "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_layer', $v)", tx,
                ("$v", Math.Max(stored, nextLayer).ToString(CultureInfo.InvariantCulture)));
            tx.Commit();
        }
        long before = StateId;
        Document = newDocument;
        StateId = stateAfter;
        _nextLayer = nextLayer;
        WriteDocumentFile();
        return new HistoryEntry(opId, DateTimeOffset.Parse(now, CultureInfo.InvariantCulture), operation.Kind, operation.Prompt,
            operation.Seed, operation.Strength, operation.Sampler, operation.ModelHash, TimeSpan.FromMilliseconds(DurationMs(operation)),
            operation.ParametersJson, [.. operation.Inputs], [.. operation.Outputs], before, stateAfter);
    }

    /// <summary>
    /// Deletes temporary files a killed writer left (<c>.NAME.GUID.tmp</c> in the folder and in <c>images/</c>), if
    /// older than ten minutes so a live writer in another process is never disturbed. Best effort.
    /// </summary>
    private void RemoveStaleTemporaryFiles()
    {
        DateTime cutoff = DateTime.UtcNow - TimeSpan.FromMinutes(10);
        foreach (string dir in new[] { Folder, Path.Combine(Folder, ImagesFolderName) })
        {
            try
            {
                foreach (string file in Directory.EnumerateFiles(dir, ".*.tmp"))
                    if (File.GetLastWriteTimeUtc(file) < cutoff)
                        File.Delete(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        }
    }

    private void WriteDocumentFile() => AtomicFile.WriteAllBytes(DocumentPath, DocumentJson.Serialize(Document, StateId));

    private void EnsureImagesExist(Document document)
    {
        foreach (var layer in document.Layers)
        {
            if (!File.Exists(ImagePath(layer.Image)))
                throw new StudioInputException($"layer {layer.Id}: image {layer.Image} is not stored in {ImagesFolderName}/.");
            if (layer.Mask is not null && !File.Exists(ImagePath(layer.Mask)))
                throw new StudioInputException($"layer {layer.Id}: mask {layer.Mask} is not stored in {ImagesFolderName}/.");
        }
    }

    /// <summary>Mean of a canvas-sized mask over each layer pixel's footprint on the canvas (outside = 0).</summary>
    private byte[] CanvasMaskToLayer(MaskImage mask, Layer layer, int w, int h)
    {
        var (sw, sh) = Compositor.ScaledSize(w, h, layer.Scale);
        var xs = Footprints(w, sw, layer.X, Document.Width);
        var ys = Footprints(h, sh, layer.Y, Document.Height);
        var result = new byte[w * h];
        for (int ly = 0; ly < h; ly++)
        {
            var (y0, wy) = ys[ly];
            if (wy.Length == 0) continue;
            for (int lx = 0; lx < w; lx++)
            {
                var (x0, wx) = xs[lx];
                if (wx.Length == 0) continue;
                double sum = 0;
                for (int j = 0; j < wy.Length; j++)
                {
                    int row = (y0 + j) * Document.Width + x0;
                    double acc = 0;
                    for (int i = 0; i < wx.Length; i++) acc += wx[i] * mask.Pixels[row + i];
                    sum += acc * wy[j];
                }
                result[ly * w + lx] = (byte)Math.Clamp(Math.Round(sum, MidpointRounding.AwayFromZero), 0, 255);
            }
        }
        return result;
    }

    /// <summary>For each of <paramref name="n"/> layer pixels scaled to <paramref name="scaled"/>, the canvas cells
    /// it covers (first cell, fraction of the pixel's footprint in each; cells outside the canvas omitted).</summary>
    private static (int First, double[] Weights)[] Footprints(int n, int scaled, int offset, int canvas)
    {
        var result = new (int, double[])[n];
        for (int i = 0; i < n; i++)
        {
            double a = offset + (double)((long)i * scaled) / n, b = offset + (double)((long)(i + 1) * scaled) / n;
            double length = b - a;
            int first = Math.Max(0, (int)Math.Floor(a)), last = Math.Min(canvas - 1, (int)Math.Ceiling(b) - 1);
            if (first > last) { result[i] = (0, []); continue; }
            var weights = new double[last - first + 1];
            for (int c = first; c <= last; c++)
                weights[c - first] = Math.Max(0, Math.Min(c + 1, b) - Math.Max(c, a)) / length;
            result[i] = (first, weights);
        }
        return result;
    }

    private static long MaxLayerNumber(Document document)
    {
        long max = 0;
        foreach (var l in document.Layers)
            if (l.Id.Length > 1 && l.Id[0] == 'L' && long.TryParse(l.Id.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out long n))
                max = Math.Max(max, n);
        return max;
    }

    private static string ImagePathIn(string folder, string hash) => Path.Combine(folder, ImagesFolderName, hash + ".png");

    private static string HashOf(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static string StoreBytesIn(string folder, byte[] png)
    {
        string hash = HashOf(png);
        string path = ImagePathIn(folder, hash);
        if (!File.Exists(path))
            AtomicFile.WriteAllBytes(path, png);
        return hash;
    }

    private static string Now() => DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static long DurationMs(OperationRecord op) => (long)Math.Round(Math.Max(0, op.Duration.TotalMilliseconds));

    private static long InsertOperation(SqliteConnection db, SqliteTransaction tx, string now, OperationRecord op, long? before, long after)
    {
        Execute(db, """
            INSERT INTO operations (time, kind, prompt, seed, strength, sampler, model_hash, duration_ms, parameters,
                                    inputs, outputs, state_before, state_after)
            VALUES ($time, $kind, $prompt, $seed, $strength, $sampler, $model, $duration, $parameters,
                    $inputs, $outputs, $before, $after)
            """, tx,
            ("$time", now), ("$kind", op.Kind), ("$prompt", op.Prompt), ("$seed", op.Seed), ("$strength", op.Strength),
            ("$sampler", op.Sampler), ("$model", op.ModelHash), ("$duration", DurationMs(op)),
            ("$parameters", op.ParametersJson), ("$inputs", JsonSerializer.Serialize(op.Inputs.ToArray())),
            ("$outputs", JsonSerializer.Serialize(op.Outputs.ToArray())), ("$before", before), ("$after", after));
        return ScalarLong(db, tx, "SELECT last_insert_rowid()")!.Value;
    }

    private static SqliteConnection Connect(string path, bool create)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = 30,
        };
        var db = new SqliteConnection(builder.ToString());
        db.Open();
        Execute(db, "PRAGMA busy_timeout=10000");
        return db;
    }

    private static SqliteConnection OpenDatabase(string path)
    {
        SqliteConnection? db = null;
        try
        {
            db = Connect(path, create: false);
            long appId = ScalarLong(db, null, "PRAGMA application_id") ?? 0;
            long version = ScalarLong(db, null, "PRAGMA user_version") ?? 0;
            if (appId != ApplicationId)
                throw new StudioInputException($"{path}: not a Redraft history database (application id {appId}).");
            if (version > SchemaVersion)
                throw new StudioInputException(
                    $"{path}: history schema version {version} is newer than this Redraft reads ({SchemaVersion}); upgrade Redraft.");
            if (version < 1)
                throw new StudioInputException($"{path}: history schema version {version} is invalid.");
            Execute(db, "PRAGMA journal_mode=WAL");
            Execute(db, "PRAGMA synchronous=FULL");
            return db;
        }
        catch (SqliteException ex)
        {
            db?.Dispose();
            throw new StudioInputException($"{path}: cannot read the history database ({ex.Message.ReplaceLineEndings(" ")}).", ex);
        }
        catch
        {
            db?.Dispose();
            throw;
        }
    }

    private static long ReadHead(SqliteConnection db, SqliteTransaction? tx, string path)
    {
        try
        {
            return ReadMetaLong(db, tx, "head") ?? throw new StudioInputException($"{path}: the current state (meta 'head') is missing.");
        }
        catch (SqliteException ex)
        {
            throw new StudioInputException($"{path}: cannot read the history database ({ex.Message.ReplaceLineEndings(" ")}).", ex);
        }
    }

    private static long? ReadMetaLong(SqliteConnection db, SqliteTransaction? tx, string key)
    {
        string? value = ScalarString(db, tx, "SELECT value FROM meta WHERE key = $k", ("$k", key));
        return value is null ? null : long.Parse(value, CultureInfo.InvariantCulture);
    }

    private static Document? ReadState(SqliteConnection db, SqliteTransaction? tx, long id, string path)
    {
        string? json = ScalarString(db, tx, "SELECT document FROM states WHERE id = $id", ("$id", id));
        return json is null ? null : DocumentJson.Parse(Encoding.UTF8.GetBytes(json), $"{path} state {id}").Document;
    }

    private static long? ReadParent(SqliteConnection db, SqliteTransaction? tx, long id) =>
        ScalarLong(db, tx, "SELECT parent FROM states WHERE id = $id", ("$id", id));

    private static void Execute(SqliteConnection db, string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] args)
    {
        using var cmd = Command(db, sql, tx, args);
        cmd.ExecuteNonQuery();
    }

    private static long? ScalarLong(SqliteConnection db, SqliteTransaction? tx, string sql, params (string Name, object? Value)[] args)
    {
        using var cmd = Command(db, sql, tx, args);
        object? v = cmd.ExecuteScalar();
        return v is null or DBNull ? null : Convert.ToInt64(v, CultureInfo.InvariantCulture);
    }

    private static string? ScalarString(SqliteConnection db, SqliteTransaction? tx, string sql, params (string Name, object? Value)[] args)
    {
        using var cmd = Command(db, sql, tx, args);
        object? v = cmd.ExecuteScalar();
        return v is null or DBNull ? null : Convert.ToString(v, CultureInfo.InvariantCulture);
    }

    private static SqliteCommand Command(SqliteConnection db, string sql, SqliteTransaction? tx, (string Name, object? Value)[] args)
    {
        var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        foreach (var (name, value) in args)
            cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }
}
