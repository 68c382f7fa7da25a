using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Redraft.Server.Documents;
using Redraft.Server.Jobs;
using Redraft.Studio;
using Redraft.Studio.Generation;

namespace Redraft.Server.Api;

/// <summary>
/// Live mode of the canvas: <c>POST /api/v1/documents/{doc}/live</c> runs a short image-to-image of the composite
/// (the generate body, 1 to 4 steps, one image) as a <c>doc-live</c> job that records nothing. A document has at most
/// one live job: a newer one cancels the older (its <c>cancelled</c> event says <c>reason: superseded</c>). Live jobs
/// go ahead of every queued job that is not live (after the live jobs of other documents already waiting) and never
/// stop the running one. The result is kept in memory (<see cref="LiveJobs"/>): its <c>result</c> event carries
/// <c>result_url</c> and <c>area</c> (where <c>…/live/{job}/result.png</c> lies on the canvas), and
/// <c>…/live/{job}/apply</c> commits it as a <c>generate</c> step with one candidate layer, through
/// <see cref="DocumentGenerator.Commit"/>, so the step reruns identically like any other.
/// </summary>
internal static class DocumentLiveEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapPost("/api/v1/documents/{doc}/live", (HttpContext http, string doc) => Submit(http, context, doc));
        app.MapGet("/api/v1/documents/{doc}/live/{job}/result.png", (string doc, string job) =>
        {
            context.Documents.Resolve(doc);
            var kept = context.Live.Find(doc, job) ?? throw Gone(doc, job);
            return Results.File(kept.Candidate.Png, "image/png");
        });
        app.MapPost("/api/v1/documents/{doc}/live/{job}/apply", (HttpContext http, string doc, string job) => Apply(http, context, doc, job));
    }

    private static async Task<IResult> Submit(HttpContext http, ApiContext context, string doc)
    {
        var request = await DocumentGenerateRequest.Read(http, context, harmonize: false, live: true);
        var folder = context.Documents;
        DocumentStepPlan plan;
        string documentFolder;
        using (var store = folder.Open(doc))
        using (var generator = new DocumentGenerator(store, context.Service))
        {
            // Planned now: the job reads the composite as it is at this stroke.
            plan = await generator.PlanGenerateAsync(request.Settings, request.Options, http.RequestAborted);
            documentFolder = store.Folder;
        }
        var resolved = GenerationService.Resolve(plan.Settings, plan.Inputs);
        var area = new AreaView(plan.Area.X, plan.Area.Y, plan.Area.Width, plan.Area.Height);
        string id = TaskIds.New("doc-live");
        string resultUrl = $"/api/v1/documents/{Uri.EscapeDataString(doc)}/live/{Uri.EscapeDataString(id)}/result.png";
        GenerationJob job;
        lock (folder.Gate)
        {
            if (!Directory.Exists(documentFolder))
                throw new ApiException(StatusCodes.Status409Conflict, $"document \"{doc}\" was renamed while the request was planned; send it again under its new name.", "Conflict");
            job = context.Live.Replace(doc, ticket => context.Queue.Submit(new JobSubmission("doc-live", resolved, plan.Inputs, id, GenerationEndpoints.Client(http),
                output =>
                {
                    // The "commit" of a live job keeps its image in memory; the document is not touched.
                    var candidate = DocumentGenerator.Candidates(plan, output)[0];
                    context.Live.Keep(doc, ticket, new LiveResult(id, plan, output, candidate));
                    return new JsonObject
                    {
                        ["result_url"] = resultUrl,
                        ["area"] = new JsonObject { ["x"] = candidate.X, ["y"] = candidate.Y, ["width"] = candidate.Width, ["height"] = candidate.Height },
                    };
                }, doc, Ahead: true)));
        }
        return Results.Json(new LiveJobAccepted(job.Id, $"/api/v1/jobs/{Uri.EscapeDataString(job.Id)}/events", area), ApiJson.Options,
            statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>Commits a kept live result as a generate step (one candidate layer on top of the document as it is now).</summary>
    private static async Task<IResult> Apply(HttpContext http, ApiContext context, string doc, string job)
    {
        var body = http.Request.ContentLength is 0 || (http.Request.ContentLength is null && !http.Request.Headers.ContainsKey("Transfer-Encoding"))
            ? new JsonObject() : await RequestBody.ReadObject(http);
        var f = new RequestFields(body, new JsonObject());
        string? operationId = f.String("operation_id") ?? http.Request.Query["operation_id"].FirstOrDefault();
        f.ThrowIfInvalid();
        using var store = context.Documents.Open(doc);
        // A retry of an applied result answers its step, even once the result itself has been dropped.
        if (operationId is not null && store.FindOperation(operationId) is { } done)
            return done.Kind == "generate" ? ApiJson.Ok(DocumentViews.Document(doc, store, entry: done)) : throw DocumentEndpoints.Reused(operationId, done.Kind);
        var kept = context.Live.Find(doc, job) ?? throw Gone(doc, job);
        using var generator = new DocumentGenerator(store, context.Service);
        var result = generator.Commit(kept.Plan, kept.Output, operationId ?? "live:" + job + ":" + Guid.NewGuid().ToString("N"));
        if (result.Entry.Kind != "generate") throw DocumentEndpoints.Reused(operationId!, result.Entry.Kind);
        store.Refresh();
        return ApiJson.Ok(DocumentViews.Document(doc, store, entry: result.Entry));
    }

    private static ApiException Gone(string doc, string job) => new(StatusCodes.Status404NotFound,
        $"document \"{doc}\" has no live result of job {job} (a newer live result replaced it, it is over {LiveJobs.KeptFor.TotalMinutes:0} minutes old, or the job did not finish); run live again.",
        "NotFound");
}

/// <summary>The answer to <c>POST …/live</c>.</summary>
/// <param name="JobId">The live job (<c>doc-live</c>).</param>
/// <param name="EventsUrl">Its event stream: <c>result</c> carries <c>result_url</c>, <c>area</c> and <c>seeds</c>; a newer live job ends it with <c>cancelled {reason: superseded}</c>.</param>
/// <param name="Area">The canvas rectangle the generation and its previews cover.</param>
internal sealed record LiveJobAccepted(string JobId, string EventsUrl, AreaView Area);

/// <summary>Body of <c>POST …/live/{job}/apply</c>: the action's operation id (a retry with it answers the first commit's step).</summary>
internal sealed record LiveApplyRequest(string? OperationId);
