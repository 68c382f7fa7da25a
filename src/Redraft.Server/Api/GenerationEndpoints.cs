using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Redraft.Studio.Generation;

namespace Redraft.Server.Api;

/// <summary>
/// <c>POST /sdapi/v1/txt2img</c> and <c>/sdapi/v1/img2img</c>: the request is read into <see cref="GenerationSettings"/>
/// (<see cref="GenerationRequestReader"/>), run by the server's <see cref="GenerationService"/> (it queues the job
/// and runs it on the generation thread; this request thread only waits), and answered as A1111 does:
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
        var job = new JobTracker.Job(img2img ? "scripts_img2img" : "scripts_txt2img", request.Settings.BatchCount, request.Settings.Steps);
        // A client that goes away no longer waits for its job; a stopping server ends every job.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, context.Stopping.Token);
        GenerationOutput output;
        try
        {
            output = await context.Service.GenerateAsync(request.Settings, request.Inputs, context.Jobs.Track(job), job.Control, stop.Token);
        }
        finally
        {
            context.Jobs.Finished(job);
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
