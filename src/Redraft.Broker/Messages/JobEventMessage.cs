namespace Redraft.Broker.Messages;

/// <summary>
/// A job's progress on its worker, published on the events exchange under the job's key (transient: a lost one is
/// followed by the next). <see cref="Kind"/> says which: <c>started</c> (a worker took it), <c>progress</c> (a step,
/// with a preview on preview steps), or <c>attempt-failed</c> (this delivery failed; the job goes back to the queue, or
/// to the dead letters after its last delivery).
/// </summary>
/// <param name="Job">The job id.</param>
/// <param name="Kind"><c>started</c>, <c>progress</c> or <c>attempt-failed</c>.</param>
/// <param name="Worker">The worker sending it.</param>
/// <param name="Phase">The generation phase (<c>Loading</c>, <c>Sampling</c>, <c>Decode</c>, …).</param>
/// <param name="Step">Steps done in the current run.</param>
/// <param name="Total">Steps of a run.</param>
/// <param name="Iteration">The current run.</param>
/// <param name="Iterations">Runs in the job.</param>
/// <param name="ElapsedMs">Time since the job started on the worker.</param>
/// <param name="EtaMs">Estimated time left, or null.</param>
/// <param name="DecodeFraction">While decoding, the share done.</param>
/// <param name="PreviewPng">The live preview, on preview steps.</param>
/// <param name="Error">With <c>attempt-failed</c>: the error's type name.</param>
/// <param name="Detail">With <c>attempt-failed</c>: the one-line message a user can act on (or a generic one).</param>
public sealed record JobEventMessage(string Job, string Kind, string Worker, string? Phase = null, int Step = 0, int Total = 0, int Iteration = 0,
    int Iterations = 1, double ElapsedMs = 0, double? EtaMs = null, double? DecodeFraction = null, byte[]? PreviewPng = null,
    string? Error = null, string? Detail = null)
{
    /// <summary>The message's <c>type</c> property.</summary>
    public const string Type = "redraft.event.v1";
}
