namespace Redraft.Broker.Messages;

/// <summary>
/// A worker says it is alive, every <see cref="Interval"/>: what it can run and what it runs now. The server lists
/// workers from these (<c>GET /api/v1/workers</c>) and forgets one after a few missed beats.
/// </summary>
/// <param name="Worker">Its name (unique in the fleet: <c>--name</c>, else host and process id).</param>
/// <param name="Host">The machine.</param>
/// <param name="Device">Where it generates: <c>cpu</c> or <c>cuda</c>.</param>
/// <param name="Threads">CPU threads of its generations (null = each job's).</param>
/// <param name="Models">The checkpoints it serves.</param>
/// <param name="CurrentJob">The task id of the job it runs, or null.</param>
/// <param name="JobsDone">Jobs it finished since it started.</param>
/// <param name="Stopping">It takes no new jobs (SIGTERM) and ends after the current one.</param>
/// <param name="Sent">When this beat was sent.</param>
public sealed record WorkerHeartbeat(string Worker, string Host, string Device, int? Threads, IReadOnlyList<ModelReference> Models,
    string? CurrentJob, long JobsDone, bool Stopping, DateTimeOffset Sent)
{
    /// <summary>The message's <c>type</c> property.</summary>
    public const string Type = "redraft.heartbeat.v1";

    /// <summary>Time between beats.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    /// <summary>A worker not heard from for this long is gone.</summary>
    public static readonly TimeSpan Expiry = TimeSpan.FromSeconds(10);
}
