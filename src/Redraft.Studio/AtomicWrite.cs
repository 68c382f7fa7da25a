namespace Redraft.Studio;

/// <summary>
/// Writes files so a reader (or a process started after a kill) sees either the old content or the
/// complete new content: write a temporary file in the same folder, flush it to disk, rename it over the
/// target. A kill leaves at most a stray <c>.NAME.*.tmp</c> file, never a partial target.
/// </summary>
internal static class AtomicWrite
{
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)!;
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
