using System.Diagnostics;
using Redraft.Diffusion.Pipelines;
using Redraft.Studio.Generation;

namespace Redraft.Server;

/// <summary>
/// What <c>/sdapi/v1/progress</c>, <c>interrupt</c> and <c>skip</c> act on: the job that is generating now. Jobs are
/// queued by <see cref="GenerationService"/> (one at a time); a job becomes the running one when its first progress
/// after the queue arrives, so progress always describes the job that runs, never one that waits.
/// </summary>
internal sealed class JobTracker
{
    private readonly object _gate = new();
    private Job? _running;
    private string _lastTimestamp = "0";

    /// <summary>One API request's job.</summary>
    public sealed class Job(string kind, int iterations, int stepsPerRun)
    {
        internal readonly object Gate = new();
        public GenerationControl Control { get; } = new();
        /// <summary>A1111's <c>state.job</c> at start: <c>scripts_txt2img</c> or <c>scripts_img2img</c>.</summary>
        public string Kind { get; } = kind;
        public int JobCount { get; } = iterations;
        public int JobNo { get; internal set; }
        public int SamplingStep { get; internal set; }
        public int SamplingSteps { get; internal set; } = stepsPerRun;
        public Stopwatch Clock { get; } = new();
        public string Timestamp { get; internal set; } = "0";
        public bool Interrupted { get; internal set; }
        public bool Skipped { get; internal set; }
        internal RgbImage? Preview { get; set; }
        internal byte[]? PreviewPng { get; set; }
    }

    /// <summary>A snapshot for <c>progress</c>.</summary>
    public sealed record Snapshot(Job? Running, string LastTimestamp);

    /// <summary>The progress sink of <paramref name="job"/>: its events update the job, and its first one after the queue makes it the running job.</summary>
    public IProgress<GenerationEvent> Track(Job job) => new Inline(e =>
    {
        if (e.Phase == GenerationPhase.Queued) return;
        lock (_gate)
        {
            if (_running != job)
            {
                _running = job;
                job.Timestamp = DateTime.Now.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
                _lastTimestamp = job.Timestamp;
                job.Clock.Start();
            }
        }
        lock (job.Gate)
        {
            job.JobNo = e.Iteration;
            if (e.Total > 0) job.SamplingSteps = e.Total;
            job.SamplingStep = e.Phase == GenerationPhase.Sampling || e.Phase == GenerationPhase.Decode ? e.Step : job.SamplingStep;
            if (e.Preview is { } preview)
            {
                job.Preview = preview;
                job.PreviewPng = null;
            }
        }
    });

    /// <summary>Forgets <paramref name="job"/> when it is the running one (it ended).</summary>
    public void Finished(Job job)
    {
        lock (_gate)
            if (_running == job) _running = null;
    }

    public Snapshot Current()
    {
        lock (_gate) return new Snapshot(_running, _lastTimestamp);
    }

    /// <summary>Interrupts the running job (A1111: it returns what it has); false when none runs.</summary>
    public bool Interrupt()
    {
        var job = Current().Running;
        if (job is null) return false;
        job.Interrupted = true;
        job.Control.Interrupt();
        return true;
    }

    /// <summary>Ends the running job's current sampling run; false when none runs.</summary>
    public bool Skip()
    {
        var job = Current().Running;
        if (job is null) return false;
        job.Skipped = true;
        job.Control.Skip();
        return true;
    }

    /// <summary>The latest preview of <paramref name="job"/> as PNG, encoded once per preview.</summary>
    public static byte[]? PreviewPng(Job job)
    {
        lock (job.Gate)
        {
            if (job.Preview is null) return null;
            return job.PreviewPng ??= ImageFiles.EncodePng(job.Preview);
        }
    }

    private sealed class Inline(Action<GenerationEvent> report) : IProgress<GenerationEvent>
    {
        public void Report(GenerationEvent value) => report(value);
    }
}
