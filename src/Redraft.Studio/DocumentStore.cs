using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

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
/// <item><c>history.db</c>: the history (<see cref="HistoryDatabase"/>): every state, every operation, the head.</item>
/// <item><c>.lock</c>: held by a process only while it commits an operation.</item>
/// </list>
/// <para><b>Crash safety.</b> The database is the authority. An operation (1) writes its new images, (2) commits
/// the new state, its history row and the new head in one transaction, (3) rewrites <c>document.json</c>. A kill
/// before (2) leaves the old state everywhere (at most an unreferenced image or a stray <c>.*.tmp</c> file); a
/// kill between (2) and (3) leaves <c>document.json</c> one state behind, and the next <see cref="Open"/> rolls it
/// forward to the head. <see cref="NewDocument(string, int?, int?, string?)"/> builds the folder under a temporary
/// name and renames it into place.</para>
/// <para><b>Concurrency.</b> Every edit is a function of the document (<see cref="Apply"/>): it is applied to whatever
/// state is current when it commits, under a lock per document in the process and a file lock (<c>.lock</c>) across
/// processes, held only for the commit (never during a generation). So an edit made while a generation runs is kept,
/// and two processes editing one document both succeed. An edit that no longer applies (its layer was deleted
/// meanwhile) is refused with a clear message and changes nothing. An operation may carry a client-chosen id: a
/// second commit with the same id returns the first's history row and applies nothing.</para>
/// </remarks>
public sealed class DocumentStore : IDisposable, ILayerPixels
{
    /// <summary>File name of the current document.</summary>
    public const string DocumentFileName = "document.json";

    /// <summary>Folder of content-addressed images.</summary>
    public const string ImagesFolderName = "images";

    /// <summary>File name of the history database.</summary>
    public const string DatabaseFileName = "history.db";

    /// <summary>Schema version written to <c>PRAGMA user_version</c>; newer databases are refused, older ones migrated.</summary>
    public const int SchemaVersion = HistoryDatabase.SchemaVersion;

    /// <summary><c>PRAGMA application_id</c> of a history database: "RDRF".</summary>
    public const int ApplicationId = HistoryDatabase.ApplicationId;

    /// <summary>The file a process holds while it commits.</summary>
    public const string LockFileName = ".lock";

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, object> ProcessLocks = new(StringComparer.Ordinal);

    private readonly HistoryDatabase _history;
    private long _nextLayer;

    private DocumentStore(string folder, HistoryDatabase history, Document document, long state, long nextLayer)
    {
        Folder = folder;
        _history = history;
        Images = new ImageStore(folder);
        Document = document;
        StateId = state;
        _nextLayer = nextLayer;
    }

    /// <summary>Full path of the document folder.</summary>
    public string Folder { get; }

    /// <summary>The document's content-addressed images.</summary>
    public ImageStore Images { get; }

    /// <summary>The current document, as of this store's last commit or <see cref="Refresh"/>.</summary>
    public Document Document { get; private set; }

    /// <summary>The id of the current state in the history database.</summary>
    public long StateId { get; private set; }

    /// <summary>The document's id: stable for its life, recorded in rendered PNGs.</summary>
    public string DocumentId => _history.DocumentId;

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
    /// <exception cref="RedraftInputException">Folder not empty, no size and no image, size out of range, unreadable image.</exception>
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

