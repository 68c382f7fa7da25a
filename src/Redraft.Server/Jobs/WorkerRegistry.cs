using System.Collections.Concurrent;
using Redraft.Broker.Messages;

namespace Redraft.Server.Jobs;

/// <summary>
/// The workers a broker-backed server has heard from (<see cref="WorkerHeartbeat"/>): what each serves and runs.
/// A worker not heard from for <see cref="WorkerHeartbeat.Expiry"/> is gone; one that said it is stopping takes no jobs.
/// </summary>
public sealed class WorkerRegistry(TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, (WorkerHeartbeat Beat, DateTimeOffset Heard)> _workers = new(StringComparer.Ordinal);

    /// <summary>A worker's beat arrived.</summary>
    public void Heard(WorkerHeartbeat beat) => _workers[beat.Worker] = (beat, _time.GetUtcNow());

    /// <summary>The workers alive now, by name, with when each was last heard from.</summary>
    public IReadOnlyList<(WorkerHeartbeat Beat, DateTimeOffset Heard)> Alive()
    {
        var now = _time.GetUtcNow();
        foreach (var (name, entry) in _workers)
            if (now - entry.Heard > WorkerHeartbeat.Expiry) _workers.TryRemove(name, out _);
        return [.. _workers.Values.OrderBy(w => w.Beat.Worker, StringComparer.Ordinal)];
    }

    /// <summary>How many live workers that take jobs serve the checkpoint <paramref name="sha256"/>.</summary>
    public int Serving(string sha256) => Alive().Count(w => !w.Beat.Stopping && w.Beat.Models.Any(m => m.Sha256 == sha256));

    /// <summary>The checkpoints the fleet can run, one per content, by name.</summary>
    public IReadOnlyList<ModelReference> Models() =>
        [.. Alive().SelectMany(w => w.Beat.Models).DistinctBy(m => m.Sha256).OrderBy(m => m.Name, StringComparer.Ordinal)];
}
