using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Redraft.Diffusion.Pipelines;
using Redraft.Studio.Generation;

namespace Redraft.Server.Jobs;

/// <summary>
/// One queued generation: what it runs, where it is (<see cref="Status"/>, the step of its current sampling run, its
/// latest preview), and how it ends (<see cref="Completion"/>). Created by an <see cref="IJobQueue"/>; its state
/// changes on the queue's and the generation thread's side and is read by any request thread, so it is guarded by
/// one lock and read through snapshots.
/// </summary>
public sealed class GenerationJob
{
    private readonly object _gate = new();
    private readonly TaskCompletionSource<GenerationOutput> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _cancel = new();
    private readonly Stopwatch _clock = new();
    private JobStatus _status = JobStatus.Queued;
    private int _iteration, _step, _steps;
    private RgbImage? _preview;
    private byte[]? _previewPng;
    private int _previewId;
    private int _position;
    private double? _eta;
    private GenerationPhase? _phase;
    private long _sequence;
    private string? _cancelReason;
    private JobEvent? _terminal;
    private readonly List<Channel<JobEvent>> _subscribers = [];

    /// <summary>Events a subscriber may fall behind by before older progress events are dropped (never the last one).</summary>
    private const int SubscriberBacklog = 64;

    internal GenerationJob(string id, long number, JobSubmission submission)
    {
        Id = id;
        Number = number;
        Kind = submission.Kind;
        Client = submission.Client;
        Settings = submission.Settings;
        Inputs = submission.Inputs;
        Commit = submission.Commit;
        Document = submission.Document;
        OperationId = submission.OperationId;
        Ahead = submission.Ahead;
        _steps = submission.Settings.Steps;
    }

    /// <summary>The task id (A1111's <c>id_task</c>).</summary>
    public string Id { get; }

    /// <summary>Accept order, from 1: jobs start, and end, in this order.</summary>
    public long Number { get; }

    /// <summary>What made it: <c>txt2img</c>, <c>img2img</c>, …</summary>
    public string Kind { get; }

    /// <summary>Who asked.</summary>
    public string Client { get; }

    /// <summary>The document a document job works on (its name in the documents API), else null.</summary>
    public string? Document { get; }

    /// <summary>The client's operation id of a document job, else null.</summary>
    public string? OperationId { get; }

    /// <summary>Whether it was queued ahead of the jobs that were not (<see cref="JobSubmission.Ahead"/>).</summary>
    public bool Ahead { get; }

    /// <summary>The resolved settings it runs.</summary>
    public GenerationSettings Settings { get; }

    /// <summary>Init image and mask, or null.</summary>
    public GenerationInputs? Inputs { get; }

    /// <summary>Interrupt (stop and decode what exists) and skip (end the running sampling run) for this job.</summary>
    public GenerationControl Control { get; } = new();

    /// <summary>Ends with the job: its output, its error, or cancelled.</summary>
    public Task<GenerationOutput> Completion => _done.Task;

    /// <summary>When it started running (<c>yyyyMMddHHmmss</c>, A1111's <c>job_timestamp</c>), or "0" before.</summary>
    public string Timestamp { get; private set; } = "0";

    /// <summary>When it started running, or null while queued.</summary>
    public DateTimeOffset? Started { get; private set; }

    /// <summary>When it ended, or null before.</summary>
    public DateTimeOffset? Ended { get; private set; }

    /// <summary>Whether an interrupt was asked while it ran.</summary>
    public bool Interrupted { get; private set; }

    /// <summary>Whether a skip was asked while it ran.</summary>
    public bool Skipped { get; private set; }

    /// <summary>Its status now.</summary>
    public JobStatus Status
    {
        get { lock (_gate) return _status; }
    }

    /// <summary>Progress now: the run (0-based) of how many, the step of the run, time since it started, the preview's number.</summary>
    public (int Iteration, int Iterations, int Step, int Steps, TimeSpan Elapsed, int PreviewId) Progress()
    {
        lock (_gate) return (_iteration, Settings.BatchCount, _step, _steps, _clock.Elapsed, _previewId);
    }

