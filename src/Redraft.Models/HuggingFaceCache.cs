namespace Redraft.Models;

/// <summary>
/// Reads a Hugging Face cache in place (<c>models--ORG--NAME/snapshots/COMMIT/PATH</c>, symbolic links into
/// <c>blobs/</c>, <c>refs/BRANCH</c> holding a commit), as <c>huggingface_hub</c> lays it out. Nothing is written here.
/// </summary>
internal static class HuggingFaceCache
{
    /// <summary>The cached copy of <paramref name="repo"/>'s <paramref name="path"/>, or null.</summary>
    /// <remarks>
    /// The pinned commit's snapshot first; for a branch, the snapshot its ref names; then any snapshot that has the
    /// file (newest first): a file whose hash the catalogue knows is checked by <c>verify</c>, not at every look-up.
    /// </remarks>
    public static string? Find(string? cache, string repo, string revision, string path)
    {
        if (cache is null) return null;
        string root = Path.Combine(cache, "models--" + repo.Replace("/", "--", StringComparison.Ordinal));
        string snapshots = Path.Combine(root, "snapshots");
        if (!Directory.Exists(snapshots)) return null;
        var candidates = new List<string> { Path.Combine(snapshots, revision) };
        string refFile = Path.Combine(root, "refs", revision);
        if (File.Exists(refFile)) candidates.Add(Path.Combine(snapshots, File.ReadAllText(refFile).Trim()));
        candidates.AddRange(new DirectoryInfo(snapshots).EnumerateDirectories().OrderByDescending(d => d.LastWriteTimeUtc).Select(d => d.FullName));
        return candidates.Select(c => Path.Combine(c, path)).FirstOrDefault(File.Exists);
    }

    /// <summary>The <c>.safetensors</c> files at the top of every cached model snapshot: (repo, file).</summary>
    public static IEnumerable<(string Repo, string File)> TopLevelFiles(string? cache)
    {
        if (cache is null || !Directory.Exists(cache)) yield break;
        foreach (var repoDir in Directory.EnumerateDirectories(cache, "models--*"))
        {
            string repo = Path.GetFileName(repoDir)["models--".Length..].Replace("--", "/", StringComparison.Ordinal);
            string snapshots = Path.Combine(repoDir, "snapshots");
            if (!Directory.Exists(snapshots)) continue;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var snapshot in new DirectoryInfo(snapshots).EnumerateDirectories().OrderByDescending(d => d.LastWriteTimeUtc))
                foreach (var file in Directory.EnumerateFiles(snapshot.FullName, "*.safetensors"))
                    if (seen.Add(Path.GetFileName(file)) && File.Exists(file)) yield return (repo, file);
        }
    }
}
