using System.Text.Json;
using System.Text.Json.Serialization;

namespace Redraft.Models;

/// <summary>
/// The models folder's record of what Redraft downloaded (<c>.redraft-models.json</c>): each model's files with their
/// SHA-256, which <c>verify</c> checks and <c>rm</c> deletes, and the licences the user accepted. Written through
/// <see cref="AtomicFile"/> under a lock, so concurrent pulls never lose each other's entries.
/// </summary>
internal sealed record ModelManifest
{
    public sealed record FileRecord(
        [property: JsonPropertyName("path")] string Path,
        [property: JsonPropertyName("sha256")] string Sha256,
        [property: JsonPropertyName("size")] long Size,
        [property: JsonPropertyName("source")] string Source,
        [property: JsonPropertyName("commit")] string? Commit);

    public sealed record ModelRecord(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("role")] ModelRole Role,
        [property: JsonPropertyName("catalogue")] bool FromCatalogue,
        [property: JsonPropertyName("files")] IReadOnlyList<FileRecord> Files);

    [JsonPropertyName("models")] public IReadOnlyList<ModelRecord> Models { get; init; } = [];
    [JsonPropertyName("licences_accepted")] public IReadOnlyList<string> LicencesAccepted { get; init; } = [];

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    public static ModelManifest Read(string path)
    {
        if (!File.Exists(path)) return new ModelManifest();
        try
        {
            return JsonSerializer.Deserialize<ModelManifest>(File.ReadAllText(path)) ?? new ModelManifest();
        }
        catch (JsonException e)
        {
            throw new RedraftInputException($"{path}: unreadable ({e.Message}); move it away and pull the models again.");
        }
    }

    /// <summary>Reads, changes and writes the manifest under its lock.</summary>
    public static async Task<ModelManifest> UpdateAsync(string path, Func<ModelManifest, ModelManifest> change, CancellationToken ct)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        using var held = await DownloadLock.AcquireAsync(path, () => { }, ct);
        var next = change(Read(path));
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(next, Options));
        return next;
    }
}
