using System.Text.Json.Nodes;

namespace Redraft.Server.Jobs;

/// <summary>
/// One event of a job's stream (<c>GET /api/v1/jobs/{id}/events</c>, Server-Sent Events): <see cref="Type"/> is the SSE
/// event name, <see cref="Data"/> its JSON. Events are state, not a log: a subscriber that connects late first gets a
/// <c>snapshot</c>, and a slow one may miss intermediate <c>progress</c> events but never the last one.
/// </summary>
/// <param name="Sequence">Per-job order (the SSE event id).</param>
/// <param name="Type"><c>snapshot</c>, <c>queued</c>, <c>started</c>, <c>phase</c>, <c>progress</c>, <c>preview</c>, and one
/// terminal event: <c>result</c>, <c>error</c> or <c>cancelled</c>.</param>
/// <param name="Data">The event's fields, snake_case.</param>
public sealed record JobEvent(long Sequence, string Type, JsonObject Data)
{
    /// <summary>Whether this event ends the stream.</summary>
    public bool IsTerminal => Type is "result" or "error" or "cancelled";
}
