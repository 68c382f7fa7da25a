namespace Redraft.Server.Jobs;

/// <summary>Where a <see cref="GenerationJob"/> is in its life.</summary>
public enum JobStatus
{
    /// <summary>Accepted, waiting for the jobs before it.</summary>
    Queued,

    /// <summary>Generating now.</summary>
    Running,

    /// <summary>Ended with images (also when interrupted or skipped: it returns what it made).</summary>
    Completed,

    /// <summary>Ended with an error.</summary>
    Failed,

    /// <summary>Cancelled before or while running (by id, by its client going away, or by the server stopping): no images.</summary>
    Cancelled,
}
