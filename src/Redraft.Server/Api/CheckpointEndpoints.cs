using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// The checkpoint in memory, as A1111's clients manage it: <c>refresh-checkpoints</c>, <c>unload-checkpoint</c>,
/// <c>reload-checkpoint</c>. Each waits for the running job (the model cache serves one job at a time).
/// <list type="bullet">
/// <item><c>unload-checkpoint</c> frees the cached model (A1111 moves it to the CPU; on a CPU server freeing is what
/// gives memory back). The next generation, or <c>reload-checkpoint</c>, loads it again.</item>
/// <item><c>reload-checkpoint</c> loads the default checkpoint (<c>options.sd_model_checkpoint</c>) if it is not in
/// memory.</item>
/// <item><c>refresh-checkpoints</c>: the lists are read from disk on every call already; this forgets hashes of files
/// that changed and unloads the cached model if its file was rewritten since it was loaded, so the next
/// generation reads the new file.</item>
/// </list>
/// </summary>
internal static class CheckpointEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapPost("/sdapi/v1/refresh-checkpoints", (Delegate)(async (HttpContext http) =>
        {
            context.Models.ForgetStaleHashes();
            if (context.Service.LoadedModel?.ChangedOnDisk() == true)
            {
                using var stop = Linked(http, context);
                await context.Service.UnloadAsync(stop.Token);
            }
            return ApiJson.Null;
        }));
        app.MapPost("/sdapi/v1/unload-checkpoint", (Delegate)(async (HttpContext http) =>
        {
            using var stop = Linked(http, context);
            await context.Service.UnloadAsync(stop.Token);
            return ApiJson.Ok(new EmptyObject());
        }));
        app.MapPost("/sdapi/v1/reload-checkpoint", (Delegate)(async (HttpContext http) =>
        {
            if (context.DefaultModel is { } model)
            {
                using var stop = Linked(http, context);
                await context.Service.DescribeAsync(context.BaseSettings(model), stop.Token);
            }
            return ApiJson.Ok(new EmptyObject());
        }));
    }

    private static CancellationTokenSource Linked(HttpContext http, ApiContext context) =>
        CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, context.Stopping.Token);
}
