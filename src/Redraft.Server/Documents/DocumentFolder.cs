using Microsoft.AspNetCore.Http;
using Redraft.Server.Api;
using Redraft.Studio;

namespace Redraft.Server.Documents;

/// <summary>
/// The documents the server offers: the sub-folders of the documents folder that hold a <c>document.json</c>, the
/// same folders <c>redraft doc</c> opens. A request names a document by its folder name, which is compared with the
/// names listed here and never joined to a path as it was sent: <c>..</c>, a name with <c>/</c> or <c>\</c>, or a
/// name starting with <c>.</c> (the studio's temporary folders, hidden folders) matches nothing and is "not found",
/// as <see cref="ModelFolder"/> does for model names.
/// </summary>
internal sealed class DocumentFolder(string root)
{
    /// <summary>Longest document name accepted when creating one.</summary>
    public const int MaxNameLength = 100;

    /// <summary>The documents folder (absolute).</summary>
    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>The documents' folder names, sorted (ordinal).</summary>
    public IReadOnlyList<string> Names()
    {
        if (!Directory.Exists(Root)) return [];
        var names = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories(Root))
        {
            string name = Path.GetFileName(dir);
            if (IsListable(name) && File.Exists(Path.Combine(dir, DocumentStore.DocumentFileName))) names.Add(name);
        }
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>The folder of the listed document named <paramref name="name"/>.</summary>
    /// <exception cref="ApiException">404: no listed document has that name.</exception>
    public string Resolve(string name)
    {
        // Matched against the listing, never joined as sent: a name that is not a listed folder name is not found.
        string? found = IsListable(name) ? Names().FirstOrDefault(n => string.Equals(n, name, StringComparison.Ordinal)) : null;
        return found is null
            ? throw new ApiException(StatusCodes.Status404NotFound, $"no document named \"{name}\"; GET /api/v1/documents lists them.", "NotFound")
            : Path.Combine(Root, found);
    }

    /// <summary>Opens the listed document <paramref name="name"/> (one store per request; the studio's locks order commits).</summary>
    /// <exception cref="ApiException">404: no such document.</exception>
    /// <exception cref="StudioInputException">The folder is not a sound document.</exception>
    public DocumentStore Open(string name) => DocumentStore.Open(Resolve(name));

    /// <summary>
    /// The folder a new document named <paramref name="name"/> gets. The name must be one folder name (letters,
    /// digits, space, <c>-</c>, <c>_</c>, <c>.</c>; not starting with <c>.</c> or a space) so it lists again as sent.
    /// </summary>
    /// <exception cref="ApiException">400: not such a name; 409: a folder of that name exists.</exception>
    public string NewFolder(string name)
    {
        if (name.Length is 0 or > MaxNameLength || !IsListable(name) || name[0] == ' ' || name[^1] is ' ' or '.'
            || !name.All(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_' or '.'))
            throw new ApiException(StatusCodes.Status400BadRequest,
                $"name: \"{name}\" is not a document name; use 1 to {MaxNameLength} letters, digits, spaces, '-', '_' or '.', not starting with '.'.");
        string path = Path.Combine(Root, name);
        if (Directory.Exists(path) || File.Exists(path))
            throw new ApiException(StatusCodes.Status409Conflict, $"a document named \"{name}\" exists; choose another name.", "Conflict");
        return path;
    }

    /// <summary>
    /// Held while a document is renamed and while a document job is handed to the queue, so a rename never moves a
    /// folder that a job just accepted will commit to (the rename checks the queue under it; the submit checks the
    /// folder is still there under it).
    /// </summary>
    public object Gate { get; } = new();

    /// <summary>Renames done under a client's operation id (id → old and new name), so a retried rename answers again instead of 404.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string From, string To)> _renames = new(StringComparer.Ordinal);

    /// <summary>
    /// Renames document <paramref name="name"/> to <paramref name="newName"/> (moves its folder, under the studio's
    /// locks). With <paramref name="operationId"/> a retry of the same rename answers the new name again; the same id
    /// for another rename is 409. The caller holds <see cref="Gate"/> and has checked that no job uses the document.
    /// </summary>
    /// <returns>The document's name now.</returns>
    /// <exception cref="ApiException">404: no such document; 400: not a document name; 409: the new name is taken, or the id was used for another rename.</exception>
    public string Rename(string name, string newName, string? operationId)
    {
        if (operationId is not null && _renames.TryGetValue(operationId, out var done))
            return done == (name, newName) ? newName
                : throw new ApiException(StatusCodes.Status409Conflict,
                    $"operation id {operationId} renamed \"{done.From}\" to \"{done.To}\"; send a new id for a new action.", "Conflict");
        string from = Resolve(name);
        string to = NewFolder(newName);
        try
        {
            DocumentStore.Move(from, to);
        }
        catch (StudioInputException) when (Directory.Exists(to))
        {
            throw new ApiException(StatusCodes.Status409Conflict, $"a document named \"{newName}\" exists; choose another name.", "Conflict");
        }
        if (operationId is not null) _renames[operationId] = (name, newName);
        return newName;
    }

    private static bool IsListable(string name) =>
        name.Length > 0 && name[0] != '.' && name.IndexOfAny(['/', '\\', '\0']) < 0;
}
