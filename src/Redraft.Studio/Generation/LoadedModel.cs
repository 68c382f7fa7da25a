namespace Redraft.Studio.Generation;

/// <summary>
/// The checkpoint a <see cref="ModelCache"/> holds, with the version of the file it was read from (size and
/// modification time, taken before reading), so a caller can tell that the file has been replaced since.
/// </summary>
/// <param name="Path">The checkpoint file or diffusers folder, as it was loaded.</param>
/// <param name="FileStamp">Size and modification time at load; null for a folder.</param>
public sealed record LoadedModel(string Path, (long Length, DateTime WriteTimeUtc)? FileStamp)
{
    /// <summary>Whether the file differs from the one that was loaded (rewritten, replaced or deleted).</summary>
    public bool ChangedOnDisk() => FileStamp is { } loaded && Stamp(Path) != loaded;

    /// <summary>The file's size and modification time, or null when <paramref name="path"/> is not a file.</summary>
    internal static (long Length, DateTime WriteTimeUtc)? Stamp(string path)
    {
        var file = new FileInfo(path);
        return file.Exists ? (file.Length, file.LastWriteTimeUtc) : null;
    }
}
