using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Redraft.Studio;

/// <summary>
/// A document's history: <c>history.db</c>, SQLite in WAL mode with <c>synchronous=FULL</c>,
/// <c>application_id</c> 0x52445246 ("RDRF"). Tables: <c>states</c> (every document state, with its parent),
/// <c>operations</c> (one row per operation, with the client's operation id when it gave one) and <c>meta</c>
/// (<c>head</c>, <c>next_layer</c>, <c>redo</c>, <c>document_id</c>). Schema 1 (before operation ids) is migrated to
/// 2 when opened.
/// </summary>
internal sealed class HistoryDatabase : IDisposable
{
    public const string FileName = "history.db";
    public const int SchemaVersion = 2;
    public const int ApplicationId = 0x52445246;

    private readonly SqliteConnection _db;

    private HistoryDatabase(SqliteConnection db, string path)
    {
        _db = db;
        Path = path;
    }

    /// <summary>Full path of the database file.</summary>
    public string Path { get; }

    /// <summary>Creates the database of a new document whose first state is <paramref name="first"/>.</summary>
    public static void Create(string path, Document first, OperationRecord operation, long nextLayer)
    {
        using var db = Connect(path, create: true);
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
                state_after INTEGER NOT NULL REFERENCES states(id),
                op_id TEXT
            );
            CREATE UNIQUE INDEX operations_op_id ON operations(op_id) WHERE op_id IS NOT NULL;
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """, tx);
        Execute(db, $"PRAGMA application_id={ApplicationId}", tx);
        Execute(db, $"PRAGMA user_version={SchemaVersion}", tx);
        string now = Now();
        Execute(db, "INSERT INTO states (id, parent, created, document) VALUES (1, NULL, $t, $d)", tx,
            ("$t", now), ("$d", DocumentJson.SerializeToString(first)));
        InsertOperation(db, tx, now, operation, null, 1, null);
        Execute(db, "INSERT INTO meta (key, value) VALUES ('head', '1'), ('next_layer', $n), ('document_id', $id)", tx,
            ("$n", nextLayer.ToString(CultureInfo.InvariantCulture)), ("$id", Guid.NewGuid().ToString("N")));
        tx.Commit();
    }

    /// <summary>Opens a document's database, checking that it is one and migrating an older schema.</summary>
    /// <exception cref="StudioInputException">Not a Redraft history database, a newer schema, or unreadable.</exception>
    public static HistoryDatabase Open(string path)
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
            if (version < SchemaVersion) Migrate(db);
            return new HistoryDatabase(db, path);
        }
        catch (SqliteException ex)
        {
            db?.Dispose();
            throw Failure(path, ex);
        }
        catch
        {
            db?.Dispose();
            throw;
        }
    }

    /// <summary>Schema 1 → 2: client operation ids and a document id. One transaction; another process may race us.</summary>
    private static void Migrate(SqliteConnection db)
    {
        using var tx = db.BeginTransaction(deferred: false);
        if ((ScalarLong(db, tx, "PRAGMA user_version") ?? 0) >= SchemaVersion) return;
        Execute(db, "ALTER TABLE operations ADD COLUMN op_id TEXT", tx);
        Execute(db, "CREATE UNIQUE INDEX operations_op_id ON operations(op_id) WHERE op_id IS NOT NULL", tx);
        Execute(db, "INSERT OR IGNORE INTO meta (key, value) VALUES ('document_id', $id)", tx, ("$id", Guid.NewGuid().ToString("N")));
        Execute(db, $"PRAGMA user_version={SchemaVersion}", tx);
        tx.Commit();
    }

    /// <summary>
    /// A write transaction (BEGIN IMMEDIATE: writers of every process take turns). Until it ends, every read of this
    /// database joins it, so an edit sees the state it commits on.
    /// </summary>
    public SqliteTransaction BeginWrite() => _active = Wrap(() => _db.BeginTransaction(deferred: false));

    private SqliteTransaction? _active;

    /// <summary>The pending write transaction, if one is open (a finished one has no connection).</summary>
    private SqliteTransaction? Active => _active?.Connection is not null ? _active : null;

    /// <summary>The current state.</summary>
    public long Head(SqliteTransaction? tx = null) =>
        Wrap(() => MetaLong(tx, "head")) ?? throw new StudioInputException($"{Path}: the current state (meta 'head') is missing.");

    /// <summary>The document's id (stable across renames; recorded in rendered PNGs).</summary>
    public string DocumentId => Wrap(() => ScalarString(_db, Active, "SELECT value FROM meta WHERE key = 'document_id'")) ?? "";

    /// <summary>The document in state <paramref name="id"/>, or null when there is no such state.</summary>
    public Document? State(long id, SqliteTransaction? tx = null)
    {
        string? json = Wrap(() => ScalarString(_db, tx ?? Active, "SELECT document FROM states WHERE id = $id", ("$id", id)));
        return json is null ? null : DocumentJson.Parse(Encoding.UTF8.GetBytes(json), $"{Path} state {id}").Document;
    }

    /// <summary>The parent of state <paramref name="id"/> (null for the first).</summary>
    public long? Parent(long id, SqliteTransaction? tx = null) =>
        Wrap(() => ScalarLong(_db, tx ?? Active, "SELECT parent FROM states WHERE id = $id", ("$id", id)));

    /// <summary>Every state: id, parent and the document JSON (for verification).</summary>
    public IEnumerable<(long Id, long? Parent, string Json)> AllStates()
    {
        using var cmd = Command(_db, "SELECT id, parent, document FROM states ORDER BY id", Active, []);
        using var r = cmd.ExecuteReader();
        while (r.Read()) yield return (r.GetInt64(0), r.IsDBNull(1) ? null : r.GetInt64(1), r.GetString(2));
    }

    /// <summary>SQLite's own integrity check: "ok" when the file is sound.</summary>
    public string IntegrityCheck() => Wrap(() => ScalarString(_db, Active, "PRAGMA integrity_check")) ?? "no result";

    /// <summary>The next layer number to hand out.</summary>
    public long NextLayer(SqliteTransaction? tx = null) => Wrap(() => MetaLong(tx, "next_layer")) ?? 1;

    /// <summary>The states redo returns to, the next one last.</summary>
    public List<long> RedoStack(SqliteTransaction? tx = null)
    {
        string? text = Wrap(() => ScalarString(_db, tx ?? Active, "SELECT value FROM meta WHERE key = 'redo'"));
        return string.IsNullOrEmpty(text) ? [] : [.. text.Split(',').Select(v => long.Parse(v, CultureInfo.InvariantCulture))];
    }

    /// <summary>The id the next operation row will get (inside a write transaction).</summary>
    public long NextOperationId(SqliteTransaction tx) => Wrap(() => ScalarLong(_db, tx, "SELECT COALESCE(MAX(id), 0) + 1 FROM operations") ?? 1);

    /// <summary>The row a client's operation id was recorded with, if any.</summary>
    public HistoryEntry? FindOperation(string operationId, SqliteTransaction? tx = null) =>
        Read("WHERE op_id = $op", tx, ("$op", operationId)).FirstOrDefault();

    /// <summary>Every operation, oldest first.</summary>
    public IReadOnlyList<HistoryEntry> History() => Read("", null);

    /// <summary>Records one operation and moves the head, in the caller's write transaction.</summary>
    public (long StateAfter, long OperationId) Record(SqliteTransaction tx, OperationRecord operation, long stateBefore, Document? newDocument,
        long? existingState, long nextLayer, IReadOnlyList<long> redo, string? operationId) => Wrap(() =>
    {
        string now = Now();
        long stateAfter;
        if (existingState is long existing) stateAfter = existing;
        else
        {
            Execute(_db, "INSERT INTO states (parent, created, document) VALUES ($p, $t, $d)", tx,
                ("$p", stateBefore), ("$t", now), ("$d", DocumentJson.SerializeToString(newDocument!)));
            stateAfter = ScalarLong(_db, tx, "SELECT last_insert_rowid()")!.Value;
        }
        InsertOperation(_db, tx, now, operation, stateBefore, stateAfter, operationId);
        long row = ScalarLong(_db, tx, "SELECT last_insert_rowid()")!.Value;
        Execute(_db, "UPDATE meta SET value = $v WHERE key = 'head'", tx, ("$v", stateAfter.ToString(CultureInfo.InvariantCulture)));
        long stored = MetaLong(tx, "next_layer") ?? 1;
        Execute(_db, "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_layer', $v)", tx,
            ("$v", Math.Max(stored, nextLayer).ToString(CultureInfo.InvariantCulture)));
        Execute(_db, "INSERT OR REPLACE INTO meta (key, value) VALUES ('redo', $v)", tx,
            ("$v", string.Join(',', redo.Select(v => v.ToString(CultureInfo.InvariantCulture)))));
        return (stateAfter, row);
    });

    /// <summary>The first operation (not an undo or redo) that led to state <paramref name="state"/>: what an undo from there undoes.</summary>
    public long? OperationReaching(long state) => Wrap(() => ScalarLong(_db, Active,
        "SELECT id FROM operations WHERE state_after = $s AND kind NOT IN ('undo', 'redo') ORDER BY id LIMIT 1", ("$s", state)));

    /// <summary>The history row <paramref name="id"/>.</summary>
    public HistoryEntry? Operation(long id) => Read("WHERE id = $id", null, ("$id", id)).FirstOrDefault();

    public void Dispose() => _db.Dispose();

    private IReadOnlyList<HistoryEntry> Read(string where, SqliteTransaction? tx, params (string Name, object? Value)[] args) => Wrap(() =>
    {
        using var cmd = Command(_db, $"""
            SELECT id, time, kind, prompt, seed, strength, sampler, model_hash, duration_ms, parameters, inputs, outputs,
                   state_before, state_after
            FROM operations {where} ORDER BY id
            """, tx ?? Active, args);
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
                JsonObjectText(r.GetString(9)),
                JsonSerializer.Deserialize<List<string>>(r.GetString(10)) ?? [],
                JsonSerializer.Deserialize<List<string>>(r.GetString(11)) ?? [],
                r.IsDBNull(12) ? null : r.GetInt64(12),
                r.GetInt64(13)));
        }
        return (IReadOnlyList<HistoryEntry>)rows;
    });

    private const int SqliteBusy = 5, SqliteReadOnly = 8, SqliteIoError = 10, SqliteFull = 13, SqliteCantOpen = 14;

    /// <summary>
    /// What a SQLite error means to the user: the file system's doing (disk full, read-only, locked) is an
    /// <see cref="IOException"/>, since a good file must not be restored from a backup; anything else is damage.
    /// </summary>
    private static Exception Failure(string path, SqliteException ex) =>
        ex.SqliteErrorCode is SqliteBusy or SqliteReadOnly or SqliteIoError or SqliteFull or SqliteCantOpen
            ? new IOException($"{path}: {OneLine(ex.Message)}", ex)
            : new StudioInputException($"{path}: cannot read the history database ({OneLine(ex.Message)}); it is damaged.", ex);

    /// <summary>
    /// Every reader of a row's parameters (rerun, provenance, undo of an add) parses them; checking here once turns
    /// a damaged value into the damaged-database error below instead of a parser exception far away.
    /// </summary>
    private static string JsonObjectText(string json)
    {
        using var parsed = JsonDocument.Parse(json);
        return parsed.RootElement.ValueKind == JsonValueKind.Object
            ? json
            : throw new JsonException($"recorded parameters are a JSON {parsed.RootElement.ValueKind}, not an object");
    }

    /// <summary>A damaged database reports SQLite errors anywhere; they become one-line user errors naming it.</summary>
    private T Wrap<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (SqliteException ex)
        {
            throw Failure(Path, ex);
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or JsonException)
        {
            throw new StudioInputException($"{Path}: the history database holds a malformed value ({OneLine(ex.Message)}); it is damaged.", ex);
        }
    }

    private long? MetaLong(SqliteTransaction? tx, string key)
    {
        string? value = ScalarString(_db, tx ?? Active, "SELECT value FROM meta WHERE key = $k", ("$k", key));
        return value is null ? null : long.Parse(value, CultureInfo.InvariantCulture);
    }

    private static string Now() => DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static long DurationMs(OperationRecord op) => (long)Math.Round(Math.Max(0, op.Duration.TotalMilliseconds));

    private static void InsertOperation(SqliteConnection db, SqliteTransaction tx, string now, OperationRecord op, long? before, long after, string? operationId) =>
        Execute(db, """
            INSERT INTO operations (time, kind, prompt, seed, strength, sampler, model_hash, duration_ms, parameters,
                                    inputs, outputs, state_before, state_after, op_id)
            VALUES ($time, $kind, $prompt, $seed, $strength, $sampler, $model, $duration, $parameters,
                    $inputs, $outputs, $before, $after, $op)
            """, tx,
            ("$time", now), ("$kind", op.Kind), ("$prompt", op.Prompt), ("$seed", op.Seed), ("$strength", op.Strength),
            ("$sampler", op.Sampler), ("$model", op.ModelHash), ("$duration", DurationMs(op)),
            ("$parameters", op.ParametersJson), ("$inputs", JsonSerializer.Serialize(op.Inputs.ToArray())),
            ("$outputs", JsonSerializer.Serialize(op.Outputs.ToArray())), ("$before", before), ("$after", after), ("$op", operationId));

    private static SqliteConnection Connect(string path, bool create)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = 60,
        };
        var db = new SqliteConnection(builder.ToString());
        db.Open();
        Execute(db, "PRAGMA busy_timeout=30000");
        return db;
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();

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