    /// <summary>The latest live preview as PNG (encoded once per preview), or null before the first.</summary>
    public byte[]? PreviewPng()
    {
        RgbImage? preview;
        lock (_gate)
        {
            if (_previewPng is not null || _preview is null) return _previewPng;
            preview = _preview;
        }
        var png = ImageFiles.EncodePng(preview);
        lock (_gate)
        {
            if (ReferenceEquals(_preview, preview)) _previewPng = png;
        }
        return png;
    }

    /// <summary>Stops the running job after its current step; its images so far are decoded and returned.</summary>
    public void Interrupt()
    {
        Interrupted = true;
        Control.Interrupt();
        Remote?.Invoke("interrupt");
    }

    /// <summary>Ends the running sampling run; the job goes on with its next run.</summary>
    public void Skip()
    {
        Skipped = true;
        Control.Skip();
        Remote?.Invoke("skip");
    }

    /// <summary>Where interrupt and skip go when the job runs in another process (a broker's worker), else null.</summary>
    internal Action<string>? Remote { get; set; }

    /// <summary>The submission's commit, run by the queue before the job ends (null for plain generations).</summary>
    internal Func<GenerationOutput, JsonObject>? Commit { get; }

    /// <summary>The commit starts: from here the job ends with its result even if cancelled.</summary>
    internal void Committing()
    {
        lock (_gate) Publish("phase", new JsonObject { ["phase"] = "commit" });
    }

    /// <summary>Cancelled by the queue when the job is cancelled while it runs.</summary>
    internal CancellationToken Cancellation => _cancel.Token;

    /// <summary>The progress sink the generation reports to.</summary>
    internal IProgress<GenerationEvent> Sink => new Inline(Report);

    internal void Start()
    {
        lock (_gate)
        {
            _status = JobStatus.Running;
            _position = 0;
            Started = DateTimeOffset.UtcNow;
            Timestamp = DateTime.Now.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            _clock.Start();
            Publish("started", new JsonObject { ["started_at"] = Started.Value.ToString("O") });
        }
    }

    /// <summary>The job's place in the queue changed (1 = next to run).</summary>
    internal void Queued(int position)
    {
        lock (_gate)
        {
            if (_status != JobStatus.Queued || position == _position) return;
            _position = position;
            Publish("queued", new JsonObject { ["position"] = position });
        }
    }

    /// <summary>
    /// The job's events from now on, after a <c>snapshot</c> of where it is; the reader completes after the terminal
    /// event (at once, when the job has ended). Unsubscribes when <paramref name="ct"/> is cancelled.
    /// </summary>
    public ChannelReader<JobEvent> Subscribe(CancellationToken ct)
    {
        var channel = Channel.CreateBounded<JobEvent>(new BoundedChannelOptions(SubscriberBacklog)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_gate)
        {
            channel.Writer.TryWrite(new JobEvent(_sequence, "snapshot", Snapshot()));
            if (_terminal is not null)
            {
                channel.Writer.TryWrite(_terminal);
                channel.Writer.TryComplete();
                return channel.Reader;
            }
            _subscribers.Add(channel);
        }
        ct.Register(() =>
        {
            lock (_gate) _subscribers.Remove(channel);
            channel.Writer.TryComplete();
        });
        return channel.Reader;
    }

    /// <summary>Asks a running job to stop (its generation throws <see cref="OperationCanceledException"/>).</summary>
    internal void CancelRunning() => _cancel.Cancel();

    /// <summary>Why the job is being cancelled: its <c>cancelled</c> event's <c>reason</c> (the first one given wins).</summary>
    internal void CancelReason(string reason)
    {
        lock (_gate) _cancelReason ??= reason;
    }

    internal void End(GenerationOutput output, JsonObject? committed = null)
    {
        var data = new JsonObject
        {
            ["images"] = output.Images.Count,
            ["seeds"] = new JsonArray([.. output.Images.Select(i => (JsonNode)JsonValue.Create(i.Seed))]),
            ["steps_run"] = output.StepsRun,
        };
        foreach (var (key, value) in committed ?? []) data[key] = value?.DeepClone();
        Finish(JobStatus.Completed, () => _done.TrySetResult(output), "result", data);
    }

