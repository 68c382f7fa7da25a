namespace Redraft.Models;

/// <summary>
/// An exclusive lock on one download target across threads and processes: a hidden <c>.NAME.lock</c> file beside it,
/// held open with <see cref="FileShare.None"/> (an advisory <c>flock</c> on Linux). The file is left in place when
/// released: deleting it would let a waiter lock the old file while a newcomer locks a new one.
/// </summary>
internal sealed class DownloadLock : IDisposable
{
    private readonly FileStream _stream;

    private DownloadLock(FileStream stream) => _stream = stream;

    /// <summary>The lock file's path for <paramref name="target"/>.</summary>
    public static string PathFor(string target) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(target)!, $".{System.IO.Path.GetFileName(target)}.lock");

    /// <summary>Takes the lock, calling <paramref name="waiting"/> once if another holder makes it wait.</summary>
    public static async Task<DownloadLock> AcquireAsync(string target, Action waiting, CancellationToken ct)
    {
        string path = PathFor(target);
        bool said = false;
        while (true)
        {
            try
            {
                return new DownloadLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1));
            }
            catch (IOException) when (File.Exists(path))
            {
                if (!said) waiting();
                said = true;
                await Task.Delay(100, ct);
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}
