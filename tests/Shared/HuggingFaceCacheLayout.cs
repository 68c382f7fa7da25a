namespace Redraft;

/// <summary>Test files laid out as huggingface_hub caches them, for the tests of models found in place.</summary>
internal static class HuggingFaceCacheLayout
{
    /// <summary>Lays out <c>models--ORG--NAME</c>: the blob, a snapshot symlink to it, and refs/main; returns the link.</summary>
    public static string CacheFile(string cache, string repo, string path, byte[] bytes)
    {
        string root = Path.Combine(cache, "models--" + repo.Replace("/", "--"));
        string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        Directory.CreateDirectory(Path.Combine(root, "blobs"));
        File.WriteAllBytes(Path.Combine(root, "blobs", sha), bytes);
        string snapshot = Path.Combine(root, "snapshots", "c0ffee");
        Directory.CreateDirectory(snapshot);
        Directory.CreateDirectory(Path.Combine(root, "refs"));
        File.WriteAllText(Path.Combine(root, "refs", "main"), "c0ffee");
        string link = Path.Combine(snapshot, path);
        File.CreateSymbolicLink(link, Path.Combine("..", "..", "blobs", sha));
        return link;
    }
}
