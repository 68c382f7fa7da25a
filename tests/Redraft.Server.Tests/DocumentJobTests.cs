using System.Net.ServerSentEvents;
using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>Document steps as jobs: queued with the other jobs, committed before their result event, once per operation id.</summary>
[Collection(ServerCollection.Name)]
public sealed class DocumentJobTests(ServerFixture fixture)
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

    private async Task<int> HistoryCount(string doc) => (await fixture.Get($"/api/v1/documents/{doc}/history")).Json!["steps"]!.AsArray().Count;

    [SharedDataFact]
    public async Task Generate_IsAJob_WhoseResultNamesTheCommittedCandidates_AndAnOperationIdRunsOnce()
    {
        await fixture.Server();
        string doc = await NewDocument("job-generate", 64);
        int before = await HistoryCount(doc);
        var (status, accepted) = await fixture.Post($"/api/v1/documents/{doc}/generate",
            """{"prompt": "a red roof", "steps": 2, "strength": 0.75, "seed": 7, "variations": 2, "operation_id": "gen-1"}""");
        Assert.True(status == 202, accepted?.ToJsonString());
        string jobId = accepted!["job_id"]!.GetValue<string>();
        Assert.StartsWith("task(doc-generate-", jobId);

        var events = await Events(jobId);
        var types = events.Select(e => e.Type).ToList();
        Assert.Equal("result", types[^1]);
        Assert.True(types.IndexOf("phase") >= 0 && events.Any(e => e.Type == "phase" && e.Data["phase"]!.GetValue<string>() == "commit"), string.Join(",", types));
        var result = events[^1].Data;
        var layers = result["layers"]!.AsArray().Select(l => l!.GetValue<string>()).ToList();
        Assert.Equal(2, layers.Count);
        Assert.Equal([7L, 8L], result["seeds"]!.AsArray().Select(s => s!.GetValue<long>()));

        // When the result event arrives the candidates are in the document.
        var document = (await fixture.Get($"/api/v1/documents/{doc}")).Json!;
        var candidates = document["layers"]!.AsArray().Where(l => layers.Contains(l!["id"]!.GetValue<string>())).ToList();
        Assert.Equal(2, candidates.Count);
        Assert.All(candidates, c => Assert.Equal("candidate", c!["role"]!.GetValue<string>()));
        Assert.Equal(before + 1, await HistoryCount(doc));

        // The same operation id again: nothing runs, the first step answers.
        var (again, replay) = await fixture.Post($"/api/v1/documents/{doc}/generate",
            """{"prompt": "a red roof", "steps": 2, "seed": 7, "variations": 2, "operation_id": "gen-1"}""");
        Assert.Equal(200, again);
        Assert.True(replay!["replayed"]!.GetValue<bool>());
        Assert.Equal(result["entry_id"]!.GetValue<long>(), replay["entry_id"]!.GetValue<long>());
        Assert.Equal(before + 1, await HistoryCount(doc));
    }

    [SharedDataFact]
    public async Task ACancelledDocumentJob_RecordsNothing()
    {
        await fixture.Server();
        string doc = await NewDocument("job-cancel", 256);
        int before = await HistoryCount(doc);
        var (status, accepted) = await fixture.Post($"/api/v1/documents/{doc}/harmonize",
            """{"prompt": "a long pass", "steps": 1000, "strength": 1, "seed": 3}""");
        Assert.True(status == 202, accepted?.ToJsonString());
        string jobId = accepted!["job_id"]!.GetValue<string>();
        var reading = Events(jobId);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((await fixture.Get($"/api/v1/jobs/{Uri.EscapeDataString(jobId)}")).Json!["step"]!.GetValue<int>() < 2)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the job did not reach step 2");
            await Task.Delay(20);
        }
        using (var cancel = await fixture.Client.DeleteAsync($"/api/v1/jobs/{Uri.EscapeDataString(jobId)}"))
            Assert.Equal(200, (int)cancel.StatusCode);
        var events = await reading;
        Assert.Equal("cancelled", events[^1].Type);
        Assert.DoesNotContain(events, e => e.Type == "phase" && e.Data["phase"]!.GetValue<string>() == "commit");
        Assert.Equal(before, await HistoryCount(doc));
    }
}
