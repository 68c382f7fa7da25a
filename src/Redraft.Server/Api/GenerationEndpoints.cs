using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Redraft.Server.Jobs;
using Redraft.Studio.Generation;

namespace Redraft.Server.Api;

/// <summary>
/// <c>POST /sdapi/v1/txt2img</c> and <c>/sdapi/v1/img2img</c>: the request is read into <see cref="GenerationSettings"/>
/// (<see cref="GenerationRequestReader"/>), resolved, submitted to the server's <see cref="IJobQueue"/>
/// (the job runs on the generation thread; this request thread only waits), and answered as A1111 does:
/// <c>{images: [base64 PNG with its parameters chunk], parameters: the request, info: a JSON string}</c>.
/// </summary>
internal static class GenerationEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapPost("/sdapi/v1/txt2img", (Delegate)((HttpContext http) => Generate(http, context, img2img: false)));
        app.MapPost("/sdapi/v1/img2img", (Delegate)((HttpContext http) => Generate(http, context, img2img: true)));
    }

    private static async Task<IResult> Generate(HttpContext http, ApiContext context, bool img2img)
    {
        var body = await RequestBody.ReadObject(http);
        var request = GenerationRequestReader.Read(body, img2img, context);
        string kind = img2img ? "img2img" : "txt2img";
        string? taskId = ForcedTaskId(body);
        // Resolved before it queues: a bad value is refused now, and the job carries every value fixed (seeds drawn).
        var settings = GenerationService.Resolve(request.Settings, request.Inputs);
        GenerationJob job;
        try
        {
            job = context.Queue.Submit(new JobSubmission(kind, settings, request.Inputs, taskId, Client(http)));
        }
        catch (DuplicateJobException e)
        {
            throw new ApiException(StatusCodes.Status409Conflict, e.Message);
        }
        catch (ObjectDisposedException)
        {
            throw new OperationCanceledException("the server is stopping");
        }
        // A client that goes away no longer waits: its job leaves the queue, or stops if it runs (nobody would read it).
        using var gone = http.RequestAborted.Register(() => context.Queue.Cancel(job.Id));
        GenerationOutput output;
        try
        {
            output = await job.Completion;
        }
        catch (OperationCanceledException) when (!context.Stopping.IsCancellationRequested && !http.RequestAborted.IsCancellationRequested)
        {
            throw new ApiException(StatusCodes.Status409Conflict, $"job {job.Id} was cancelled before it ended; nothing was generated", "Cancelled");
        }
        var pictures = ApiInfotexts.For(request, output);
        var images = new JsonArray();
        if (request.SendImages)
            foreach (var picture in pictures) images.Add(Convert.ToBase64String(picture.Png));
        return Results.Json(new JsonObject
        {
            ["images"] = images,
            ["parameters"] = request.Echo,
            ["info"] = Info(request, output, pictures, job.Timestamp).ToJsonString(),
        });
    }

    /// <summary>A1111's <c>force_task_id</c>: the client names its job to poll it on <c>/internal/progress</c>.</summary>
    private static string? ForcedTaskId(JsonObject body)
    {
        if (body["force_task_id"] is not JsonValue value || value.ToString() is not { Length: > 0 } id) return null;
        if (TaskIds.Problem(id) is { } problem) throw ApiException.Unprocessable($"force_task_id {problem}; send a short printable id or leave it out.");
        return id;
    }

    /// <summary>Who asked: the authenticated user, else the remote address.</summary>
    internal static string Client(HttpContext http) =>
        http.User.Identity?.Name is { Length: > 0 } user ? user : http.Connection.RemoteIpAddress?.ToString() ?? "";

    /// <summary>A1111's <c>info</c> (its <c>Processed.js()</c>), keys in its order.</summary>
    internal static JsonObject Info(ApiGeneration request, GenerationOutput output, IReadOnlyList<ApiInfotexts.Picture> pictures, string timestamp)
    {
        var s = output.Settings;
        int total = s.BatchSize * s.BatchCount;
        long seed = s.Seed, subseed = s.Subseed;
        // Every image the job planned, as A1111 lists them (also when an interrupt or skip left some out).
        var seeds = Enumerable.Range(0, total).Select(i => (JsonNode)JsonValue.Create(s.SubseedStrength == 0 ? seed + i : seed)!);
        var subseeds = Enumerable.Range(0, total).Select(i => (JsonNode)JsonValue.Create(subseed + i)!);
        var extra = pictures.Count > 0 ? ApiInfotexts.ExtraGenerationParams(pictures[0].Info, request.Inputs is not null) : new JsonObject();
        // The prompts as A1111 reports them: styles applied, LoRA tags kept.
        string prompt = request.ReportedPrompt, negative = request.ReportedNegative;
        return new JsonObject
        {
            ["prompt"] = prompt,
            ["all_prompts"] = new JsonArray([.. Enumerable.Repeat(prompt, total).Select(p => (JsonNode)p)]),
            ["negative_prompt"] = negative,
            ["all_negative_prompts"] = new JsonArray([.. Enumerable.Repeat(negative, total).Select(p => (JsonNode)p)]),
            ["seed"] = seed,
            ["all_seeds"] = new JsonArray([.. seeds]),
            ["subseed"] = subseed,
            ["all_subseeds"] = new JsonArray([.. subseeds]),
            ["subseed_strength"] = s.SubseedStrength,
            ["width"] = s.Width,
            ["height"] = s.Height,
            ["sampler_name"] = output.SamplerName,
            ["cfg_scale"] = s.Cfg,
            ["steps"] = s.Steps,
            ["batch_size"] = s.BatchSize,
            ["restore_faces"] = false,
            ["face_restoration_model"] = null,
            ["sd_model_name"] = output.ModelName,
            ["sd_model_hash"] = output.ModelHash,
            ["sd_vae_name"] = s.Vae is null ? null : Path.GetFileName(s.Vae),
            ["sd_vae_hash"] = null,
            ["seed_resize_from_w"] = s.SeedResizeFromWidth > 0 ? s.SeedResizeFromWidth : -1,
            ["seed_resize_from_h"] = s.SeedResizeFromHeight > 0 ? s.SeedResizeFromHeight : -1,
            ["denoising_strength"] = request.Denoising,
            ["extra_generation_params"] = extra,
            ["index_of_first_image"] = 0,
            ["infotexts"] = new JsonArray([.. pictures.Select(p => (JsonNode)p.Infotext)]),
            ["styles"] = new JsonArray([.. request.Styles.Select(x => (JsonNode)x)]),
            ["job_timestamp"] = timestamp,
            ["clip_skip"] = 1,
            ["is_using_inpainting_conditioning"] = false,
            ["version"] = "Redraft",
        };
    }
}
