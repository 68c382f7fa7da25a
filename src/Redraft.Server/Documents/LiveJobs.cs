using Redraft.Server.Jobs;
using Redraft.Studio.Generation;

namespace Redraft.Server.Documents;

/// <summary>
/// The live jobs of the documents API (<c>POST …/live</c>): at most one per document (a newer one cancels the older,
/// queued or running, with reason <c>superseded</c>) and, in memory only, the latest live result of each document
/// with its plan, so <c>…/apply</c> can commit it exactly as a generate would have. A result is dropped when a newer
/// one of its document arrives, when it is <see cref="KeptFor"/> old, or when the server stops; nothing of a live
/// job is written anywhere until it is applied.
/// </summary>
internal sealed class LiveJobs(IJobQueue queue, TimeProvider? time = null)
{
    /// <summary>How long a live result stays applicable.</summary>
    public static readonly TimeSpan KeptFor = TimeSpan.FromMinutes(10);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly object _gate = new();
    private readonly Dictionary<string, (string JobId, long Ticket)> _current = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LiveResult> _results = new(StringComparer.Ordinal);
    private long _tickets;

    /// <summary>
    /// Submits the live job of <paramref name="document"/> made by <paramref name="submit"/> (given its ticket, which
    /// its commit hands to <see cref="Keep"/>) after cancelling the document's previous live job, as one step: two
    /// requests racing leave exactly one live job.
    /// </summary>
    public GenerationJob Replace(string document, Func<long, GenerationJob> submit)
    {
        lock (_gate)
        {
            // Cancelled first: the new job then never waits behind the old one.
            if (_current.TryGetValue(document, out var previous)) queue.Cancel(previous.JobId, "superseded");
            long ticket = ++_tickets;
            var job = submit(ticket);
            _current[document] = (job.Id, ticket);
            return job;
        }
    }

    /// <summary>
    /// Keeps the result of the live job with <paramref name="ticket"/>, unless a newer live job of the document
    /// already kept one (a superseded job that finished in the same moment must not replace it).
    /// </summary>
    public void Keep(string document, long ticket, LiveResult result)
    {
        lock (_gate)
        {
            Expire();
            if (_results.TryGetValue(document, out var kept) && kept.Ticket > ticket) return;
            _results[document] = result with { Ticket = ticket, Kept = _time.GetUtcNow() };
        }
    }

    /// <summary>The kept result of live job <paramref name="jobId"/> of <paramref name="document"/>, or null when it is gone or never was.</summary>
    public LiveResult? Find(string document, string jobId)
    {
        lock (_gate)
        {
            Expire();
            return _results.TryGetValue(document, out var kept) && kept.JobId == jobId ? kept : null;
        }
    }

    /// <summary>The document <paramref name="from"/> is now called <paramref name="to"/>: its live job and kept result follow it.</summary>
    public void Rename(string from, string to)
    {
        if (from == to) return;
        lock (_gate)
        {
            if (_current.Remove(from, out var current)) _current[to] = current;
            if (_results.Remove(from, out var kept)) _results[to] = kept;
        }
    }

    /// <summary>Drops results older than <see cref="KeptFor"/> (on every use: no timer to stop). Under the lock.</summary>
    private void Expire()
    {
        var now = _time.GetUtcNow();
        foreach (var (document, kept) in _results.ToList())
            if (now - kept.Kept > KeptFor) _results.Remove(document);
    }
}

/// <summary>A live job's output, kept to be shown and applied.</summary>
/// <param name="JobId">The live job.</param>
/// <param name="Plan">Its plan (the composite it read, where its image goes).</param>
/// <param name="Output">Its generation's output.</param>
/// <param name="Candidate">The image as the candidate layer it becomes when applied.</param>
internal sealed record LiveResult(string JobId, DocumentStepPlan Plan, GenerationOutput Output, CandidateImage Candidate)
{
    /// <summary>The order of its job among the live jobs (set by <see cref="LiveJobs.Keep"/>).</summary>
    public long Ticket { get; init; }

    /// <summary>When it was kept.</summary>
    public DateTimeOffset Kept { get; init; }
}
