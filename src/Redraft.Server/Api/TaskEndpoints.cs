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
        app.MapPost("/internal/progress", (Delegate)(async (HttpContext http) => Results.Json(InternalProgress(context.Queue, await RequestBody.ReadObject(http)))));
        app.MapGet("/internal/pending-tasks", () =>
        {
            var pending = context.Queue.Snapshot().Pending;
            return Results.Json(new JsonObject
            {
                ["size"] = pending.Count,
                ["tasks"] = new JsonArray([.. pending.Select(j => (JsonNode)j.Id)]),
            });
        });
        app.MapGet("/api/v1/jobs", () =>
        {
            var snapshot = context.Queue.Snapshot();
            return Results.Json(new JsonObject
            {
                ["running"] = snapshot.Running is { } running ? View(running, snapshot) : null,
                ["queued"] = new JsonArray([.. snapshot.Pending.Select(j => (JsonNode)View(j, snapshot))]),
            });
        });
        app.MapGet("/api/v1/jobs/{id}", (string id) =>
            context.Queue.Find(id) is { } job ? Results.Json(View(job, context.Queue.Snapshot())) : throw NotFound(id));
        app.MapDelete("/api/v1/jobs/{id}", (string id) =>
        {
            if (context.Queue.Cancel(id)) return Results.Json(new JsonObject { ["id"] = id, ["cancelled"] = true });
            if (context.Queue.Find(id) is { } ended)
                throw new ApiException(StatusCodes.Status409Conflict, $"job {id} already ended ({Name(ended.Status)}); there is nothing to cancel");
            throw NotFound(id);
        });
    }

    /// <summary>A1111's <c>/internal/progress</c> answer for <c>id_task</c>.</summary>
    internal static JsonObject InternalProgress(IJobQueue queue, JsonObject body)
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
            return new JsonObject
            {
                ["active"] = false,
                ["queued"] = position > 0,
                ["completed"] = completed,
                ["progress"] = null,
                ["eta"] = null,
                ["live_preview"] = null,
                ["id_live_preview"] = -1,
                ["textinfo"] = position > 0 ? $"In queue: {position}/{snapshot.Pending.Count}" : "Waiting...",
            };
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
        return new JsonObject
        {
            ["active"] = true,
            ["queued"] = false,
            ["completed"] = false,
            ["progress"] = progress,
            ["eta"] = eta,
            ["live_preview"] = preview,
            ["id_live_preview"] = sentPreview,
            ["textinfo"] = null,
        };
    }

    /// <summary>One job for Redraft's jobs API.</summary>
    private static JsonObject View(GenerationJob job, QueueSnapshot snapshot)
    {
        var (iteration, iterations, step, steps, elapsed, _) = job.Progress();
        var status = job.Status;
        return new JsonObject
        {
            ["id"] = job.Id,
            ["kind"] = job.Kind,
            ["number"] = job.Number,
            ["status"] = Name(status),
            ["position"] = status == JobStatus.Queued ? snapshot.Position(job.Id) : 0,
            ["progress"] = status == JobStatus.Completed ? 1 : Math.Min(ProgressEndpoints.Fraction(iteration, iterations, step, steps), 1),
            ["iteration"] = iteration,
            ["iterations"] = iterations,
            ["step"] = step,
            ["steps"] = steps,
            ["elapsed"] = elapsed.TotalSeconds,
            ["started"] = job.Started?.ToString("O"),
            ["ended"] = job.Ended?.ToString("O"),
            ["prompt"] = job.Settings.Prompt,
            ["seed"] = job.Settings.Seed,
        };
    }

    private static string Name(JobStatus status) => status.ToString().ToLowerInvariant();

    private static ApiException NotFound(string id) =>
        new(StatusCodes.Status404NotFound, $"no job {id}: it never existed or ended too long ago (the last {InProcessJobQueue.FinishedKept} are kept); GET /api/v1/jobs lists the queue");
}
