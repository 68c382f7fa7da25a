using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// <c>GET /sdapi/v1/progress</c>, <c>POST /sdapi/v1/interrupt</c> and <c>POST /sdapi/v1/skip</c>, about the job that
/// is generating now (<see cref="JobTracker"/>); they answer at once while jobs run, since generation never holds a
/// request thread.
/// </summary>
internal static class ProgressEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        // Some clients (StabilityMatrix) send a JSON body with this GET; it is ignored.
        app.MapGet("/sdapi/v1/progress", (bool? skip_current_image) => Results.Json(Progress(context.Jobs, skip_current_image ?? false)));
        app.MapPost("/sdapi/v1/interrupt", () =>
        {
            context.Jobs.Interrupt();
            return Results.Json(new JsonObject());
        });
        app.MapPost("/sdapi/v1/skip", () =>
        {
            context.Jobs.Skip();
            return ApiJson.Null;
        });
    }

    /// <summary>A1111's progress: <c>0.01 + job_no/job_count + step/steps/job_count</c>, and the time left from the time so far.</summary>
    internal static JsonObject Progress(JobTracker jobs, bool skipImage)
    {
        var (job, lastTimestamp) = jobs.Current();
        if (job is null)
            return new JsonObject
            {
                ["progress"] = 0.0,
                ["eta_relative"] = 0.0,
                ["state"] = State(false, false, "", 0, lastTimestamp, 0, 0, 0),
                ["current_image"] = null,
                ["textinfo"] = null,
            };
        int jobNo, step, steps;
        lock (job.Gate) (jobNo, step, steps) = (job.JobNo, job.SamplingStep, job.SamplingSteps);
        double progress = 0.01 + (double)jobNo / job.JobCount + (steps > 0 ? (double)step / steps / job.JobCount : 0);
        double elapsed = job.Clock.Elapsed.TotalSeconds;
        double eta = elapsed / progress - elapsed;
        var preview = skipImage ? null : JobTracker.PreviewPng(job);
        string name = job.JobCount > 1 ? $"Batch {jobNo + 1} out of {job.JobCount}" : job.Kind;
        return new JsonObject
        {
            ["progress"] = Math.Min(progress, 1),
            ["eta_relative"] = eta,
            ["state"] = State(job.Skipped, job.Interrupted, name, job.JobCount, job.Timestamp, jobNo, step, steps),
            ["current_image"] = preview is null ? null : Convert.ToBase64String(preview),
            ["textinfo"] = null,
        };
    }

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
