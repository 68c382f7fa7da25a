namespace Redraft.Server.Jobs;

/// <summary>
/// Where every generation of the server waits its turn: the A1111 endpoints and the documents API submit here and
/// await <see cref="GenerationJob.Completion"/>. Jobs run first in, first out, one at a time, and end in the order they
/// were accepted, except that a job submitted <see cref="JobSubmission.Ahead"/> goes before the queued jobs that are
/// not (never before the running one). The in-process queue (<see cref="InProcessJobQueue"/>) is the default; a broker-backed one replaces
/// it without touching the endpoints.
/// </summary>
public interface IJobQueue : IAsyncDisposable
{
    /// <summary>Accepts a job; it runs after those accepted before it (an <see cref="JobSubmission.Ahead"/> job: after those of them that jumped too).</summary>
    /// <exception cref="DuplicateJobException">A queued or running job already has the id asked for.</exception>
    GenerationJob Submit(JobSubmission submission);

    /// <summary>The job with <paramref name="id"/> while queued or running, or among the recently ended ones; else null.</summary>
    GenerationJob? Find(string id);

    /// <summary>
    /// Cancels a queued job (it leaves the queue and never runs) or a running one (it stops at its next step, without
    /// images). False when no queued or running job has the id. <paramref name="reason"/> is the <c>reason</c> of the
    /// job's <c>cancelled</c> event (<c>cancelled</c>; <c>superseded</c> when a newer live job replaces it).
    /// </summary>
    bool Cancel(string id, string reason = "cancelled");

    /// <summary>The running job and the queued ones in the order they will run.</summary>
    QueueSnapshot Snapshot();
}

/// <summary>The queue at one moment.</summary>
/// <param name="Running">The job generating now, or null.</param>
/// <param name="Pending">Queued jobs, next first.</param>
/// <param name="Finished">Recently ended jobs' ids, oldest first (A1111 keeps the last 16).</param>
/// <param name="AlsoRunning">Jobs running beside <paramref name="Running"/> (several workers of a broker-backed queue), oldest first.</param>
public sealed record QueueSnapshot(GenerationJob? Running, IReadOnlyList<GenerationJob> Pending, IReadOnlyList<string> Finished,
    IReadOnlyList<GenerationJob>? AlsoRunning = null)
{
    /// <summary>Every job that has not ended: the running ones, then the queued ones in order.</summary>
    public IEnumerable<GenerationJob> Active =>
        (Running is { } running ? [running] : Array.Empty<GenerationJob>()).Concat(AlsoRunning ?? []).Concat(Pending);

    /// <summary>Place of job <paramref name="id"/> in the queue, 1 = next to run, or 0 when it is not queued.</summary>
    public int Position(string id)
    {
        for (int i = 0; i < Pending.Count; i++)
            if (Pending[i].Id == id) return i + 1;
        return 0;
    }
}

/// <summary>A client asked for a task id that a queued or running job already has.</summary>
public sealed class DuplicateJobException(string id) : Exception($"task id \"{id}\" is already queued or running; use another force_task_id or leave it out")
{
    /// <summary>The id asked for.</summary>
    public string Id { get; } = id;
}
