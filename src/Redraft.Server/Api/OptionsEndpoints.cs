using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// <c>GET/POST /sdapi/v1/options</c>. GET answers the settings clients read (<see cref="A1111Options"/>, the current
/// checkpoint's title first); POST accepts the whole GET body back: <c>sd_model_checkpoint</c> (any name A1111
/// accepts, <see cref="CheckpointNames"/>) loads that checkpoint (after the running job) and makes it the default;
/// other keys are accepted and change nothing (a request's own values go in its <c>override_settings</c>).
/// </summary>
internal static class OptionsEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapGet("/sdapi/v1/options", () => ApiJson.Ok(Options(context)));
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
            return ApiJson.Null;
        }));
    }

    private static A1111Options Options(ApiContext context)
    {
        string? model = context.DefaultModel;
        var checkpoint = model is null ? null : context.Models.Checkpoints().FirstOrDefault(c => c.Path == model);
        string? sha = model is null ? null : context.Models.KnownSha256(model);
        return new A1111Options
        {
            SdModelCheckpoint = checkpoint is null ? null : ModelFolder.Title(checkpoint, sha),
            SdCheckpointHash = sha,
            LivePreviewsEnable = context.PreviewEvery > 0,
            ShowProgressEveryNSteps = context.PreviewEvery > 0 ? context.PreviewEvery : -1,
        };
    }
}
