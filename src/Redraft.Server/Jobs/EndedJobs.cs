namespace Redraft.Server.Jobs;

/// <summary>
/// The jobs a queue ended most recently (<see cref="InProcessJobQueue.FinishedKept"/> of them), for
/// <see cref="IJobQueue.Find"/> and A1111's <c>completed</c> flag. Not thread-safe: used under its queue's lock.
/// </summary>
internal sealed class EndedJobs
{
    private readonly LinkedList<GenerationJob> _jobs = new();

    /// <summary>Remembers an ended job, forgetting the oldest beyond the limit.</summary>
    public void Add(GenerationJob job)
    {
        _jobs.AddLast(job);
        if (_jobs.Count > InProcessJobQueue.FinishedKept) _jobs.RemoveFirst();
    }

    /// <summary>The latest ended job with <paramref name="id"/> (a client may reuse an id once its job ended), or null.</summary>
    public GenerationJob? Latest(string id)
    {
        for (var node = _jobs.Last; node is not null; node = node.Previous)
            if (node.Value.Id == id) return node.Value;
        return null;
    }

    /// <summary>Their ids, oldest first.</summary>
    public IReadOnlyList<string> Ids() => [.. _jobs.Select(j => j.Id)];
}