        string full = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar);
        if (File.Exists(full))
            throw new StudioInputException($"{folder}: a file of that name exists; choose a new folder.");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new StudioInputException($"{folder}: already exists and is not empty; choose a new folder.");
        string parent = Path.GetDirectoryName(full)
            ?? throw new StudioInputException($"{folder}: cannot create a document at the root.");
        Directory.CreateDirectory(parent);
        RemoveAbandonedNewFolders(full);

        string temp = Path.Combine(parent, $".{Path.GetFileName(full)}.new-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(Path.Combine(temp, ImagesFolderName));
            // Held while the folder is built: a later open knows a folder whose lock it can take was abandoned.
            using (var building = new FileStream(Path.Combine(temp, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
            {
                var images = new ImageStore(temp);
                var layers = new List<Layer>();
                var parameters = new JsonObject { ["width"] = w, ["height"] = h, ["from"] = fromName };
                var outputs = new List<string>();
                if (from is not null)
                {
                    string hash = images.Store(from);
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
                HistoryDatabase.Create(Path.Combine(temp, DatabaseFileName), document,
                    new OperationRecord { Kind = "new", ParametersJson = parameters.ToJsonString(), Outputs = outputs }, layers.Count + 1);
                AtomicFile.WriteAllBytes(Path.Combine(temp, DocumentFileName), DocumentJson.Serialize(document, 1));
            }
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
    /// a Redraft history database of a schema this version reads (an older one is migrated), <c>document.json</c>
    /// matches a recorded state, and every image the current state refers to exists. Nothing is changed when any
    /// check fails. If the last operation was committed but <c>document.json</c> not yet rewritten (a kill in
    /// between), the file is rolled forward to the committed state. Folders a killed <c>doc new</c> left beside it
    /// are removed.
    /// </summary>
    /// <exception cref="StudioInputException">Any check failed (one line naming the file and the problem).</exception>
    public static DocumentStore Open(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        string full = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar);
        RemoveAbandonedNewFolders(full);
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
        var history = HistoryDatabase.Open(dbPath);
        try
        {
            long head = history.Head();
            Document recorded = history.State(fileState.Value)
                ?? throw new StudioInputException($"{jsonPath}: refers to state {fileState}, which {dbPath} does not have.");
            if (!recorded.Equals(fileDocument))
                throw new StudioInputException(
                    $"{jsonPath}: differs from state {fileState} recorded in {dbPath} (edited outside Redraft?); undo the edit or restore the file.");
            Document headDocument = fileState == head ? fileDocument
                : history.State(head) ?? throw new StudioInputException($"{dbPath}: the current state {head} is missing.");
            var images = new ImageStore(full);
            foreach (var layer in headDocument.Layers)
            {
                foreach (var (what, hash) in new[] { ("image", layer.Image), ("mask", layer.Mask) })
                    if (hash is not null && !images.Contains(hash))
                        throw new StudioInputException(
                            $"{full}: layer {layer.Id} ('{layer.Name}'): {what} {ImagesFolderName}/{hash}.png is missing.");
            }
            long nextLayer = Math.Max(history.NextLayer(), MaxLayerNumber(headDocument) + 1);
            var store = new DocumentStore(full, history, headDocument, head, nextLayer);
            if (fileState != head)
                store.WithFileLock(store.WriteDocumentFile);
            store.RemoveStaleTemporaryFiles();
            return store;
        }
        catch
        {
            history.Dispose();
            throw;
        }
    }

    /// <summary>
    /// What is wrong with a document folder, each problem naming the broken part (the history database,
    /// <c>document.json</c>, an image, including images only older states use); empty when it is sound
    /// (<c>redraft doc verify</c>).
    /// </summary>
    public static IReadOnlyList<string> Diagnose(string folder)
    {
        try
        {
            using var store = Open(folder);
            return store.Verify();
        }
        catch (RedraftInputException ex)
        {
            return [ex.Message];
        }
    }

    /// <summary>Reads the current state again (other processes may have committed since).</summary>
    public void Refresh()
    {
        long head = _history.Head();
        if (head == StateId) return;
        Document = _history.State(head) ?? throw new StudioInputException($"{DatabasePath}: the current state {head} is missing.");
        StateId = head;
    }

    // ---------------------------------------------------------------- the commit

    /// <summary>
    /// Applies an edit to the current document and records it, atomically: <paramref name="edit"/> gets the document
    /// as it is when the commit starts (whatever other edits landed meanwhile, in this process or another) and
    /// returns the new document and the history row. Under the document's lock in this process and its file lock
    /// across processes, held only for the commit. With <paramref name="operationId"/>, a second commit of the same
    /// id returns the first's row and changes nothing.
    /// </summary>
    /// <exception cref="RedraftInputException">The edit does not apply (say, its layer was deleted meanwhile) or breaks a
    /// document rule; nothing is changed.</exception>
    public HistoryEntry Apply(Func<EditContext, (Document Next, OperationRecord Operation)> edit, string? operationId = null) =>
        Commit(operationId, context =>
        {
            var (next, operation) = edit(context);
            return new Change(next, operation, null, RedoAction.Clear);
        });

    /// <summary>What an edit sees while it commits.</summary>
    public sealed class EditContext
    {
        private readonly DocumentStore _store;
        private long _nextLayer;

        internal EditContext(DocumentStore store, Document current, long state, long operationId, long nextLayer)
        {
            _store = store;
            Current = current;
            State = state;
            OperationId = operationId;
            _nextLayer = nextLayer;
        }

        /// <summary>The document as it is now, with every edit committed before this one.</summary>
        public Document Current { get; }

        /// <summary>The state <see cref="Current"/> is.</summary>
        public long State { get; }

        /// <summary>The history row id this operation will have (generated layers record it).</summary>
        public long OperationId { get; }

        /// <summary>The document's images (edits store new pixels here).</summary>
        public ImageStore Images => _store.Images;

        /// <summary>A layer id never used before in this document, across processes.</summary>
        public string NewLayerId() => "L" + (_nextLayer++).ToString(CultureInfo.InvariantCulture);

        internal long NextLayer => _nextLayer;
    }

    private enum RedoAction { Clear, Push, Pop }

    private sealed record Change(Document Next, OperationRecord Operation, long? ExistingState, RedoAction Redo);

    private HistoryEntry Commit(string? operationId, Func<EditContext, Change> decide)
    {
        if (operationId is not null && (operationId.Length is 0 or > 128 || operationId.Any(char.IsControl)))
            throw new StudioInputException("an operation id must be 1 to 128 printable characters.");
        return WithFileLock(() =>
        {
            HistoryEntry? done;
            long stateAfter, stateBefore, operationRow;
            Change change;
            var tx = _history.BeginWrite();
            try
            {
                done = operationId is null ? null : _history.FindOperation(operationId, tx);
                if (done is not null)
                {
                    tx.Rollback();
                    Refresh();
                    return done;
                }
                stateBefore = _history.Head(tx);
                Document current = stateBefore == StateId ? Document
                    : _history.State(stateBefore, tx) ?? throw new StudioInputException($"{DatabasePath}: the current state {stateBefore} is missing.");
                long nextLayer = Math.Max(Math.Max(_nextLayer, _history.NextLayer(tx)), MaxLayerNumber(current) + 1);
                var context = new EditContext(this, current, stateBefore, _history.NextOperationId(tx), nextLayer);
                change = decide(context);
                Check(change.Operation, change.Next, current);
                var redo = _history.RedoStack(tx);
                switch (change.Redo)
                {
                    case RedoAction.Clear: redo.Clear(); break;
                    case RedoAction.Push: redo.Add(stateBefore); break;
                    case RedoAction.Pop: redo.RemoveAt(redo.Count - 1); break;
                }
                long layers = Math.Max(context.NextLayer, MaxLayerNumber(change.Next) + 1);
                (stateAfter, operationRow) = _history.Record(tx, change.Operation, stateBefore, change.Next, change.ExistingState, layers, redo, operationId);
                tx.Commit();
                _nextLayer = layers;
            }
            finally
            {
                tx.Dispose();
            }
            Document = change.Next;
            StateId = stateAfter;
            WriteDocumentFile();
            return _history.Operation(operationRow)
                ?? throw new InvalidOperationException("the operation just recorded is not in the history.");
        });
    }

    /// <summary>The rules every recorded operation follows (the document's own, stored images, a valid kind).</summary>
    private void Check(OperationRecord operation, Document next, Document current)
    {
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
        next.Validate();
        if ((next.Width != current.Width || next.Height != current.Height) && operation.Kind is not ("resize-canvas" or "undo" or "redo"))
            throw new StudioInputException(
                $"{operation.Kind}: the canvas is {current.Width}x{current.Height}; an operation cannot change it to {next.Width}x{next.Height}.");
        EnsureImagesExist(next);
        foreach (string hash in operation.Inputs.Concat(operation.Outputs))
            if (!Images.Contains(hash))
                throw new StudioInputException($"{operation.Kind}: image {hash} is not stored in {ImagesFolderName}/.");
    }

    /// <summary>Runs <paramref name="work"/> under the document's lock in this process and its file lock across processes.</summary>
    private T WithFileLock<T>(Func<T> work)
    {
        lock (ProcessLocks.GetOrAdd(Folder, _ => new object()))
        {
            using var held = AcquireFileLock();
            return work();
        }
    }

    private void WithFileLock(Action work) => WithFileLock(() => { work(); return 0; });

    /// <summary>
    /// The <c>.lock</c> file opened exclusively (an advisory lock on Linux, released when the process dies), retried
    /// for up to a minute: other processes hold it only while they commit.
    /// </summary>
    private FileStream AcquireFileLock()
    {
        string path = Path.Combine(Folder, LockFileName);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (clock.Elapsed < TimeSpan.FromMinutes(1))
            {
                Thread.Sleep(Math.Min(50, 2 + attempt));
            }
            catch (IOException ex)
            {
                throw new StudioInputException($"{path}: another process has held the document's lock for a minute; is it stuck? ({ex.Message})", ex);
            }
        }
    }

    // ---------------------------------------------------------------- operations

    /// <summary>A fresh layer id (<c>L</c> + number) for <see cref="RecordOperation"/>; edits through <see cref="Apply"/> use <see cref="EditContext.NewLayerId"/>.</summary>
    public string NewLayerId() => "L" + (_nextLayer++).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Adds an image file as a new top layer (<c>redraft doc add-layer</c>); <paramref name="maskPath"/> is an
    /// optional visibility mask (white = keep) that must be the image's size.
    /// </summary>
    /// <exception cref="RedraftInputException">Unreadable files, a mask of another size, values out of range, or a
    /// layer that would lie entirely outside the canvas. Nothing is changed.</exception>
    public Layer AddLayer(string imagePath, LayerOptions? options = null, string? maskPath = null, string? operationId = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagePath);
        RgbaImage image = ImageFiles.LoadRgba(imagePath);
        MaskImage? mask = maskPath is null ? null : MaskImage.Load(maskPath);
        options ??= new LayerOptions();
        if (options.Name is null)
            options = options with { Name = Path.GetFileNameWithoutExtension(imagePath) };
        return AddLayer(image, options, mask, imagePath, maskPath, operationId);
    }

    /// <summary>Adds pixels as a new top layer; see <see cref="AddLayer(string, LayerOptions?, string?, string?)"/>.</summary>
    /// <param name="image">The layer's pixels (straight alpha).</param>
    /// <param name="options">Placement, opacity, name.</param>
    /// <param name="mask">Optional visibility mask of the image's size (white = keep).</param>
    /// <param name="source">Recorded in the history as where the image came from.</param>
    /// <param name="maskSource">Recorded in the history as where the mask came from.</param>
    /// <param name="operationId">Optional client id: committing it again returns the first result.</param>
    public Layer AddLayer(RgbaImage image, LayerOptions? options = null, MaskImage? mask = null, string? source = null, string? maskSource = null,
        string? operationId = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        options ??= new LayerOptions();
        CheckPlacement(options.Scale, options.Opacity);
        if (mask is not null && (mask.Width != image.Width || mask.Height != image.Height))
            throw new StudioInputException(
                $"{maskSource ?? "mask"}: mask is {mask.Width}x{mask.Height} but the layer image is {image.Width}x{image.Height}; a layer mask must be the image's size (masks are not resized).");
        var entry = Apply(c =>
        {
            var (sw, sh) = Compositor.ScaledSize(image.Width, image.Height, options.Scale);
            EnsureOnCanvas(sw, sh, options.X, options.Y, c.Current);
            // Stored only once the edit is known to apply: a refused edit leaves no file behind.
            string hash = Images.Store(image);
            string? maskHash = mask is null ? null : Images.Store(mask);
            var layer = new Layer
            {
                Id = c.NewLayerId(), Name = options.Name ?? "layer", Image = hash, Mask = maskHash,
                X = options.X, Y = options.Y, Scale = options.Scale, Opacity = options.Opacity, Visible = options.Visible,
            };
            var parameters = new JsonObject
            {
                ["layer"] = layer.Id, ["name"] = layer.Name, ["source"] = source, ["mask_source"] = maskSource, ["image"] = hash,
                ["mask"] = maskHash, ["x"] = layer.X, ["y"] = layer.Y, ["scale"] = layer.Scale, ["opacity"] = layer.Opacity,
                ["visible"] = layer.Visible,
            };
            return (c.Current.WithLayerOnTop(layer), new OperationRecord
            {
                Kind = "add-layer", ParametersJson = parameters.ToJsonString(), Outputs = maskHash is null ? [hash] : [hash, maskHash],
            });
        }, operationId);
        return Document.GetLayer(LayerOf(entry));
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
    public Layer Erase(string layerId, MaskImage mask, MaskSpace space = MaskSpace.Canvas, string? maskSource = null, string? operationId = null)
    {
        ArgumentNullException.ThrowIfNull(mask);
        var entry = Apply(c =>
        {
            var document = c.Current;
            Layer layer = document.GetLayer(layerId);
            RgbaImage image = Images.Get(layer.Image);
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
                if (mask.Width != document.Width || mask.Height != document.Height)
                    throw new StudioInputException(
                        $"{maskSource ?? "mask"}: mask is {mask.Width}x{mask.Height} but the canvas is {document.Width}x{document.Height} (erase masks are in canvas pixels; masks are not resized).");
                amount = CanvasMaskToLayer(mask, layer, w, h, document);
            }
            string maskHash = Images.Store(mask);
            var pixels = (byte[])image.Pixels.Clone();
            for (int p = 0; p < amount.Length; p++)
            {
                int m = amount[p];
                if (m == 0) continue;
                int i = p * 4 + 3;
                pixels[i] = (byte)((pixels[i] * (255 - m) + 127) / 255);
            }
            string newHash = Images.Store(new RgbaImage(w, h, pixels));
            var parameters = new JsonObject
            {
                ["layer"] = layer.Id, ["mask"] = maskHash, ["mask_source"] = maskSource, ["space"] = space == MaskSpace.Canvas ? "canvas" : "layer",
                ["image_before"] = layer.Image, ["image_after"] = newHash,
            };
            return (document.WithLayer(layer.Id, l => l with { Image = newHash }), new OperationRecord
            {
                Kind = "erase", ParametersJson = parameters.ToJsonString(), Inputs = [layer.Image, maskHash], Outputs = [newHash],
            });
        }, operationId);
        return Document.GetLayer(layerId);
    }

    /// <summary>
    /// Replaces a rectangle of a layer's pixels with <paramref name="patch"/> (straight RGBA, alpha included), its
    /// top-left corner at layer pixel (<paramref name="x"/>, <paramref name="y"/>): the primitive brush strokes are
    /// committed with. Parts of the patch outside the layer image are refused.
    /// </summary>
    /// <exception cref="StudioInputException">Unknown layer, or the patch does not lie inside the layer image.</exception>
    public Layer Paint(string layerId, RgbaImage patch, int x, int y, string? operationId = null)
    {
        ArgumentNullException.ThrowIfNull(patch);
        Apply(c =>
        {
            var layer = c.Current.GetLayer(layerId);
            var image = Images.Get(layer.Image);
            if (x < 0 || y < 0 || (long)x + patch.Width > image.Width || (long)y + patch.Height > image.Height)
                throw new StudioInputException(
                    $"a {patch.Width}x{patch.Height} patch at {x},{y} does not lie inside layer {layerId}'s {image.Width}x{image.Height} image (coordinates are layer pixels).");
            var pixels = (byte[])image.Pixels.Clone();
            for (int row = 0; row < patch.Height; row++)
                Array.Copy(patch.Pixels, row * patch.Width * 4, pixels, ((y + row) * image.Width + x) * 4, patch.Width * 4);
            string before = layer.Image, after = Images.Store(new RgbaImage(image.Width, image.Height, pixels));
            string patchHash = Images.Store(patch);
            var parameters = new JsonObject { ["layer"] = layerId, ["x"] = x, ["y"] = y, ["patch"] = patchHash, ["image_before"] = before, ["image_after"] = after };
            return (c.Current.WithLayer(layerId, l => l with { Image = after }),
                new OperationRecord { Kind = "paint", ParametersJson = parameters.ToJsonString(), Inputs = [before, patchHash], Outputs = [after] });
        }, operationId);
        return Document.GetLayer(layerId);
    }

    /// <summary>Moves and scales a layer (its top-left corner at canvas pixel x, y).</summary>
    public Layer Place(string layerId, int? x = null, int? y = null, double? scale = null, string? operationId = null)
    {
        CheckPlacement(scale ?? 1, 1);
        return ChangeLayer("move", layerId, (c, l) =>
        {
            var moved = l with { X = x ?? l.X, Y = y ?? l.Y, Scale = scale ?? l.Scale };
            var image = Images.Get(l.Image);
            var (sw, sh) = Compositor.ScaledSize(image.Width, image.Height, moved.Scale);
            EnsureOnCanvas(sw, sh, moved.X, moved.Y, c.Current);
            return moved;
        }, new JsonObject { ["x"] = x, ["y"] = y, ["scale"] = scale }, operationId);
    }

    /// <summary>Sets a layer's opacity (0–1).</summary>
    public Layer SetOpacity(string layerId, double opacity, string? operationId = null)
    {
        CheckPlacement(1, opacity);
        return ChangeLayer("opacity", layerId, (_, l) => l with { Opacity = opacity }, new JsonObject { ["opacity"] = opacity }, operationId);
    }

    /// <summary>Shows or hides a layer (the user's switch; a hidden candidate stays a candidate).</summary>
    public Layer SetVisible(string layerId, bool visible, string? operationId = null) =>
        ChangeLayer("visibility", layerId, (_, l) => l with { Visible = visible }, new JsonObject { ["visible"] = visible }, operationId);

    /// <summary>Renames a layer.</summary>
    public Layer Rename(string layerId, string name, string? operationId = null)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 200 || name.Any(char.IsControl))
            throw new StudioInputException("a layer name must be 1 to 200 printable characters.");
        return ChangeLayer("rename", layerId, (_, l) => l with { Name = name }, new JsonObject { ["name"] = name }, operationId);
    }

    /// <summary>Mirrors a layer's pixels left-right (<paramref name="horizontal"/>) or top-bottom, as a new image.</summary>
    public Layer Flip(string layerId, bool horizontal, string? operationId = null) =>
        ChangeLayer("flip", layerId, (_, l) =>
        {
            var image = Images.Get(l.Image);
            var pixels = new byte[image.Pixels.Length];
            for (int y = 0; y < image.Height; y++)
                for (int x = 0; x < image.Width; x++)
                {
                    int sx = horizontal ? image.Width - 1 - x : x, sy = horizontal ? y : image.Height - 1 - y;
                    Array.Copy(image.Pixels, (sy * image.Width + sx) * 4, pixels, (y * image.Width + x) * 4, 4);
                }
            string? mask = null;
            if (l.Mask is not null)
            {
                var m = Images.GetMask(l.Mask);
                var values = new byte[m.Pixels.Length];
                for (int y = 0; y < m.Height; y++)
                    for (int x = 0; x < m.Width; x++)
                        values[y * m.Width + x] = m.Pixels[(horizontal ? y : m.Height - 1 - y) * m.Width + (horizontal ? m.Width - 1 - x : x)];
                mask = Images.Store(new MaskImage(m.Width, m.Height, values));
            }
            return l with { Image = Images.Store(new RgbaImage(image.Width, image.Height, pixels)), Mask = mask };
        }, new JsonObject { ["direction"] = horizontal ? "horizontal" : "vertical" }, operationId);

    /// <summary>Moves a layer to position <paramref name="index"/> of the stack (0 = bottom).</summary>
    public Layer Reorder(string layerId, int index, string? operationId = null)
    {
        Apply(c => (c.Current.WithLayerAt(layerId, index), new OperationRecord
        {
            Kind = "reorder",
            ParametersJson = new JsonObject { ["layer"] = layerId, ["from"] = c.Current.IndexOf(layerId), ["to"] = index }.ToJsonString(),
        }), operationId);
        return Document.GetLayer(layerId);
    }

    /// <summary>A copy of a layer on top of it (a user layer, the same pixels).</summary>
    public Layer Duplicate(string layerId, string? operationId = null)
    {
        var entry = Apply(c =>
        {
            var layer = c.Current.GetLayer(layerId);
            var copy = layer with { Id = c.NewLayerId(), Name = layer.Name + " copy", Role = LayerRole.User, Generation = null, Hidden = false };
            var layers = c.Current.Layers.ToList();
            layers.Insert(c.Current.IndexOf(layerId) + 1, copy);
            return (c.Current with { Layers = layers }, new OperationRecord
            {
                Kind = "duplicate", ParametersJson = new JsonObject { ["layer"] = copy.Id, ["from"] = layerId }.ToJsonString(),
            });
        }, operationId);
        return Document.GetLayer(LayerOf(entry));
    }

    /// <summary>
    /// Deletes a layer: it leaves the document (and the composite) but stays in the history; <see cref="Undo"/>
    /// brings it back.
    /// </summary>
    public HistoryEntry Delete(string layerId, string? operationId = null) =>
        Apply(c =>
        {
            var layer = c.Current.GetLayer(layerId);
            return (c.Current.WithoutLayer(layerId), new OperationRecord
            {
                Kind = "delete", ParametersJson = new JsonObject { ["layer"] = layerId, ["name"] = layer.Name, ["image"] = layer.Image }.ToJsonString(),
            });
        }, operationId);

    /// <summary>
    /// Merges a layer into the one below it: the two are composited (the studio's rule) into one new layer that covers
    /// both, at the lower layer's place in the stack.
    /// </summary>
    /// <exception cref="StudioInputException">Unknown layer, or it is the bottom layer.</exception>
    public Layer MergeDown(string layerId, string? operationId = null)
    {
        var entry = Apply(c =>
        {
            var document = c.Current;
            int index = document.IndexOf(layerId);
            if (index == 0) throw new StudioInputException($"layer {layerId} is at the bottom; there is nothing below it to merge into.");
            var top = document.Layers[index];
            var below = document.Layers[index - 1];
            // The union of both layers' canvas rectangles, clipped to the canvas.
            var boxes = new[] { below, top }.Select(l =>
            {
                var image = Images.Get(l.Image);
                var (sw, sh) = Compositor.ScaledSize(image.Width, image.Height, l.Scale);
                return (X0: Math.Max(0, l.X), Y0: Math.Max(0, l.Y), X1: Math.Min(document.Width, l.X + sw), Y1: Math.Min(document.Height, l.Y + sh));
            }).ToList();
            int x0 = boxes.Min(b => b.X0), y0 = boxes.Min(b => b.Y0), x1 = boxes.Max(b => b.X1), y1 = boxes.Max(b => b.Y1);
            var pair = new Document(x1 - x0, y1 - y0, [below with { X = below.X - x0, Y = below.Y - y0, Visible = true, Hidden = false },
                top with { X = top.X - x0, Y = top.Y - y0, Visible = below.IsDrawn ? top.IsDrawn : true, Hidden = false }]);
            if (!below.IsDrawn) pair = pair with { Layers = [pair.Layers[1]] };
            if (!top.IsDrawn) pair = pair with { Layers = [pair.Layers[0]] };
            string merged = Images.Store(Compositor.RenderRgba(pair, this));
            var layer = new Layer { Id = c.NewLayerId(), Name = below.Name, Image = merged, X = x0, Y = y0, Role = LayerRole.User };
            var layers = document.Layers.Where(l => l.Id != top.Id && l.Id != below.Id).ToList();
            layers.Insert(index - 1, layer);
            return (document with { Layers = layers }, new OperationRecord
            {
                Kind = "merge-down",
                ParametersJson = new JsonObject { ["layer"] = layer.Id, ["top"] = top.Id, ["below"] = below.Id, ["image"] = merged }.ToJsonString(),
                Inputs = [top.Image, below.Image],
                Outputs = [merged],
            });
        }, operationId);
        return Document.GetLayer(LayerOf(entry));
    }

    /// <summary>Removes every hidden candidate layer (kept in the history).</summary>
    public HistoryEntry DiscardCandidates(string? operationId = null) =>
        Apply(c =>
        {
            var gone = c.Current.Layers.Where(l => l.Role == LayerRole.Candidate && l.Hidden).Select(l => l.Id).ToList();
            if (gone.Count == 0) throw new StudioInputException("there are no candidates to discard.");
            return (c.Current with { Layers = [.. c.Current.Layers.Where(l => !gone.Contains(l.Id))] }, new OperationRecord
            {
                Kind = "discard", ParametersJson = new JsonObject { ["layers"] = new JsonArray([.. gone.Select(g => (JsonNode)JsonValue.Create(g))]) }.ToJsonString(),
            });
        }, operationId);

    /// <summary>
    /// Grows (positive) or crops (negative) the canvas on each side. Growing left or up shifts every layer's offset
    /// so the picture stays where it was (for outpainting); cropping shifts the other way.
    /// </summary>
    /// <exception cref="StudioInputException">The new size is out of range.</exception>
    public HistoryEntry ResizeCanvas(int left, int top, int right, int bottom, string? operationId = null) =>
        Apply(c =>
        {
            var d = c.Current;
            long width = (long)d.Width + left + right, height = (long)d.Height + top + bottom;
            if (width < 1 || height < 1 || width > Document.MaxSide || height > Document.MaxSide)
                throw new StudioInputException($"the canvas would be {width}x{height}; the size must stay between 1 and {Document.MaxSide} per side.");
            var next = new Document((int)width, (int)height, [.. d.Layers.Select(l => l with { X = l.X + left, Y = l.Y + top })]);
            return (next, new OperationRecord
            {
                Kind = "resize-canvas",
                ParametersJson = new JsonObject { ["left"] = left, ["top"] = top, ["right"] = right, ["bottom"] = bottom, ["width"] = width, ["height"] = height }.ToJsonString(),
            });
        }, operationId);

    /// <summary>
    /// Goes back to the state before the current one (<c>redraft doc undo</c>), recording an <c>undo</c> row.
    /// Repeated calls walk back towards the document's first state; no image is deleted; <see cref="Redo"/> walks
    /// forward again until a new edit is made (the redo line stays in the history).
    /// </summary>
    /// <returns>The history row of the undo (its <see cref="HistoryEntry.StateAfter"/> is the state restored).</returns>
    /// <exception cref="StudioInputException">Already at the first state.</exception>
    public HistoryEntry Undo(string? operationId = null) =>
        Commit(operationId, c =>
        {
            long? parent = _history.Parent(c.State);
            if (parent is null)
                throw new StudioInputException("nothing to undo: the document is at its first state.");
            Document previous = _history.State(parent.Value) ?? throw new StudioInputException($"{DatabasePath}: state {parent} is missing.");
            var parameters = new JsonObject { ["from_state"] = c.State, ["to_state"] = parent.Value, ["undoes"] = _history.OperationReaching(c.State) };
            return new Change(previous, new OperationRecord { Kind = "undo", ParametersJson = parameters.ToJsonString() }, parent.Value, RedoAction.Push);
        });

    /// <summary>Returns to the state the last <see cref="Undo"/> left (<c>redraft doc redo</c>).</summary>
    /// <exception cref="StudioInputException">Nothing to redo (no undo since the last edit).</exception>
    public HistoryEntry Redo(string? operationId = null) =>
        Commit(operationId, c =>
        {
            var redo = _history.RedoStack();
            if (redo.Count == 0) throw new StudioInputException("nothing to redo: no undo since the last edit.");
            long target = redo[^1];
            Document next = _history.State(target) ?? throw new StudioInputException($"{DatabasePath}: state {target} is missing.");
            var parameters = new JsonObject { ["from_state"] = c.State, ["to_state"] = target };
            return new Change(next, new OperationRecord { Kind = "redo", ParametersJson = parameters.ToJsonString() }, target, RedoAction.Pop);
        });

    /// <summary>
    /// Accepts a candidate variation (<c>redraft doc pick</c>): the hidden candidate layer becomes a visible generated
    /// layer; the other candidates stay hidden. Recorded as a <c>pick</c> row.
    /// </summary>
    /// <exception cref="StudioInputException">No such layer, or it is not a hidden candidate.</exception>
    public Layer Pick(string layerId, string? operationId = null)
    {
        Apply(c =>
        {
            var layer = c.Current.GetLayer(layerId);
            if (!layer.Hidden || layer.Role != LayerRole.Candidate)
                throw new StudioInputException($"layer '{layerId}' is not a hidden candidate (doc generate makes candidates).");
            var parameters = new JsonObject { ["layer"] = layerId, ["image"] = layer.Image, ["name"] = layer.Name };
            return (c.Current.WithLayer(layerId, l => l with { Hidden = false, Visible = true, Role = LayerRole.Generated }),
                new OperationRecord { Kind = "pick", ParametersJson = parameters.ToJsonString() });
        }, operationId);
        return Document.GetLayer(layerId);
    }

    /// <summary>
    /// Records an operation done outside this class and makes <paramref name="newDocument"/> current, in one
    /// transaction; then rewrites <c>document.json</c>. The document must have been made from this store's current
    /// state: if another writer committed meanwhile it is refused (use <see cref="Apply"/> to edit whatever is current).
    /// Store the operation's images first (<see cref="Images"/>).
    /// </summary>
    /// <exception cref="StudioInputException">Invalid kind or parameters, a document breaking the rules, an image
    /// hash not stored, the canvas size changed, or another writer changed the document meanwhile. Nothing is changed.</exception>
    public HistoryEntry RecordOperation(OperationRecord operation, Document newDocument)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(newDocument);
        long seen = StateId;
        return Apply(c =>
        {
            if (c.State != seen)
                throw new StudioInputException(
                    $"{Folder}: the document was changed by another writer (now at state {c.State}, this one saw {seen}); open it again.");
            return (newDocument, operation);
        });
    }

    private Layer ChangeLayer(string kind, string layerId, Func<EditContext, Layer, Layer> change, JsonObject parameters, string? operationId)
    {
        parameters["layer"] = layerId;
        Apply(c =>
        {
            var layer = c.Current.GetLayer(layerId);
            var changed = change(c, layer);
            var outputs = changed.Image != layer.Image ? new[] { changed.Image } : [];
            return (c.Current.WithLayer(layerId, _ => changed), new OperationRecord
            {
                Kind = kind, ParametersJson = parameters.ToJsonString(), Inputs = changed.Image != layer.Image ? [layer.Image] : [], Outputs = outputs,
            });
        }, operationId);
        return Document.GetLayer(layerId);
    }

    private static void CheckPlacement(double scale, double opacity)
    {
        if (!double.IsFinite(scale) || scale <= 0 || scale > Document.MaxScale)
            throw new StudioInputException($"scale {scale} is out of range (0 < scale <= {Document.MaxScale}).");
        if (!double.IsFinite(opacity) || opacity < 0 || opacity > 1)
            throw new StudioInputException($"opacity {opacity} is out of range (0 to 1).");
    }

    private static void EnsureOnCanvas(int width, int height, int x, int y, Document document)
    {
        if ((long)x + width <= 0 || (long)y + height <= 0 || x >= document.Width || y >= document.Height)
            throw new StudioInputException(
                $"a {width}x{height} layer at {x},{y} lies entirely outside the {document.Width}x{document.Height} canvas.");
    }

    /// <summary>The layer an add/duplicate/merge row made (its parameters' <c>layer</c>).</summary>
    private static string LayerOf(HistoryEntry entry) =>
        (string?)JsonNode.Parse(entry.ParametersJson)?["layer"] ?? throw new InvalidOperationException($"history row {entry.Id} names no layer.");

    // ---------------------------------------------------------------- reading

    /// <summary>The composite of <paramref name="document"/> (default: the current one) over an opaque background.</summary>
    public RgbImage Render(Document? document = null, byte backgroundR = 255, byte backgroundG = 255, byte backgroundB = 255) =>
        Compositor.Render(document ?? Document, this, backgroundR, backgroundG, backgroundB);

    /// <summary>The composite over a transparent background.</summary>
    public RgbaImage RenderRgba(Document? document = null) => Compositor.RenderRgba(document ?? Document, this);

    /// <summary>
    /// Renders the current document (or state <paramref name="stateId"/>) to a PNG file, atomically
    /// (<c>redraft doc render</c>); RGB over white, or RGBA when <paramref name="transparent"/>. The PNG carries a
    /// <c>redraft</c> text chunk: the document id, the state, and the parameters of the generations that made its
    /// visible layers.
    /// </summary>
    /// <exception cref="StudioInputException">No such state, or the output folder does not exist or cannot be written.</exception>
    public void RenderToFile(string path, bool transparent = false, long? stateId = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        long state = stateId ?? StateId;
        var document = stateId is null ? Document : GetState(state);
        var chunks = new Dictionary<string, string> { ["redraft"] = Provenance(document, state) };
        try
        {
            AtomicFile.WriteAllBytes(path, transparent ? ImageFiles.EncodePng(RenderRgba(document), chunks) : ImageFiles.EncodePng(Render(document), chunks));
        }
        catch (Exception ex) when (ex is DirectoryNotFoundException or UnauthorizedAccessException or IOException)
        {
            throw new StudioInputException($"{path}: cannot write ({ex.Message}).", ex);
        }
    }

    /// <summary>The <c>redraft</c> chunk of a rendered composite (JSON).</summary>
    private string Provenance(Document document, long state)
    {
        var steps = document.Layers.Where(l => l.IsDrawn && l.Generation is not null).Select(l => l.Generation!.Step).Distinct().ToHashSet();
        var generations = new JsonArray();
        foreach (var row in History().Where(h => steps.Contains(h.Id)))
            generations.Add(new JsonObject
            {
                ["step"] = row.Id,
                ["layers"] = new JsonArray([.. document.Layers.Where(l => l.IsDrawn && l.Generation?.Step == row.Id).Select(l => (JsonNode)JsonValue.Create(l.Id))]),
                ["parameters"] = JsonNode.Parse(row.ParametersJson),
            });
        return new JsonObject { ["document"] = DocumentId, ["state"] = state, ["generations"] = generations }.ToJsonString();
    }

    /// <summary>Every operation, oldest first (<c>redraft doc history</c>).</summary>
    public IReadOnlyList<HistoryEntry> History() => _history.History();

    /// <summary>The document as it was in state <paramref name="stateId"/> (for re-running a step, or rendering the past).</summary>
    /// <exception cref="StudioInputException">No such state.</exception>
    public Document GetState(long stateId) =>
        _history.State(stateId) ?? throw new StudioInputException($"{DatabasePath}: no state {stateId}.");

    // ---------------------------------------------------------------- images

    /// <summary>Path of the stored image or mask named <paramref name="hash"/>.</summary>
    public string ImagePath(string hash) => Images.PathOf(hash);

    /// <summary>Encodes and stores an RGBA image; returns its hash. Storing the same bytes twice is a no-op.</summary>
    public string StoreImage(RgbaImage image) => Images.Store(image);

    /// <summary>Encodes and stores a mask as a grayscale PNG; returns its hash.</summary>
    public string StoreMask(MaskImage mask) => Images.Store(mask);

    /// <summary>Stores PNG bytes as they are (keeping, say, a <c>parameters</c> text chunk); returns their hash.</summary>
    /// <exception cref="StudioInputException">Not a PNG that decodes.</exception>
    public string StorePng(ReadOnlySpan<byte> png) => Images.StorePng(png);

    /// <summary>Loads a stored image, checking that its bytes still match its name.</summary>
    /// <exception cref="StudioInputException">Missing, corrupt, or not decodable.</exception>
    public RgbaImage GetImage(string hash) => Images.Get(hash);

    /// <summary>Loads a stored mask (see <see cref="GetImage"/>; decoded as in <see cref="MaskImage.FromRgba"/>).</summary>
    public MaskImage GetMask(string hash) => Images.GetMask(hash);

    // ---------------------------------------------------------------- verification

    /// <summary>
    /// Checks the whole folder: SQLite integrity, every state parses and has its parent, every history row's
    /// states exist, <c>document.json</c> mirrors the head, and every image named by any state or history row
    /// exists, matches its hash and decodes. Returns the problems found (empty when consistent), each naming the
    /// broken part.
    /// </summary>
    public IReadOnlyList<string> Verify()
    {
        var problems = new List<string>();
        try
        {
            string integrity = _history.IntegrityCheck();
            if (integrity != "ok") problems.Add($"history database {DatabasePath}: integrity check: {integrity}");
            var hashes = new SortedDictionary<string, string>(StringComparer.Ordinal);
            var states = new Dictionary<long, long?>();
            foreach (var (id, parent, json) in _history.AllStates())
            {
                states[id] = parent;
                try
                {
                    var (doc, _) = DocumentJson.Parse(Encoding.UTF8.GetBytes(json), $"history database {DatabasePath}, state {id}");
                    foreach (var l in doc.Layers)
                    {
                        hashes.TryAdd(l.Image, $"layer {l.Id} of state {id}");
                        if (l.Mask is not null) hashes.TryAdd(l.Mask, $"mask of layer {l.Id} of state {id}");
                    }
                }
                catch (StudioInputException ex) { problems.Add(ex.Message); }
            }
            foreach (var (id, parent) in states)
                if (parent is long p && !states.ContainsKey(p)) problems.Add($"history database {DatabasePath}: state {id}'s parent {p} does not exist");
            foreach (var e in History())
            {
                if (!states.ContainsKey(e.StateAfter)) problems.Add($"history database {DatabasePath}: row {e.Id}: state {e.StateAfter} does not exist");
                if (e.StateBefore is long b && !states.ContainsKey(b)) problems.Add($"history database {DatabasePath}: row {e.Id}: state {b} does not exist");
                foreach (var h in e.Inputs.Concat(e.Outputs)) hashes.TryAdd(h, $"history row {e.Id} ({e.Kind})");
            }
            long head = _history.Head();
            if (!states.ContainsKey(head)) problems.Add($"history database {DatabasePath}: the head state {head} does not exist");
            try
            {
                var (fileDoc, fileState) = DocumentJson.Parse(File.ReadAllBytes(DocumentPath), DocumentPath);
                if (fileState != head) problems.Add($"{DocumentPath}: mirrors state {fileState}, the head is {head}");
                else if (!fileDoc.Equals(GetState(head))) problems.Add($"{DocumentPath}: differs from state {head} (edited outside Redraft?)");
            }
            catch (Exception ex) when (ex is StudioInputException or IOException) { problems.Add(ex.Message); }
            foreach (var (hash, user) in hashes)
                if (Images.Problem(hash) is { } problem) problems.Add($"{problem.TrimEnd('.')} (used by {user})");
        }
        catch (StudioInputException ex)
        {
            problems.Add(ex.Message);
        }
        return problems;
    }

    /// <summary>Closes the database.</summary>
    public void Dispose() => _history.Dispose();

    // ---------------------------------------------------------------- internals

    /// <summary>
    /// Deletes temporary files a killed writer left (<c>.NAME.GUID.tmp</c> in the folder and in <c>images/</c>), if
    /// older than ten minutes so a live writer in another process is never disturbed. Best effort.
    /// </summary>
    private void RemoveStaleTemporaryFiles()
    {
        DateTime cutoff = DateTime.UtcNow - TimeSpan.FromMinutes(10);
        foreach (string dir in new[] { Folder, Images.Folder })
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

    /// <summary>
    /// Removes the folders a killed <c>doc new</c> of <paramref name="folder"/> left beside it
    /// (<c>.NAME.new-GUID</c>): those whose builder's lock can be taken (the builder is gone), or, for folders
    /// without a lock file, ones older than ten minutes. Best effort.
    /// </summary>
    private static void RemoveAbandonedNewFolders(string folder)
    {
        string? parent = Path.GetDirectoryName(folder);
        if (parent is null || !Directory.Exists(parent)) return;
        try
        {
            foreach (string temp in Directory.EnumerateDirectories(parent, $".{Path.GetFileName(folder)}.new-*"))
            {
                string lockPath = Path.Combine(temp, LockFileName);
                bool abandoned;
                if (File.Exists(lockPath))
                {
                    try
                    {
                        using (new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
                        abandoned = true;
                    }
                    catch (IOException) { abandoned = false; }
                }
                else abandoned = Directory.GetLastWriteTimeUtc(temp) < DateTime.UtcNow - TimeSpan.FromMinutes(10);
                if (abandoned) Directory.Delete(temp, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
    }

    private void WriteDocumentFile() => AtomicFile.WriteAllBytes(DocumentPath, DocumentJson.Serialize(Document, StateId));

    private void EnsureImagesExist(Document document)
    {
        foreach (var layer in document.Layers)
        {
            if (!Images.Contains(layer.Image))
                throw new StudioInputException($"layer {layer.Id}: image {layer.Image} is not stored in {ImagesFolderName}/.");
            if (layer.Mask is not null && !Images.Contains(layer.Mask))
                throw new StudioInputException($"layer {layer.Id}: mask {layer.Mask} is not stored in {ImagesFolderName}/.");
        }
    }

    /// <summary>Mean of a canvas-sized mask over each layer pixel's footprint on the canvas (outside = 0).</summary>
    private static byte[] CanvasMaskToLayer(MaskImage mask, Layer layer, int w, int h, Document document)
    {
        var (sw, sh) = Compositor.ScaledSize(w, h, layer.Scale);
        var xs = Footprints(w, sw, layer.X, document.Width);
        var ys = Footprints(h, sh, layer.Y, document.Height);
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
                    int row = (y0 + j) * document.Width + x0;
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
}
