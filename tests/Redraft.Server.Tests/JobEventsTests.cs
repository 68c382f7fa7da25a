using System.Net.ServerSentEvents;
using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>A job's events over Server-Sent Events (<c>GET /api/v1/jobs/{id}/events</c>) and its preview route.</summary>
[Collection(ServerCollection.Name)]
public sealed class JobEventsTests(ServerFixture fixture)
{
    private sealed record Event(string Type, JsonObject Data, string Id);

    /// <summary>Reads a job's event stream into <paramref name="seen"/> until it ends (or the token is cancelled).</summary>
    private async Task ReadEvents(string id, List<Event> seen, CancellationToken ct)
    {
        using var response = await fixture.Client.GetAsync($"/api/v1/jobs/{id}/events", HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(ct))
            lock (seen) seen.Add(new Event(item.EventType, JsonNode.Parse(item.Data)!.AsObject(), item.EventId ?? ""));
    }

    private static async Task Until(Func<bool> done, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!done())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    private static bool Has(List<Event> seen, string type)
    {
        lock (seen) return seen.Any(e => e.Type == type);
    }

    [SharedDataFact]
    public async Task Events_SnapshotProgressPreview_ThenQueuedJobStartsAndEndsWithItsResult()
    {
        await fixture.Server();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var a = fixture.Post("/sdapi/v1/txt2img", """
            {"prompt": "a long job", "steps": 1000, "width": 256, "height": 256, "seed": 3, "force_task_id": "ev-a",
             "override_settings": {"show_progress_every_n_steps": 2}}
            """);
        try
        {
            await Until(() => (fixture.Get("/api/v1/jobs/ev-a").Result.Status == 200), "ev-a to exist");
            var aEvents = new List<Event>();
            var aReading = ReadEvents("ev-a", aEvents, stop.Token);
            await Until(() => Has(aEvents, "progress") && Has(aEvents, "preview"), "progress and a preview of ev-a");
            Event first, preview;
            lock (aEvents)
            {
                first = aEvents[0];
                preview = aEvents.First(e => e.Type == "preview");
            }
            // The first event arrives while the job runs: events are flushed one by one.
            Assert.Equal("snapshot", first.Type);
            Assert.Equal("ev-a", first.Data["job"]!.GetValue<string>());
            Assert.False(a.IsCompleted);
            using (var png = await fixture.Client.GetAsync(preview.Data["url"]!.GetValue<string>()))
            {
                Assert.Equal(200, (int)png.StatusCode);
                Assert.Equal(256, ImageFiles.DecodeRgba(await png.Content.ReadAsByteArrayAsync(), "preview").Width);
            }

            var b = fixture.Post("/sdapi/v1/txt2img", """{"prompt": "next", "steps": 3, "width": 64, "height": 64, "seed": 4, "force_task_id": "ev-b"}""");
            await Until(() => fixture.Get("/api/v1/jobs/ev-b").Result.Status == 200, "ev-b to exist");
            var bEvents = new List<Event>();
            var bReading = ReadEvents("ev-b", bEvents, stop.Token);
            await Until(() => bEvents.Count > 0, "ev-b's snapshot");
            lock (bEvents)
            {
                Assert.Equal("queued", bEvents[0].Data["status"]!.GetValue<string>());
                Assert.Equal(1, bEvents[0].Data["position"]!.GetValue<int>());
            }

            using (var cancel = await fixture.Client.DeleteAsync("/api/v1/jobs/ev-a")) Assert.Equal(200, (int)cancel.StatusCode);
            await aReading;
            await bReading;
            Assert.Equal(409, (await a).Status);
            Assert.Equal(200, (await b).Status);
            Assert.Equal("cancelled", aEvents[^1].Type);
            var types = bEvents.Select(e => e.Type).ToList();
            Assert.Equal("result", types[^1]);
            Assert.True(types.IndexOf("started") > 0, string.Join(",", types));
            Assert.True(types.IndexOf("progress") > types.IndexOf("started"), string.Join(",", types));
            Assert.Equal(1, bEvents[^1].Data["images"]!.GetValue<int>());
            Assert.Equal(4, bEvents[^1].Data["seeds"]![0]!.GetValue<long>());
            // Event ids count up within a job.
            var ids = bEvents.Skip(1).Select(e => long.Parse(e.Id)).ToList();
            Assert.Equal(ids.Order(), ids);
            // A stream opened after the end gets the snapshot and the terminal event at once.
            var late = new List<Event>();
            await ReadEvents("ev-b", late, stop.Token);
            Assert.Equal(["snapshot", "result"], late.Select(e => e.Type));
        }
        finally
        {
            using var _ = await fixture.Client.DeleteAsync("/api/v1/jobs/ev-a");
        }
    }

    [SharedDataFact]
    public async Task EventsOfAnUnknownJob_Are404()
    {
        await fixture.Server();
        Assert.Equal(404, (await fixture.Get("/api/v1/jobs/no-such-job/events")).Status);
        Assert.Equal(404, (await fixture.Get("/api/v1/jobs/no-such-job/preview.png")).Status);
    }
}
