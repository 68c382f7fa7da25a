namespace Redraft.Models;

/// <summary>What a download is doing.</summary>
public enum DownloadPhase
{
    /// <summary>Another process or task downloads the same file; this one waits for it.</summary>
    Waiting,
    /// <summary>Bytes are arriving.</summary>
    Downloading,
    /// <summary>A transient failure; the download resumes after a pause.</summary>
    Retrying,
    /// <summary>Verified and in place.</summary>
    Done,
}

/// <summary>A download's progress, for bars and job status.</summary>
/// <param name="File">The file's name.</param>
/// <param name="Phase">What it is doing.</param>
/// <param name="Bytes">Bytes on disk so far (resumed bytes included).</param>
/// <param name="Total">The file's size, when announced.</param>
/// <param name="BytesPerSecond">The rate over the last seconds of this run.</param>
/// <param name="Message">A note for <see cref="DownloadPhase.Waiting"/> and <see cref="DownloadPhase.Retrying"/>.</param>
public sealed record DownloadProgress(string File, DownloadPhase Phase, long Bytes, long? Total, double BytesPerSecond, string? Message = null)
{
    /// <summary>Time left at the current rate, when the size and a rate are known.</summary>
    public TimeSpan? Eta => Total is { } total && BytesPerSecond > 0 ? TimeSpan.FromSeconds((total - Bytes) / BytesPerSecond) : null;
}
