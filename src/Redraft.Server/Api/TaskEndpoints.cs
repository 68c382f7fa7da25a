using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Redraft.Server.Jobs;

namespace Redraft.Server.Api;

/// <summary>
/// Jobs by id. A1111's web-UI routes, which clients that send <c>force_task_id</c> poll:
/// <c>POST /internal/progress {id_task, id_live_preview, live_preview}</c> (queued / active / completed, "In queue: i/n",
/// a live preview only when it changed) and <c>GET /internal/pending-tasks</c>. Redraft's own:
/// <c>GET /api/v1/jobs</c> (the queue), <c>GET /api/v1/jobs/{id}</c> and <c>DELETE /api/v1/jobs/{id}</c> (cancel a
/// queued or running job).
/// </summary>
internal static class TaskEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        // Cast: a lambda of HttpContext returning a Task would bind as a RequestDelegate, and its result would be dropped.
        app.MapPost("/internal/progress", (Delegate)(async (HttpContext http) => ApiJson.Ok(InternalProgress(context.Queue, await RequestBody.ReadObject(http)))));
        app.MapGet("/internal/pending-tasks", () =>
        {
            var pending = context.Queue.Snapshot().Pending;
            return ApiJson.Ok(new PendingTasksResponse(pending.Count, [.. pending.Select(j => j.Id)]));
        });
        app.MapGet("/api/v1/jobs", () =>
        {
            var snapshot = context.Queue.Snapshot();
            return ApiJson.Ok(new JobsResponse(snapshot.Running is { } running ? View(running, snapshot) : null,
                [.. snapshot.Pending.Select(j => View(j, snapshot))]));
        });
        app.MapGet("/api/v1/jobs/{id}", (string id) =>
            context.Queue.Find(id) is { } job ? ApiJson.Ok(View(job, context.Queue.Snapshot())) : throw NotFound(id));
        app.MapGet("/api/v1/jobs/{id}/events", (string id, HttpContext http) =>
        {
            var job = context.Queue.Find(id) ?? throw NotFound(id);
            // The stream ends with the job or when the client goes; a client going never cancels the job.
            return TypedResults.ServerSentEvents(Events(job, http.RequestAborted));
        });
        app.MapGet("/api/v1/jobs/{id}/preview.png", (string id) =>
        {
            var job = context.Queue.Find(id) ?? throw NotFound(id);
            return job.PreviewPng() is { } png ? Results.Bytes(png, "image/png")
                : throw new ApiException(StatusCodes.Status404NotFound, $"job {id} has no preview yet; previews come every few steps when TAESD weights are installed");
        });
        app.MapDelete("/api/v1/jobs/{id}", (string id) =>
        {
            if (context.Queue.Cancel(id)) return ApiJson.Ok(new JobCancelled(id, true));
            if (context.Queue.Find(id) is { } ended)
                throw new ApiException(StatusCodes.Status409Conflict, $"job {id} already ended ({Name(ended.Status)}); there is nothing to cancel");
            throw NotFound(id);
        });
    }

    /// <summary>Keeps idle connections (and proxies in between) open while a job waits or decodes.</summary>
    private static readonly TimeSpan PingEvery = TimeSpan.FromSeconds(15);

    /// <summary>A job's events as SSE items (event name, JSON data, the job's sequence number as id), with pings.</summary>
    private static async IAsyncEnumerable<SseItem<string>> Events(GenerationJob job, [EnumeratorCancellation] CancellationToken ct)
    {
        var reader = job.Subscribe(ct);
        Task<bool>? waiting = null;
        // One timer per quiet spell, not one per event: progress events come every step.
        Task? ping = null;
        while (!ct.IsCancellationRequested)
        {
            waiting ??= reader.WaitToReadAsync(ct).AsTask();
            ping ??= Task.Delay(PingEvery, ct);
            if (await Task.WhenAny(waiting, ping) != waiting)
            {
                if (ct.IsCancellationRequested) yield break;
                ping = null;
                yield return new SseItem<string>("{}", "ping");
                continue;
            }
            bool more;
            try
            {
                more = await waiting;
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
            waiting = null;
            if (!more) yield break;
            while (reader.TryRead(out var e))
                yield return new SseItem<string>(e.Data.ToJsonString(), e.Type) { EventId = e.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        }
    }

    /// <summary>A1111's <c>/internal/progress</c> answer for <c>id_task</c>.</summary>
    internal static InternalProgressResponse InternalProgress(IJobQueue queue, JsonObject body)
    {
        var fields = new RequestFields(body, new JsonObject());
        string id = fields.String("id_task", "") ?? "";
        int lastPreview = fields.Int("id_live_preview", -1);
        bool wantPreview = fields.Bool("live_preview", true);
        fields.ThrowIfInvalid();

        var snapshot = queue.Snapshot();
        bool active = snapshot.Running?.Id == id;
        int position = snapshot.Position(id);
        bool completed = snapshot.Finished.Contains(id);
        if (!active)
            return new InternalProgressResponse(false, position > 0, completed, null, null, null, -1,
                position > 0 ? $"In queue: {position}/{snapshot.Pending.Count}" : "Waiting...");
        var job = snapshot.Running!;
        var (jobNo, jobCount, step, steps, elapsed, previewId) = job.Progress();
        double progress = Math.Min(ProgressEndpoints.Fraction(jobNo, jobCount, step, steps), 1);
        double? eta = progress > 0 ? elapsed.TotalSeconds / progress - elapsed.TotalSeconds : null;
        string? preview = null;
        int sentPreview = lastPreview;
        if (wantPreview && previewId > 0 && previewId != lastPreview && job.PreviewPng() is { } png)
        {
            preview = "data:image/png;base64," + Convert.ToBase64String(png);
            sentPreview = previewId;
        }
        return new InternalProgressResponse(true, false, false, progress, eta, preview, sentPreview, null);
    }

    /// <summary>One job for Redraft's jobs API.</summary>
    private static JobView View(GenerationJob job, QueueSnapshot snapshot)
    {
        var (iteration, iterations, step, steps, elapsed, _) = job.Progress();
        var status = job.Status;
        return new JobView(job.Id, job.Kind, job.Number, Name(status),
            Position: status == JobStatus.Queued ? snapshot.Position(job.Id) : 0,
            Progress: status == JobStatus.Completed ? 1 : Math.Min(ProgressEndpoints.Fraction(iteration, iterations, step, steps), 1),
            iteration, iterations, step, steps, elapsed.TotalSeconds,
            Started: job.Started?.ToString("O"), Ended: job.Ended?.ToString("O"), job.Settings.Prompt, job.Settings.Seed, job.Document, job.OperationId);
    }

    private static string Name(JobStatus status) => status.ToString().ToLowerInvariant();

    private static ApiException NotFound(string id) =>
        new(StatusCodes.Status404NotFound, $"no job {id}: it never existed or ended too long ago (the last {InProcessJobQueue.FinishedKept} are kept); GET /api/v1/jobs lists the queue");
}
