using System.Net.ServerSentEvents;
using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;
using Redraft.Imaging;

namespace Redraft.Server.Tests;

/// <summary>
/// Live mode over HTTP: a short generation kept in memory (nothing recorded), one live job per document (a newer one
/// supersedes the older), live jobs ahead of the queued jobs that are not live, and apply = a generate step that
/// reruns identically.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class DocumentLiveTests(ServerFixture fixture)
{
    private async Task<string> NewDocument(string name, int size)
    {
        var (status, json) = await fixture.Post("/api/v1/documents", $$"""{"name": "{{name}}", "width": {{size}}, "height": {{size}}}""");
        Assert.True(status == 201, json?.ToJsonString());
        return name;
    }

    /// <summary>The job's events until its terminal one.</summary>
    private async Task<List<(string Type, JsonObject Data)>> Events(string jobId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var response = await fixture.Client.GetAsync($"/api/v1/jobs/{Uri.EscapeDataString(jobId)}/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
        var seen = new List<(string, JsonObject)>();
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(timeout.Token))
            seen.Add((item.EventType, JsonNode.Parse(item.Data)!.AsObject()));
        return seen;
    }

    private async Task<JsonObject> Job(string jobId) => (await fixture.Get($"/api/v1/jobs/{Uri.EscapeDataString(jobId)}")).Json!.AsObject();

    private async Task<int> HistoryCount(string doc) => (await fixture.Get($"/api/v1/documents/{doc}/history")).Json!["steps"]!.AsArray().Count;

    private static string Id(JsonNode? accepted) => accepted!["job_id"]!.GetValue<string>();

    /// <summary>Waits until job <paramref name="jobId"/> runs and has made <paramref name="step"/> steps.</summary>
    private async Task WaitRunning(string jobId, int step)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (await Job(jobId) is var view && (view["status"]!.GetValue<string>() != "running" || view["step"]!.GetValue<int>() < step))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"job {jobId} did not reach step {step}: {view.ToJsonString()}");
            await Task.Delay(10);
        }
    }

    [SharedDataFact]
    public async Task Live_KeepsItsResultOnlyInMemory_AndApplyCommitsItAsAGenerateThatRerunsIdentical_OnTopOfEditsMadeMeanwhile()
    {
        await fixture.Server();
        string doc = await NewDocument("live-apply", 64);
        using (var form = new MultipartFormDataContent())
        {
            form.Add(new ByteArrayContent(ImageFiles.EncodePng(RgbaImage.Filled(16, 16, 20, 200, 20))), "image", "leaf.png");
            using var added = await fixture.Client.PostAsync($"/api/v1/documents/{doc}/layers", form);
            Assert.Equal(200, (int)added.StatusCode);
        }
        int before = await HistoryCount(doc);
        var (status, accepted) = await fixture.Post($"/api/v1/documents/{doc}/live",
            """{"prompt": "a leaf", "steps": 2, "strength": 0.75, "seed": 9, "region": {"x": 8, "y": 8, "width": 40, "height": 32}, "region_native": true}""");
        Assert.True(status == 202, accepted?.ToJsonString());
        string jobId = Id(accepted);
        Assert.StartsWith("task(doc-live-", jobId);
        Assert.Equal($"/api/v1/jobs/{Uri.EscapeDataString(jobId)}/events", accepted!["events_url"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"x":8,"y":8,"width":40,"height":32}"""), accepted["area"]), accepted.ToJsonString());

        var events = await Events(jobId);
        Assert.True(events[^1].Type == "result", string.Join(",", events.Select(e => e.Type)) + " " + events[^1].Data.ToJsonString());
        var result = events[^1].Data;
        Assert.Equal([9L], result["seeds"]!.AsArray().Select(s => s!.GetValue<long>()));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"x":8,"y":8,"width":40,"height":32}"""), result["area"]), result.ToJsonString());
        string resultUrl = result["result_url"]!.GetValue<string>();
        Assert.Equal($"/api/v1/documents/{doc}/live/{Uri.EscapeDataString(jobId)}/result.png", resultUrl);
        // Nothing recorded: the history and the layers are as before.
        Assert.Equal(before, await HistoryCount(doc));
        Assert.Equal(["L1"], (await fixture.Get($"/api/v1/documents/{doc}")).Json!["layers"]!.AsArray().Select(l => l!["id"]!.GetValue<string>()));
        byte[] png = await fixture.Client.GetByteArrayAsync(resultUrl);
        var picture = ImageFiles.DecodeRgba(png, "result.png");
        Assert.Equal((40, 32), (picture.Width, picture.Height));

        // An edit made after the live job was planned stays; the candidate lands on top of it.
        Assert.Equal(200, (await fixture.Send(HttpMethod.Patch, $"/api/v1/documents/{doc}/layers/L1", """{"opacity": 0.5, "operation_id": "live-meanwhile"}""")).Status);
        string apply = $"/api/v1/documents/{doc}/live/{Uri.EscapeDataString(jobId)}/apply";
        var (applied, view) = await fixture.Post(apply, """{"operation_id": "live-apply-1"}""");
        Assert.True(applied == 200, view?.ToJsonString());
        var entry = view!["entry"]!;
        Assert.Equal("generate", entry["kind"]!.GetValue<string>());
        // A live job encodes and decodes with TAESD (the server has it), and the applied step records that.
        Assert.Equal("taesd", entry["parameters"]!["vae"]!.GetValue<string>());
        var layers = view["layers"]!.AsArray();
        Assert.Equal(2, layers.Count);
        Assert.Equal(0.5, layers[0]!["opacity"]!.GetValue<double>());
        var candidate = layers[^1]!;
        Assert.Equal("candidate", candidate["role"]!.GetValue<string>());
        Assert.Equal((8, 8), (candidate["x"]!.GetValue<int>(), candidate["y"]!.GetValue<int>()));
        // The layer is, byte for byte, the image result.png showed.
        Assert.Equal(png, await fixture.Client.GetByteArrayAsync($"/api/v1/documents/{doc}/layers/{candidate["id"]!.GetValue<string>()}.png"));
        Assert.Equal(before + 2, await HistoryCount(doc));

        // A retry with the same operation id records nothing; an id used for another kind of edit is refused.
        var (again, replay) = await fixture.Post(apply, """{"operation_id": "live-apply-1"}""");
        Assert.Equal(200, again);
        Assert.Equal(entry["id"]!.GetValue<long>(), replay!["entry"]!["id"]!.GetValue<long>());
        Assert.Equal(409, (await fixture.Post(apply, """{"operation_id": "live-meanwhile"}""")).Status);
        Assert.Equal(before + 2, await HistoryCount(doc));

        // The applied step reruns identically, like any generate.
        var (rerunStatus, rerun) = await fixture.Post($"/api/v1/documents/{doc}/history/{entry["id"]!.GetValue<long>()}/rerun", "");
        Assert.True(rerunStatus == 202, rerun?.ToJsonString());
        var report = (await Events(Id(rerun)))[^1].Data;
        Assert.True(report["identical"]?.GetValue<bool>() == true, report.ToJsonString());

        // Unknown jobs: 404 for the picture and the apply; steps outside 1 to 4: 422 in one line, nothing queued or recorded.
        Assert.Equal(404, (await fixture.Get($"/api/v1/documents/{doc}/live/task(doc-live-NOSUCH1)/result.png")).Status);
        Assert.Equal(404, (await fixture.Post($"/api/v1/documents/{doc}/live/task(doc-live-NOSUCH1)/apply", """{"operation_id": "live-apply-2"}""")).Status);
        // (At the default strength 0.75: 0, 1 and 20 steps run 0, 0 and 15 sampling steps; 6 would run 4.)
        foreach (int steps in new[] { 0, 1, 20 })
        {
            var (code, error) = await fixture.Post($"/api/v1/documents/{doc}/live", $$"""{"steps": {{steps}}}""");
            Assert.True(code == 422, $"steps {steps}: {code} {error?.ToJsonString()}");
            Assert.Contains("steps", error!["detail"]!.GetValue<string>());
        }
        var (badVae, vaeError) = await fixture.Post($"/api/v1/documents/{doc}/live", """{"steps": 2, "vae": "other.safetensors"}""");
        Assert.True(badVae == 422, vaeError?.ToJsonString());
        Assert.Contains("vae", vaeError!["detail"]!.GetValue<string>());
        Assert.Equal(before + 2, await HistoryCount(doc));
    }

    [SharedDataFact]
    public async Task AKeptLiveResult_FollowsItsDocumentWhenRenamed_AndAppliesThere()
    {
        await fixture.Server();
        string doc = await NewDocument("live-rename", 64);
        var (status, accepted) = await fixture.Post($"/api/v1/documents/{doc}/live", """{"prompt": "a leaf", "steps": 2, "strength": 0.75, "seed": 4}""");
        Assert.True(status == 202, accepted?.ToJsonString());
        string jobId = Id(accepted);
        Assert.Equal("result", (await Events(jobId))[^1].Type);
        Assert.Equal(200, (await fixture.Send(HttpMethod.Patch, $"/api/v1/documents/{doc}", """{"name": "live-renamed"}""")).Status);
        string escaped = Uri.EscapeDataString(jobId);
        using (var old = await fixture.Client.GetAsync($"/api/v1/documents/{doc}/live/{escaped}/result.png")) Assert.Equal(404, (int)old.StatusCode);
        using (var moved = await fixture.Client.GetAsync($"/api/v1/documents/live-renamed/live/{escaped}/result.png")) Assert.Equal(200, (int)moved.StatusCode);
        var (applied, view) = await fixture.Post($"/api/v1/documents/live-renamed/live/{escaped}/apply", """{"operation_id": "live-rename-apply"}""");
        Assert.True(applied == 200, view?.ToJsonString());
        Assert.Equal("generate", (await fixture.Get("/api/v1/documents/live-renamed/history")).Json!["steps"]!.AsArray()[^1]!["kind"]!.GetValue<string>());
    }

    [SharedDataFact]
    public async Task ANewLiveJob_SupersedesTheQueuedOne_AndLiveJobsWaitAheadOfQueuedJobs_WithoutStoppingTheRunningOne()
    {
        await fixture.Server();
        string doc = await NewDocument("live-queue", 64);
        string other = await NewDocument("live-queue-other", 256);
        // A long job of another document runs; a generate of this document waits behind it.
        var (_, slow) = await fixture.Post($"/api/v1/documents/{other}/harmonize", """{"prompt": "a long pass", "steps": 1000, "strength": 1, "seed": 3, "preview_every": 0}""");
        string slowId = Id(slow);
        var slowEvents = Events(slowId);
        string? generateId = null;
        try
        {
            await WaitRunning(slowId, 1);
            var (_, generate) = await fixture.Post($"/api/v1/documents/{doc}/generate", """{"prompt": "a roof", "steps": 2, "seed": 4, "preview_every": 0}""");
            generateId = Id(generate);
            var (firstStatus, first) = await fixture.Post($"/api/v1/documents/{doc}/live", """{"prompt": "a stroke", "steps": 2, "seed": 5}""");
            Assert.True(firstStatus == 202, first?.ToJsonString());
            string firstId = Id(first);
            var firstEvents = Events(firstId);
            var queue = (await fixture.Get("/api/v1/jobs")).Json!;
            Assert.Equal(slowId, queue["running"]!["id"]!.GetValue<string>());
            Assert.Equal([firstId, generateId], queue["queued"]!.AsArray().Select(j => j!["id"]!.GetValue<string>()));

            // A second stroke: the first live job leaves the queue (reason superseded); the new one takes its place.
            var (_, second) = await fixture.Post($"/api/v1/documents/{doc}/live", """{"prompt": "a second stroke", "steps": 2, "seed": 6}""");
            string secondId = Id(second);
            var ended = await firstEvents;
            Assert.Equal("cancelled", ended[^1].Type);
            Assert.Equal("superseded", ended[^1].Data["reason"]!.GetValue<string>());
            queue = (await fixture.Get("/api/v1/jobs")).Json!;
            Assert.Equal(slowId, queue["running"]!["id"]!.GetValue<string>());
            Assert.Equal([secondId, generateId], queue["queued"]!.AsArray().Select(j => j!["id"]!.GetValue<string>()));
            Assert.Equal("running", (await Job(slowId))["status"]!.GetValue<string>());

            // Cancelled by the user: reason cancelled. Then the live job runs before the generate queued before it.
            await fixture.Client.DeleteAsync($"/api/v1/jobs/{Uri.EscapeDataString(slowId)}");
            var slowEnd = (await slowEvents)[^1];
            Assert.Equal("cancelled", slowEnd.Type);
            Assert.Equal("cancelled", slowEnd.Data["reason"]!.GetValue<string>());
            Assert.Equal("result", (await Events(generateId))[^1].Type);
            Assert.Equal("result", (await Events(secondId))[^1].Type);
            var liveJob = await Job(secondId);
            var generateJob = await Job(generateId);
            Assert.True(DateTimeOffset.Parse(liveJob["ended"]!.GetValue<string>()) <= DateTimeOffset.Parse(generateJob["started"]!.GetValue<string>()),
                $"{liveJob.ToJsonString()} {generateJob.ToJsonString()}");
        }
        finally
        {
            await fixture.Client.DeleteAsync($"/api/v1/jobs/{Uri.EscapeDataString(slowId)}");
            if (generateId is not null) await fixture.Client.DeleteAsync($"/api/v1/jobs/{Uri.EscapeDataString(generateId)}");
        }
    }

    [SharedDataFact]
    public async Task ANewLiveJob_StopsTheRunningLiveJobOfItsDocument_WhoseResultIsNeverKept()
    {
        await fixture.Server();
        // A canvas large enough that four steps take seconds on the tiny model (a step of it takes about a second; the second stroke
        // arrives right after the first step), and a small second job.
        string doc = await NewDocument("live-running", 512);
        var (_, first) = await fixture.Post($"/api/v1/documents/{doc}/live", """{"prompt": "a stroke", "steps": 4, "strength": 1, "seed": 5}""");
        string firstId = Id(first);
        var firstEvents = Events(firstId);
        await WaitRunning(firstId, 1);
        var (_, second) = await fixture.Post($"/api/v1/documents/{doc}/live", """{"prompt": "a second stroke", "steps": 2, "strength": 0.5, "seed": 6, "preview_every": 0, "region": {"x": 0, "y": 0, "width": 64, "height": 64}, "region_native": true}""");
        var ended = await firstEvents;
        Assert.True(ended[^1].Type == "cancelled", string.Join(",", ended.Select(e => e.Type)));
        Assert.Equal("superseded", ended[^1].Data["reason"]!.GetValue<string>());
        Assert.Equal("result", (await Events(Id(second)))[^1].Type);
        Assert.Equal(404, (await fixture.Get($"/api/v1/documents/{doc}/live/{Uri.EscapeDataString(firstId)}/result.png")).Status);
        using var kept = await fixture.Client.GetAsync($"/api/v1/documents/{doc}/live/{Uri.EscapeDataString(Id(second))}/result.png");
        Assert.Equal(200, (int)kept.StatusCode);
    }
}
