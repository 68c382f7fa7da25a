namespace Redraft.Broker.Messages;

/// <summary>
/// A request about one job, sent to every worker (the one running or holding it acts): <c>interrupt</c> (stop after
/// the step and return what exists), <c>skip</c> (end the running sampling run), <c>cancel</c> (stop, return nothing;
/// a worker that receives the job later drops it).
/// </summary>
/// <param name="Job">The job id.</param>
/// <param name="Action"><c>interrupt</c>, <c>skip</c> or <c>cancel</c>.</param>
public sealed record ControlMessage(string Job, string Action)
{
    /// <summary>The message's <c>type</c> property.</summary>
    public const string Type = "redraft.control.v1";
}
