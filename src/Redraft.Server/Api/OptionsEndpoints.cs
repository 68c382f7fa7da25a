using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// <c>GET/POST /sdapi/v1/options</c>. GET answers the settings clients read (<see cref="OptionsModel"/>, the current
/// checkpoint's title first), with the values clients posted laid over them. POST checks every key first
/// (<see cref="A1111Options.Validate"/>; a refused POST changes nothing), then <c>sd_model_checkpoint</c> (any name
/// A1111 accepts, <see cref="CheckpointNames"/>) loads that checkpoint (after the running job) and makes it the
/// default, and every key is kept (<see cref="ServerSettingsStore"/>): the options Redraft acts on apply to the
/// requests that follow, the others are only read back. The whole GET body can be posted back.
/// </summary>
internal static class OptionsEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapGet("/sdapi/v1/options", () => Results.Json(WithPosted(Options(context), context), ApiJson.Options));
        app.MapPost("/sdapi/v1/options", (Delegate)(async (HttpContext http) =>
        {
            var body = await RequestBody.ReadObject(http);
            var posted = A1111Options.Validate(body, context.Models);
            if (posted.Model is { } checkpoint)
            {
                if (checkpoint.Path != context.DefaultModel)
                {
                    using var stop = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, context.Stopping.Token);
                    await context.Service.DescribeAsync(context.BaseSettings(checkpoint.Path), stop.Token);
                    context.DefaultModel = checkpoint.Path;
                    _ = Task.Run(() => context.Models.Sha256(checkpoint.Path));
                }
            }
            context.Settings.Set(posted.Values);
            return ApiJson.Null;
        }));
    }

    /// <summary>The values clients posted over <paramref name="options"/>; the checkpoint and its hash stay the current ones.</summary>
    private static JsonObject WithPosted(OptionsModel options, ApiContext context)
    {
        var json = JsonSerializer.SerializeToNode(options, ApiJson.Options)!.AsObject();
        foreach (var (key, value) in context.Settings.Snapshot())
            if (key is not (A1111Options.Checkpoint or A1111Options.CheckpointHash)) json[key] = value?.DeepClone();
        return json;
    }

    private static OptionsModel Options(ApiContext context)
    {
        string? model = context.DefaultModel;
        var checkpoint = model is null ? null : context.Models.Checkpoints().FirstOrDefault(c => c.Path == model);
        string? sha = model is null ? null : context.Models.KnownSha256(model);
        return new OptionsModel
        {
            SdModelCheckpoint = checkpoint is null ? null : ModelFolder.Title(checkpoint, sha),
            SdCheckpointHash = sha,
            LivePreviewsEnable = context.PreviewEvery > 0,
            ShowProgressEveryNSteps = context.PreviewEvery > 0 ? context.PreviewEvery : -1,
        };
    }
}
