using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Redraft.Server.Jobs;
using Redraft.Studio.Generation;

namespace Redraft.Server.Api;

/// <summary>
/// <c>POST /api/v1/documents/{doc}/generate</c> and <c>…/harmonize</c>: a document step as a job on the server's queue.
/// The step is planned under the document (<see cref="DocumentGenerator.PlanGenerateAsync"/>), its generation queued
/// with the <c>/sdapi</c> jobs, and its commit run by the queue before the job ends, so the job's <c>result</c> event
/// names the new layers and a client that then reads the document sees them. The answer is 202 with the job's id and
/// event stream; leaving does not cancel the job (a page reload must not lose a step), <c>DELETE /api/v1/jobs/{id}</c>
/// does, and a cancel that arrives once the commit started is too late (the step is recorded whole or not at all).
/// With an <c>operation_id</c> already committed, the answer is 200 with that step and nothing runs.
/// </summary>
internal static class DocumentJobEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapPost("/api/v1/documents/{doc}/generate", (HttpContext http, string doc) => Submit(http, context, doc, harmonize: false));
        app.MapPost("/api/v1/documents/{doc}/harmonize", (HttpContext http, string doc) => Submit(http, context, doc, harmonize: true));
    }

    private static async Task<IResult> Submit(HttpContext http, ApiContext context, string doc, bool harmonize)
    {
        var body = await RequestBody.ReadObject(http);
        var f = new RequestFields(body, new JsonObject());
        string prompt = f.String("prompt", "") ?? "";
        string negative = f.String("negative_prompt", "") ?? "";
        double strength = f.Double("strength", harmonize ? 0.3 : 0.75);
        int steps = f.Int("steps", 20);
        double cfg = f.Double("cfg_scale", 7.5);
        string sampler = f.String("sampler_name", "Euler a") ?? "Euler a";
        long seed = f.Long("seed", -1);
        int variations = harmonize ? 1 : f.Int("variations", 1);
        string? operationId = f.String("operation_id");
        var regionBody = harmonize ? null : f.Object("region");
        f.ThrowIfInvalid();
        if (steps < 1 || steps > context.Options.MaxSteps)
            throw ApiException.Unprocessable($"steps: {steps} is outside 1 to {context.Options.MaxSteps} (start redraft serve with a larger --max-steps for more).");
        if (variations < 1 || variations > context.Options.MaxImages)
            throw ApiException.Unprocessable($"variations: {variations} is outside 1 to {context.Options.MaxImages} (start redraft serve with a larger --max-images for more).");
        Region? region = null;
        if (regionBody is not null)
        {
            var r = new RequestFields(regionBody, new JsonObject());
            region = new Region(r.Int("x", 0), r.Int("y", 0), r.Int("width", 0), r.Int("height", 0));
            r.ThrowIfInvalid();
        }
        string model = context.DefaultModel ?? throw ApiException.Unprocessable(
            "no model is loaded: start redraft serve with --model, or POST /sdapi/v1/options with sd_model_checkpoint.");

        var store = context.Documents.Open(doc);
        var generator = new DocumentGenerator(store, context.Service);
        try
        {
            if (operationId is not null && store.FindOperation(operationId) is { } done)
            {
                if (done.Kind != (harmonize ? "harmonize" : "generate")) throw DocumentEndpoints.Reused(operationId, done.Kind);
                return ApiJson.Ok(new DocumentJobAccepted(null, null, done.Id, true));
            }
            var settings = context.BaseSettings(model) with
            {
                Prompt = prompt,
                Negative = negative,
                Strength = strength,
                Steps = steps,
                Cfg = cfg,
                Sampler = sampler,
                Seed = seed,
            };
            var plan = harmonize ? generator.PlanHarmonize(settings, strength)
                : await generator.PlanGenerateAsync(settings, new GenerateOptions { Variations = variations, Region = region }, http.RequestAborted);
            string kind = harmonize ? "doc-harmonize" : "doc-generate";
            string id = TaskIds.New(kind);
            var resolved = GenerationService.Resolve(plan.Settings, plan.Inputs);
            var job = context.Queue.Submit(new JobSubmission(kind, resolved, plan.Inputs, id, GenerationEndpoints.Client(http), output =>
            {
                var result = generator.Commit(plan, output, operationId ?? "job:" + id);
                return new JsonObject
                {
                    ["entry_id"] = result.Entry.Id,
                    ["state"] = result.Entry.StateAfter,
                    ["layers"] = new JsonArray([.. result.Images.Select(i => (JsonNode)JsonValue.Create(i.LayerId))]),
                };
            }));
            // The document stays open until the job ends, committed or not.
            _ = job.Completion.ContinueWith(_ =>
            {
                generator.Dispose();
                store.Dispose();
            }, TaskScheduler.Default);
            string escaped = Uri.EscapeDataString(job.Id);
            return Results.Json(new DocumentJobAccepted(job.Id, $"/api/v1/jobs/{escaped}/events", null, false), ApiJson.Options,
                statusCode: StatusCodes.Status202Accepted);
        }
        catch
        {
            generator.Dispose();
            store.Dispose();
            throw;
        }
    }
}

/// <summary>The answer to a document generate or harmonize.</summary>
/// <param name="JobId">The queued job (null when the operation id was already committed).</param>
/// <param name="EventsUrl">Its event stream (<c>result</c> names the new layers).</param>
/// <param name="EntryId">The history step, when the operation id was already committed.</param>
/// <param name="Replayed">True when nothing ran because the operation id was already committed.</param>
internal sealed record DocumentJobAccepted(string? JobId, string? EventsUrl, long? EntryId, bool Replayed);
