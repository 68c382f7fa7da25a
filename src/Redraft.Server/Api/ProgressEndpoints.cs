using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Redraft.Server.Jobs;

namespace Redraft.Server.Api;

/// <summary>
/// <c>GET /sdapi/v1/progress</c>, <c>POST /sdapi/v1/interrupt</c> and <c>POST /sdapi/v1/skip</c>, about the job that
/// is generating now (the <see cref="IJobQueue"/>'s running job); they answer at once while jobs run, since generation never holds a
/// request thread.
/// </summary>
internal static class ProgressEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        // Some clients (StabilityMatrix) send a JSON body with this GET; it is ignored.
        app.MapGet("/sdapi/v1/progress", (bool? skip_current_image) => Results.Json(Progress(context.Queue, skip_current_image ?? false)));
        // Both act on the running job only, as A1111's: queued jobs are not touched.
        app.MapPost("/sdapi/v1/interrupt", () =>
        {
            context.Queue.Snapshot().Running?.Interrupt();
            return Results.Json(new JsonObject());
        });
        app.MapPost("/sdapi/v1/skip", () =>
        {
            context.Queue.Snapshot().Running?.Skip();
            return JsonNull.Result();
        });
    }

    /// <summary>A1111's progress: <c>0.01 + job_no/job_count + step/steps/job_count</c>, and the time left from the time so far.</summary>
    internal static JsonObject Progress(IJobQueue queue, bool skipImage)
    {
        var snapshot = queue.Snapshot();
        if (snapshot.Running is not { } job)
            return new JsonObject
            {
                ["progress"] = 0.0,
                ["eta_relative"] = 0.0,
                ["state"] = State(false, false, "", 0, LastTimestamp(queue, snapshot), 0, 0, 0),
                ["current_image"] = null,
                ["textinfo"] = null,
            };
        var (jobNo, jobCount, step, steps, elapsed, _) = job.Progress();
        double progress = 0.01 + Fraction(jobNo, jobCount, step, steps);
        double eta = elapsed.TotalSeconds / progress - elapsed.TotalSeconds;
        var preview = skipImage ? null : job.PreviewPng();
        string name = jobCount > 1 ? $"Batch {jobNo + 1} out of {jobCount}" : "scripts_" + job.Kind;
        return new JsonObject
        {
            ["progress"] = Math.Min(progress, 1),
            ["eta_relative"] = eta,
            ["state"] = State(job.Skipped, job.Interrupted, name, jobCount, job.Timestamp, jobNo, step, steps),
            ["current_image"] = preview is null ? null : Convert.ToBase64String(preview),
            ["textinfo"] = null,
        };
    }

    /// <summary>A1111's share of a job done: finished runs plus the running run's steps, each run an equal share.</summary>
    internal static double Fraction(int jobNo, int jobCount, int step, int steps) =>
        jobCount <= 0 ? 0 : (double)jobNo / jobCount + (steps > 0 ? (double)step / steps / jobCount : 0);

    /// <summary>A1111 keeps the last job's timestamp in its state after the job ends.</summary>
    private static string LastTimestamp(IJobQueue queue, QueueSnapshot snapshot) =>
        snapshot.Finished.Count > 0 && queue.Find(snapshot.Finished[^1]) is { } last ? last.Timestamp : "0";

    private static JsonObject State(bool skipped, bool interrupted, string job, int jobCount, string timestamp, int jobNo, int step, int steps) => new()
    {
        ["skipped"] = skipped,
        ["interrupted"] = interrupted,
        ["stopping_generation"] = false,
        ["job"] = job,
        ["job_count"] = jobCount,
        ["job_timestamp"] = timestamp,
        ["job_no"] = jobNo,
        ["sampling_step"] = step,
        ["sampling_steps"] = steps,
    };
}
