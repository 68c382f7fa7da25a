using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Redraft.Server.Documents;
using Redraft.Server.Jobs;
using Redraft.Studio;
using Redraft.Studio.Generation;

namespace Redraft.Server.Api;

/// <summary>
/// <c>POST /api/v1/documents/{doc}/generate</c>, <c>…/harmonize</c> and <c>…/history/{step}/rerun</c>: a document
/// step as a job on the server's queue. The step is planned under the document
/// (<see cref="DocumentGenerator.PlanGenerateAsync"/>), its generation queued with the <c>/sdapi</c> jobs, and its
/// commit run by the queue before the job ends, so the job's <c>result</c> event names the new layers and a client
/// that then reads the document sees them. The answer is 202 with the job's id, its event stream and the canvas
/// rectangle the generation covers; leaving does not cancel the job (a page reload must not lose a step),
/// <c>DELETE /api/v1/jobs/{id}</c> does, and a cancel that arrives once the commit started is too late (the step is
/// recorded whole or not at all). With an <c>operation_id</c> already committed, the answer is 200 with that step and
/// nothing runs; with one whose job is still queued or running, the answer is 202 with that job. A rerun runs a
/// recorded step again on the queue and compares its bytes in the job's <c>result</c>; it records nothing.
/// </summary>
internal static class DocumentJobEndpoints
{
    /// <summary>The area each accepted document job covers, for a retry answered with that job.</summary>
    private static readonly ConditionalWeakTable<GenerationJob, AreaView> Areas = new();

    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapPost("/api/v1/documents/{doc}/generate", (HttpContext http, string doc) => Submit(http, context, doc, harmonize: false));
        app.MapPost("/api/v1/documents/{doc}/harmonize", (HttpContext http, string doc) => Submit(http, context, doc, harmonize: true));
        app.MapPost("/api/v1/documents/{doc}/history/{step}/rerun", (HttpContext http, string doc, long step) => Rerun(http, context, doc, step));
    }

    private static async Task<IResult> Submit(HttpContext http, ApiContext context, string doc, bool harmonize)
    {
        var request = await DocumentGenerateRequest.Read(http, context, harmonize);
        string? operationId = request.OperationId;
        var folder = context.Documents;
        if (operationId is not null && Running(context, doc, operationId) is { } running)
            return Accepted(running);

        var store = folder.Open(doc);
        var generator = new DocumentGenerator(store, context.Service);
        try
        {
            if (operationId is not null && store.FindOperation(operationId) is { } done)
            {
                if (done.Kind != (harmonize ? "harmonize" : "generate")) throw DocumentEndpoints.Reused(operationId, done.Kind);
                generator.Dispose();
                store.Dispose();
                return ApiJson.Ok(new DocumentJobAccepted(null, null, done.Id, true, null));
            }
            var plan = harmonize ? generator.PlanHarmonize(request.Settings, request.Strength)
                : await generator.PlanGenerateAsync(request.Settings, request.Options, http.RequestAborted);
            string kind = harmonize ? "doc-harmonize" : "doc-generate";
            string id = TaskIds.New(kind);
            var resolved = GenerationService.Resolve(plan.Settings, plan.Inputs);
            var area = new AreaView(plan.Area.X, plan.Area.Y, plan.Area.Width, plan.Area.Height);
            var submission = new JobSubmission(kind, resolved, plan.Inputs, id, GenerationEndpoints.Client(http), output =>
            {
                var result = generator.Commit(plan, output, operationId ?? "job:" + id);
                return new JsonObject
                {
                    ["entry_id"] = result.Entry.Id,
                    ["state"] = result.Entry.StateAfter,
                    ["layers"] = new JsonArray([.. result.Images.Select(i => (JsonNode)JsonValue.Create(i.LayerId))]),
                };
            }, doc, operationId);
            GenerationJob job;
            lock (folder.Gate)
            {
                // Another request with this operation id got its job in first: answer with that one.
                if (operationId is not null && Running(context, doc, operationId) is { } first)
                {
                    generator.Dispose();
                    store.Dispose();
                    return Accepted(first);
                }
                if (!Directory.Exists(store.Folder))
                    throw new ApiException(StatusCodes.Status409Conflict, $"document \"{doc}\" was renamed while the request was planned; send it again under its new name.", "Conflict");
                job = context.Queue.Submit(submission);
                Areas.AddOrUpdate(job, area);
            }
            // The document stays open until the job ends, committed or not.
            _ = job.Completion.ContinueWith(_ =>
            {
                generator.Dispose();
                store.Dispose();
            }, TaskScheduler.Default);
            return Accepted(job);
        }
        catch
        {
            generator.Dispose();
            store.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reruns a recorded generate or harmonize step as a job (<c>doc-rerun</c>) on the queue; its <c>result</c> event
    /// carries <c>identical</c> and each output's comparison. Nothing is recorded.
    /// </summary>
    private static async Task<IResult> Rerun(HttpContext http, ApiContext context, string doc, long step)
    {
        // The body is optional: no body, no overrides.
        var body = http.Request.ContentLength is 0 || (http.Request.ContentLength is null && !http.Request.Headers.ContainsKey("Transfer-Encoding"))
            ? new JsonObject() : await RequestBody.ReadObject(http);
        var f = new RequestFields(body, new JsonObject());
        int? threads = f.Has("threads") ? f.Int("threads", 0) : null;
        f.ThrowIfInvalid();
        if (threads is < 1 or > 1024) throw ApiException.Unprocessable($"threads: {threads} is outside 1 to 1024.");
        DocumentRerunPlan plan;
        using (var store = context.Documents.Open(doc))
        {
            if (!store.History().Any(e => e.Id == step))
                throw new ApiException(StatusCodes.Status404NotFound, $"document \"{doc}\" has no step {step}; GET its history lists them.", "NotFound");
            using var generator = new DocumentGenerator(store, context.Service);
            plan = generator.PlanRerun(step, threads is null ? null : new RerunOverrides { Threads = threads });
        }
        string id = TaskIds.New("doc-rerun");
        var resolved = GenerationService.Resolve(plan.Settings, plan.Inputs);
        var job = context.Queue.Submit(new JobSubmission("doc-rerun", resolved, plan.Inputs, id, GenerationEndpoints.Client(http), output =>
        {
            // The "commit" of a rerun records nothing: it compares the bytes with the recorded outputs.
            var report = DocumentGenerator.Compare(plan, output);
            return new JsonObject
            {
                ["step"] = step,
                ["identical"] = report.Identical,
                ["outputs"] = new JsonArray([.. report.Outputs.Select(o => (JsonNode)new JsonObject
                {
                    ["seed"] = o.Seed,
                    ["hash"] = o.Hash,
                    ["recorded_hash"] = o.RecordedHash,
                    ["identical"] = o.Identical,
                })]),
            };
        }, doc));
        string escaped = Uri.EscapeDataString(job.Id);
        return Results.Json(new DocumentJobAccepted(job.Id, $"/api/v1/jobs/{escaped}/events", null, false, null), ApiJson.Options,
            statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>The queued or running job of <paramref name="doc"/> submitted under <paramref name="operationId"/>, if any.</summary>
    private static GenerationJob? Running(ApiContext context, string doc, string operationId)
    {
        var snapshot = context.Queue.Snapshot();
        return snapshot.Active.FirstOrDefault(j => j.Document == doc && j.OperationId == operationId && j.Kind is "doc-generate" or "doc-harmonize");
    }

    private static IResult Accepted(GenerationJob job)
    {
        string escaped = Uri.EscapeDataString(job.Id);
        return Results.Json(new DocumentJobAccepted(job.Id, $"/api/v1/jobs/{escaped}/events", null, false, Areas.TryGetValue(job, out var area) ? area : null),
            ApiJson.Options, statusCode: StatusCodes.Status202Accepted);
    }
}

/// <summary>A canvas rectangle in canvas pixels.</summary>
internal sealed record AreaView(int X, int Y, int Width, int Height);

/// <summary>The answer to a document generate, harmonize or rerun.</summary>
/// <param name="JobId">The queued job (null when the operation id was already committed).</param>
/// <param name="EventsUrl">Its event stream (<c>result</c> names the new layers, or for a rerun says whether the bytes are identical).</param>
/// <param name="EntryId">The history step, when the operation id was already committed.</param>
/// <param name="Replayed">True when nothing ran because the operation id was already committed.</param>
/// <param name="Area">
/// The canvas rectangle the generation covers, which each of its images and live previews maps onto: the region, the
/// mask's crop box for a masked generation, or the whole canvas (null for a rerun or a replay).
/// </param>
internal sealed record DocumentJobAccepted(string? JobId, string? EventsUrl, long? EntryId, bool Replayed, AreaView? Area);
