using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Redraft.Studio;

namespace Redraft.Server.Api;

/// <summary>
/// <c>GET /api/v1/documents/{doc}/events</c>: a document's head as Server-Sent Events, so open pages stay in step
/// with every commit, this server's and other processes' (the CLI). First <c>snapshot {state, can_undo, can_redo}</c>,
/// then <c>changed {state, can_undo, can_redo, entry_id, kind}</c> whenever the head moves, and <c>ping {}</c> every
/// 15 s. The head is polled (one small SQLite read every <see cref="PollEvery"/>): commits of other processes tell
/// nobody, and one poll covers this server's commits too. Several commits between two polls are one event (the latest).
/// </summary>
internal static class DocumentEventEndpoints
{
    /// <summary>How often the head is read.</summary>
    public static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(500);

    private static readonly TimeSpan PingEvery = TimeSpan.FromSeconds(15);

    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapGet("/api/v1/documents/{doc}/events", (string doc, HttpContext http) =>
        {
            // Opened now: an unknown document is 404 before the stream starts.
            var store = context.Documents.Open(doc);
            return TypedResults.ServerSentEvents(Events(store, http.RequestAborted));
        });
    }

    private static async IAsyncEnumerable<SseItem<string>> Events(DocumentStore store, [EnumeratorCancellation] CancellationToken ct)
    {
        using var _ = store;
        long state = store.HeadState();
        yield return Item("snapshot", new JsonObject { ["state"] = state, ["can_undo"] = store.CanUndo(), ["can_redo"] = store.CanRedo() });
        var quiet = System.Diagnostics.Stopwatch.StartNew();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(PollEvery, ct);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
            long head;
            try
            {
                head = store.HeadState();
            }
            catch (RedraftInputException)
            {
                // The folder went away (renamed or deleted): the stream ends; the page opens the document again by name.
                yield break;
            }
            if (head != state)
            {
                // The last row is the step that moved the head (every commit adds one row and moves the head with it);
                // read after the head, it may be a newer commit still: its state is the one reported.
                var last = store.History()[^1];
                state = last.StateAfter;
                quiet.Restart();
                yield return Item("changed", new JsonObject
                {
                    ["state"] = state,
                    ["can_undo"] = store.CanUndo(),
                    ["can_redo"] = store.CanRedo(),
                    ["entry_id"] = last.Id,
                    ["kind"] = last.Kind,
                });
            }
            else if (quiet.Elapsed >= PingEvery)
            {
                quiet.Restart();
                yield return Item("ping", []);
            }
        }
    }

    private static SseItem<string> Item(string type, JsonObject data) => new(data.ToJsonString(), type);
}
