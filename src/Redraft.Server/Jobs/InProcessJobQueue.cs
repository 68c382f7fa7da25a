using System.Text.Json.Nodes;
using Redraft.Studio.Generation;

namespace Redraft.Server.Jobs;

/// <summary>
/// The queue of a server that generates itself: one runner takes the jobs in accept order (jobs submitted
/// <see cref="JobSubmission.Ahead"/> first) and awaits each before the next, so they run and end in that order and <see cref="GenerationService"/>'s own turn-taking is never more than
/// one deep. Requests never run model code: they submit and await the job.
/// </summary>
public sealed class InProcessJobQueue : IJobQueue
{
    /// <summary>Ended jobs kept for <see cref="Find"/> and A1111's <c>completed</c> flag (A1111 keeps 16).</summary>
    public const int FinishedKept = 64;

    private readonly GenerationService _service;
    private readonly object _gate = new();
    private readonly LinkedList<GenerationJob> _pending = new();
    private readonly Dictionary<string, GenerationJob> _live = new(StringComparer.Ordinal);
    private readonly EndedJobs _finished = new();
    private readonly SemaphoreSlim _ready = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _runner;
    private GenerationJob? _running;
    private long _accepted;
    private bool _stopped;

    /// <summary>A queue that runs its jobs on <paramref name="service"/>.</summary>
    public InProcessJobQueue(GenerationService service)
    {
        _service = service;
        _runner = Task.Run(RunAsync);
    }

    /// <inheritdoc/>
    public GenerationJob Submit(JobSubmission submission)
    {
        ArgumentNullException.ThrowIfNull(submission);
        GenerationJob job;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            string id = submission.Id ?? NewId(submission.Kind);
            if (_live.ContainsKey(id)) throw new DuplicateJobException(id);
            job = new GenerationJob(id, ++_accepted, submission);
            _live.Add(id, job);
            if (submission.Ahead)
            {
                // After the queued jobs that jumped before it, ahead of the others (which each move back one place).
                var before = _pending.First;
                while (before is not null && before.Value.Ahead) before = before.Next;
                if (before is null) _pending.AddLast(job);
                else _pending.AddBefore(before, job);
                TellPositions();
            }
            else
            {
                _pending.AddLast(job);
                job.Queued(_pending.Count);
            }
        }
        _ready.Release();
        return job;
    }

    /// <inheritdoc/>
    public GenerationJob? Find(string id)
    {
        lock (_gate)
        {
            return _live.TryGetValue(id, out var job) ? job : _finished.Latest(id);
        }
    }

    /// <inheritdoc/>
    public bool Cancel(string id, string reason = "cancelled")
    {
        GenerationJob? dropped = null;
        lock (_gate)
        {
            if (!_live.TryGetValue(id, out var job)) return false;
            job.CancelReason(reason);
            if (job == _running)
            {
                job.CancelRunning();
                return true;
            }
            _pending.Remove(job);
            _live.Remove(id);
            Remember(job);
            dropped = job;
            TellPositions();
        }
        dropped.End(new OperationCanceledException("cancelled while queued"));
        return true;
    }

    /// <inheritdoc/>
    public QueueSnapshot Snapshot()
    {
        lock (_gate) return new QueueSnapshot(_running, [.. _pending], _finished.Ids());
    }

    /// <summary>Cancels the running and queued jobs and waits for the runner to end.</summary>
    public async ValueTask DisposeAsync()
    {
        List<GenerationJob> dropped;
        lock (_gate)
        {
            if (_stopped) return;
            _stopped = true;
            dropped = [.. _pending];
            _pending.Clear();
            foreach (var job in dropped)
            {
                _live.Remove(job.Id);
                job.CancelReason("server-stopping");
            }
            _running?.CancelReason("server-stopping");
            _running?.CancelRunning();
        }
        foreach (var job in dropped) job.End(new OperationCanceledException("the server is stopping"));
        _stopping.Cancel();
        await _runner.ConfigureAwait(false);
        _stopping.Dispose();
    }

    private string NewId(string kind)
    {
        string id;
        do id = TaskIds.New(kind);
        while (_live.ContainsKey(id));
        return id;
    }

    /// <summary>Each queued job learns its place (it tells its subscribers when it changed). Under the lock.</summary>
    private void TellPositions()
    {
        int position = 0;
        foreach (var job in _pending) job.Queued(++position);
    }

    private void Remember(GenerationJob job) => _finished.Add(job);

    private async Task RunAsync()
    {
        while (true)
        {
            try
            {
                await _ready.WaitAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            GenerationJob job;
            lock (_gate)
            {
                // A cancelled job left the queue but its signal stays: nothing to run for it.
                if (_pending.First is not { } first) continue;
                job = first.Value;
                _pending.RemoveFirst();
                _running = job;
                job.Start();
                TellPositions();
            }
            try
            {
                var output = await _service.GenerateAsync(job.Settings, job.Inputs, job.Sink, job.Control, job.Cancellation).ConfigureAwait(false);
                JsonObject? committed = null;
                if (job.Commit is { } commit)
                {
                    // Cancelled after the last decode: nothing is committed. Once the commit starts it completes.
                    job.Cancellation.ThrowIfCancellationRequested();
                    job.Committing();
                    committed = commit(output);
                }
                Ended(job);
                job.End(output, committed);
            }
            catch (Exception e)
            {
                Ended(job);
                job.End(e);
            }
        }
    }

    private void Ended(GenerationJob job)
    {
        lock (_gate)
        {
            _running = null;
            _live.Remove(job.Id);
            Remember(job);
        }
    }
}
