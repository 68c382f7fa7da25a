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
public sealed partial class DocumentStore : IDisposable, ILayerPixels
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

    /// <summary>Whether <see cref="Undo"/> has a state to go back to now (the head, as any process left it, is not the first state).</summary>
    public bool CanUndo() => _history.Parent(_history.Head()) is not null;

    /// <summary>Whether <see cref="Redo"/> has a state to return to now (an undo since the last edit, by any process).</summary>
    public bool CanRedo() => _history.RedoStack().Count > 0;

    /// <summary>The current head state as recorded in the history database (another process may have moved it since <see cref="Refresh"/>): one small read.</summary>
    public long HeadState() => _history.Head();

    /// <summary>
    /// Renames a document folder: moves <paramref name="folder"/> to <paramref name="newFolder"/> (same parent or
    /// not) while holding the document's lock in this process and its file lock across processes, so no commit is
    /// half done when it moves. Stores open on the old path must not commit afterwards (their folder is gone).
    /// </summary>
    /// <exception cref="StudioInputException">No document at <paramref name="folder"/>, or <paramref name="newFolder"/> exists.</exception>
    public static void Move(string folder, string newFolder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentException.ThrowIfNullOrEmpty(newFolder);
        string from = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar);
        string to = Path.GetFullPath(newFolder).TrimEnd(Path.DirectorySeparatorChar);
        if (!File.Exists(Path.Combine(from, DocumentFileName)))
            throw new StudioInputException($"{folder}: no such document folder.");
        lock (ProcessLocks.GetOrAdd(from, _ => new object()))
        {
            using (AcquireFileLock(from))
            {
                if (Directory.Exists(to) || File.Exists(to))
                    throw new StudioInputException($"{newFolder}: already exists; choose another name.");
                Directory.Move(from, to);
            }
        }
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
    private FileStream AcquireFileLock() => AcquireFileLock(Folder);

    private static FileStream AcquireFileLock(string folder)
    {
        string path = Path.Combine(folder, LockFileName);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (DirectoryNotFoundException ex)
            {
                throw new StudioInputException($"{folder}: the document folder is gone (renamed or deleted meanwhile); open it again by its new name.", ex);
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
        byte[] png = RenderPng(transparent, stateId);
        try
        {
            AtomicFile.WriteAllBytes(path, png);
        }
        catch (Exception ex) when (ex is DirectoryNotFoundException or UnauthorizedAccessException or IOException)
        {
            throw new StudioInputException($"{path}: cannot write ({ex.Message}).", ex);
        }
    }

    /// <summary>
    /// The PNG bytes <see cref="RenderToFile"/> writes (the server answers them, so a download equals
    /// <c>redraft doc render</c> byte for byte).
    /// </summary>
    /// <exception cref="StudioInputException">No such state.</exception>
    public byte[] RenderPng(bool transparent = false, long? stateId = null)
    {
        long state = stateId ?? StateId;
        var document = stateId is null ? Document : GetState(state);
        var chunks = new Dictionary<string, string> { ["redraft"] = Provenance(document, state) };
        return transparent ? ImageFiles.EncodePng(RenderRgba(document), chunks) : ImageFiles.EncodePng(Render(document), chunks);
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

    /// <summary>The operation committed under <paramref name="operationId"/>, or null when none was.</summary>
    public HistoryEntry? FindOperation(string operationId) => _history.FindOperation(operationId);

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

    private static long MaxLayerNumber(Document document)
    {
        long max = 0;
        foreach (var l in document.Layers)
            if (l.Id.Length > 1 && l.Id[0] == 'L' && long.TryParse(l.Id.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out long n))
                max = Math.Max(max, n);
        return max;
    }
}
