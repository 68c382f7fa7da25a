namespace Redraft;

/// <summary>
/// The one way Redraft writes a file: readers (and a process started after a kill) see either the old content or
/// the complete new content. A temporary <c>.NAME.*.tmp</c> file in the same folder is written and flushed to disk,
/// then renamed over the target; a failure deletes it. Checkpoints, images, documents and outputs all go through here.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="write"/>'s output to <paramref name="path"/> atomically.</summary>
    /// <remarks>
    /// If <paramref name="write"/>, the flush or the rename throws, the temporary file is deleted,
    /// an existing target is left untouched, and the exception propagates (a missing folder gives
    /// <see cref="DirectoryNotFoundException"/>).
    /// </remarks>
    public static void Write(string path, Action<Stream> write, bool overwrite = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);

        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)
            ?? throw new ArgumentException($"{path}: not a file path.", nameof(path));
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");

        var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        try
        {
            try
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            finally
            {
                stream.Dispose();
            }
            File.Move(temp, full, overwrite);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, s => s.Write(bytes));

    /// <summary>Writes <paramref name="bytes"/> to a new file <paramref name="path"/> atomically; false (and nothing written) when it exists.</summary>
    public static bool TryWriteNew(string path, byte[] bytes)
    {
        if (File.Exists(path)) return false;
        try
        {
            Write(path, s => s.Write(bytes), overwrite: false);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
    }

    /// <summary>
    /// Puts a finished file that was written under another name in the same folder (a download's <c>.part</c>) in
    /// place: flushed to disk, then renamed over <paramref name="target"/>, so readers see the old file or all of the
    /// new one.
    /// </summary>
    public static void Promote(string finished, string target)
    {
        using (var stream = new FileStream(finished, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) stream.Flush(flushToDisk: true);
        File.Move(finished, target, overwrite: true);
    }

    /// <summary>
    /// Opens (creating it if needed) a file that grows by appends across runs, such as a download's <c>.part</c>:
    /// not atomic by design; <see cref="Promote"/> puts it in place once it is complete.
    /// </summary>
    public static FileStream OpenPartial(string path) => new(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 1 << 16);

    /// <summary>Writes <paramref name="text"/> as UTF-8 (no byte-order mark) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new System.Text.UTF8Encoding(false).GetBytes(text));

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Whether a file can be created in <paramref name="folder"/> (checked before long work whose result goes there);
    /// the reason when it cannot.
    /// </summary>
    public static string? CannotWriteIn(string folder)
    {
        string probe = Path.Combine(folder, $".redraft-write-check-{Guid.NewGuid():N}.tmp");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ex.Message;
        }
    }
}