    internal void End(Exception error)
    {
        if (error is OperationCanceledException)
        {
            string reason;
            lock (_gate) reason = _cancelReason ?? "cancelled";
            Finish(JobStatus.Cancelled, () => _done.TrySetCanceled(), "cancelled", new JsonObject { ["reason"] = reason });
            return;
        }
        Finish(JobStatus.Failed, () => _done.TrySetException(error), "error", new JsonObject
        {
            ["error"] = error.GetType().Name,
            // User errors carry a one-line message for the user; anything else stays in the server's log.
            ["detail"] = error is RedraftInputException ? error.Message.ReplaceLineEndings(" ") : "internal error; the server's log has the details",
        });
    }

    private void Finish(JobStatus status, Action complete, string type, JsonObject data)
    {
        lock (_gate)
        {
            // A job ends once: a second end (a late result racing a cancel) changes nothing.
            if (_terminal is not null) return;
            _status = status;
            Ended = DateTimeOffset.UtcNow;
            _clock.Stop();
            Publish(type, data);
        }
        complete();
    }

    /// <summary>Where the job is now, for a new subscriber. Under the lock.</summary>
    private JsonObject Snapshot() => new()
    {
        ["job"] = Id,
        ["kind"] = Kind,
        ["document"] = Document,
        ["operation_id"] = OperationId,
        ["status"] = _status.ToString().ToLowerInvariant(),
        ["position"] = _position,
        ["phase"] = _phase is { } phase ? PhaseName(phase) : null,
        ["step"] = _step,
        ["total"] = _steps,
        ["iteration"] = _iteration,
        ["iterations"] = Settings.BatchCount,
        ["preview"] = _previewId,
    };

    /// <summary>Sends an event to every subscriber; a terminal one ends their streams. Under the lock.</summary>
    private void Publish(string type, JsonObject data)
    {
        var e = new JobEvent(++_sequence, type, data);
        if (e.IsTerminal) _terminal = e;
        foreach (var subscriber in _subscribers)
        {
            subscriber.Writer.TryWrite(e);
            if (e.IsTerminal) subscriber.Writer.TryComplete();
        }
        if (e.IsTerminal) _subscribers.Clear();
    }

    private static string PhaseName(GenerationPhase phase) => phase.ToString().ToLowerInvariant();

    private void Report(GenerationEvent e)
    {
        if (e.Phase == GenerationPhase.Queued) return;
        lock (_gate)
        {
            _iteration = e.Iteration;
            if (e.Total > 0) _steps = e.Total;
            if (e.Phase is GenerationPhase.Sampling or GenerationPhase.Decode) _step = e.Step;
            _eta = e.Eta?.TotalSeconds;
            if (_phase != e.Phase)
            {
                _phase = e.Phase;
                Publish("phase", new JsonObject { ["phase"] = PhaseName(e.Phase) });
            }
            if (e.Phase is GenerationPhase.Sampling or GenerationPhase.Decode)
                Publish("progress", new JsonObject
                {
                    ["step"] = _step,
                    ["total"] = _steps,
                    ["iteration"] = _iteration,
                    ["iterations"] = Settings.BatchCount,
                    ["fraction"] = e.Fraction,
                    ["eta_s"] = _eta,
                    ["elapsed_s"] = _clock.Elapsed.TotalSeconds,
                    ["decode_fraction"] = e.DecodeFraction,
                });
            if (e.Preview is { } preview)
            {
                _preview = preview;
                _previewPng = null;
                _previewId++;
                Publish("preview", new JsonObject
                {
                    ["n"] = _previewId,
                    ["step"] = _step,
                    ["url"] = $"/api/v1/jobs/{Uri.EscapeDataString(Id)}/preview.png?n={_previewId}",
                    ["width"] = preview.Width,
                    ["height"] = preview.Height,
                });
            }
        }
    }

    private sealed class Inline(Action<GenerationEvent> report) : IProgress<GenerationEvent>
    {
        public void Report(GenerationEvent value) => report(value);
    }
}
