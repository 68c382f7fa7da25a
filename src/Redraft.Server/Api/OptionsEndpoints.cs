using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// <c>GET/POST /sdapi/v1/options</c>. GET answers the settings clients read (the current checkpoint's title first);
/// POST accepts the whole GET body back: <c>sd_model_checkpoint</c> loads that checkpoint (after the running job) and
/// makes it the default; other keys are accepted and change nothing (a request's own values go in its
/// <c>override_settings</c>).
/// </summary>
internal static class OptionsEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapGet("/sdapi/v1/options", () => Results.Json(Options(context)));
        app.MapPost("/sdapi/v1/options", (Delegate)(async (HttpContext http) =>
        {
            var body = await RequestBody.ReadObject(http);
            if (body["sd_model_checkpoint"] is JsonValue v && v.ToString() is { Length: > 0 } asked)
            {
                var checkpoint = context.Models.Resolve(asked);
                if (checkpoint.Path != context.DefaultModel)
                {
                    using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, context.Stopping.Token);
                    await context.Service.DescribeAsync(context.BaseSettings(checkpoint.Path), stop.Token);
                    context.DefaultModel = checkpoint.Path;
                    _ = Task.Run(() => context.Models.Sha256(checkpoint.Path));
                }
            }
            return JsonNull.Result();
        }));
    }

    private static JsonObject Options(ApiContext context)
    {
        string? model = context.DefaultModel;
        var checkpoint = model is null ? null : context.Models.Checkpoints().FirstOrDefault(c => c.Path == model);
        string? sha = model is null ? null : context.Models.KnownSha256(model);
        return new JsonObject
        {
            ["sd_model_checkpoint"] = checkpoint is null ? null : ListEndpoints.Checkpoint(context.Models, checkpoint)["title"]!.DeepClone(),
            ["sd_checkpoint_hash"] = sha,
            ["sd_vae"] = "Automatic",
            ["CLIP_stop_at_last_layers"] = 1,
            ["eta_noise_seed_delta"] = 0,
            ["randn_source"] = "CPU",
            ["eta_ancestral"] = 1.0,
            ["eta_ddim"] = 0.0,
            ["s_churn"] = 0.0,
            ["s_tmin"] = 0.0,
            ["s_tmax"] = 0.0,
            ["s_noise"] = 1.0,
            ["samples_format"] = "png",
            ["enable_pnginfo"] = true,
            ["live_previews_enable"] = context.PreviewEvery > 0,
            ["show_progress_every_n_steps"] = context.PreviewEvery > 0 ? context.PreviewEvery : -1,
            ["show_progress_type"] = "TAESD",
            ["initial_noise_multiplier"] = 1.0,
            ["inpainting_mask_weight"] = 1.0,
            ["img2img_color_correction"] = false,
            ["img2img_fix_steps"] = false,
            ["img2img_background_color"] = "#ffffff",
            ["return_grid"] = true,
            ["grid_only_if_multiple"] = true,
            ["face_restoration"] = false,
            ["sd_lora"] = "None",
            ["lora_add_hashes_to_infotext"] = true,
            ["sd_checkpoints_limit"] = 1,
        };
    }
}
