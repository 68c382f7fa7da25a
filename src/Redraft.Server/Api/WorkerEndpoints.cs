using Microsoft.AspNetCore.Builder;
using Redraft.Server.Jobs;

namespace Redraft.Server.Api;

/// <summary>
/// <c>GET /api/v1/workers</c>: the fleet of a server started with <c>--broker</c> — each worker's checkpoints, device,
/// current job and last heartbeat — and whether the broker is reachable. A server that generates itself answers
/// with no broker and no workers.
/// </summary>
internal static class WorkerEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapGet("/api/v1/workers", () =>
        {
            if (context.Queue is not BrokerJobQueue broker)
                return ApiJson.Ok(new WorkersResponse(null, false, []));
            var now = DateTimeOffset.UtcNow;
            return ApiJson.Ok(new WorkersResponse(broker.Address.ToString(), broker.Connected, [.. broker.Workers.Alive().Select(w => new WorkerItem(
                w.Beat.Worker, w.Beat.Host, w.Beat.Device, w.Beat.Threads,
                [.. w.Beat.Models.Select(m => new WorkerModelItem(m.Name, m.Sha256))],
                w.Beat.CurrentJob, w.Beat.JobsDone, w.Beat.Stopping, w.Heard.ToString("O"), Math.Round((now - w.Heard).TotalSeconds, 1)))]));
        });
    }
}

/// <summary><c>GET /api/v1/workers</c>'s answer.</summary>
/// <param name="Broker">The broker's address without its password, or null when this server generates itself.</param>
/// <param name="Connected">Whether the broker is reachable now.</param>
/// <param name="Workers">The workers heard from in the last seconds.</param>
internal sealed record WorkersResponse(string? Broker, bool Connected, IReadOnlyList<WorkerItem> Workers);

/// <summary>One worker.</summary>
internal sealed record WorkerItem(string Name, string Host, string Device, int? Threads, IReadOnlyList<WorkerModelItem> Models, string? CurrentJob,
    long JobsDone, bool Stopping, string LastHeartbeat, double SecondsSinceHeartbeat);

/// <summary>A checkpoint a worker serves.</summary>
internal sealed record WorkerModelItem(string Name, string Sha256);
