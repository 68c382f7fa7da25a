namespace Redraft.Broker.Messages;

/// <summary>
/// What a worker made for a job (<see cref="ResultMessage"/>), or why it made nothing; published before the job's
/// message is acknowledged, so a job is never lost, and may arrive twice (the server keeps the first).
/// </summary>
/// <param name="Job">The job id.</param>
/// <param name="Worker">The worker that ran it.</param>
/// <param name="Images">The images, in seed order; empty when it failed or was cancelled.</param>
/// <param name="ModelHash">The model's short hash (AutoV2), as the infotext has it.</param>
/// <param name="ModelName">The model's name.</param>
/// <param name="SamplerName">The sampler's A1111 name.</param>
/// <param name="StepsRun">Sampling steps the last run made.</param>
/// <param name="StepsPlanned">Sampling steps per run.</param>
/// <param name="Stop"><c>Completed</c> or <c>Interrupted</c>.</param>
/// <param name="SkippedRuns">Runs ended by a skip.</param>
/// <param name="DurationMs">The job's time on the worker, model load included.</param>
/// <param name="LoadMs">Time spent loading the model.</param>
/// <param name="Cancelled">The job was cancelled on the worker: no images, nothing to commit.</param>
/// <param name="Error">
/// The job cannot succeed on any worker (its result is larger than a message may be): the one-line error its client
/// gets; no images. Failures that another worker might not have go back to the queue instead.
/// </param>
public sealed record ResultMessage(string Job, string Worker, IReadOnlyList<ResultImage> Images, string ModelHash, string ModelName, string SamplerName,
    int StepsRun, int StepsPlanned, string Stop, int SkippedRuns, double DurationMs, double LoadMs, bool Cancelled = false, string? Error = null)
{
    /// <summary>The message's <c>type</c> property.</summary>
    public const string Type = "redraft.result.v1";
}

/// <summary>One image of a result.</summary>
/// <param name="Png">The PNG, with the infotext as its <c>parameters</c> chunk.</param>
/// <param name="Infotext">The infotext.</param>
/// <param name="Seed">Its seed.</param>
/// <param name="Subseed">Its variation seed.</param>
/// <param name="Index">Its place in the job.</param>
public sealed record ResultImage(byte[] Png, string Infotext, long Seed, long Subseed, int Index);
