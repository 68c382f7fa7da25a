using System.Net.ServerSentEvents;
using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;
using Redraft.Imaging;
using Redraft.Tests.Shared;

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

    private static string MaskBase64(int size, int x, int y, int side)
    {
        var mask = new MaskImage(size, size, new byte[size * size]);
        for (int row = y; row < y + side; row++) Array.Fill(mask.Pixels, (byte)255, row * size + x, side);
        return Convert.ToBase64String(ImageFiles.EncodePng(mask));
    }

    private static string Json(JsonObject body) => body.ToJsonString();

    /// <summary>Waits for a job's result event (failing on any other end) and returns its data.</summary>
    private async Task<JsonObject> Result(JsonNode? accepted)
    {
        var events = await Events(accepted!["job_id"]!.GetValue<string>());
        Assert.True(events[^1].Type == "result", string.Join(",", events.Select(e => e.Type)) + " " + events[^1].Data.ToJsonString());
        return events[^1].Data;
    }

    [SharedDataFact]
    public async Task Generate_TakesMaskRegionVariationSchedulerAndModel_AnswersTheArea_AndRefusesBadFieldsInOneLine()
    {
        await fixture.Server();
        string doc = await NewDocument("job-fields", 64);
        // A masked generation: the area is the engine's crop box (8x8 at 40,40, padding 4, no blur → 36..51), previews every step.
        var (status, accepted) = await fixture.Post($"/api/v1/documents/{doc}/generate", Json(new JsonObject
        {
            ["prompt"] = "a window", ["steps"] = 4, ["seed"] = 5, ["mask"] = "data:image/png;base64," + MaskBase64(64, 40, 40, 8),
            ["mask_blur"] = 0, ["inpaint_padding"] = 4, ["scheduler"] = "Karras", ["subseed"] = 100, ["subseed_strength"] = 0.5, ["variations"] = 2,
        }));
        Assert.True(status == 202, accepted?.ToJsonString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"x":36,"y":36,"width":16,"height":16}"""), accepted!["area"]), accepted.ToJsonString());
        var events = await Events(accepted["job_id"]!.GetValue<string>());
        Assert.Equal("result", events[^1].Type);
        // preview_every defaults to 1 with TAESD: a preview after every sampling step (strength 0.75 of 4 steps runs 3).
        var previewSteps = events.Where(e => e.Type == "preview").Select(e => e.Data["step"]!.GetValue<int>()).ToList();
        Assert.True(previewSteps.Count >= 2, string.Join(",", previewSteps));
        Assert.Equal(Enumerable.Range(1, previewSteps.Count), previewSteps);
        var step = (await fixture.Get($"/api/v1/documents/{doc}/history")).Json!["steps"]!.AsArray()[^1]!["parameters"]!;
        Assert.Equal(0.5, step["subseed_strength"]!.GetValue<double>());
        Assert.Equal(100, step["subseed"]!.GetValue<long>());
        Assert.Equal(4, step["inpaint_padding"]!.GetValue<int>());
        Assert.Equal(0, step["mask_blur"]!.GetValue<int>());
        Assert.Equal("karras", step["schedule"]!.GetValue<string>());
        Assert.NotNull(step["mask"]);

        // A region run natively covers the region; the whole canvas otherwise; preview_every 0 sends none.
        var (_, region) = await fixture.Post($"/api/v1/documents/{doc}/generate",
            """{"steps": 2, "seed": 6, "region": {"x": 8, "y": 16, "width": 40, "height": 32}, "region_native": true, "preview_every": 0}""");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"x":8,"y":16,"width":40,"height":32}"""), region!["area"]), region.ToJsonString());
        Assert.DoesNotContain(await Events(region["job_id"]!.GetValue<string>()), e => e.Type == "preview");
        var (_, whole) = await fixture.Post($"/api/v1/documents/{doc}/harmonize", """{"steps": 2, "seed": 6, "model": "tiny-other"}""");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"x":0,"y":0,"width":64,"height":64}"""), whole!["area"]), whole.ToJsonString());
        await Result(whole);
        // The model field chose the other checkpoint: its hash is recorded.
        var rows = (await fixture.Get($"/api/v1/documents/{doc}/history")).Json!["steps"]!.AsArray();
        Assert.NotEqual(rows[1]!["model_hash"]!.GetValue<string>(), rows[^1]!["model_hash"]!.GetValue<string>());

        int before = await HistoryCount(doc);
        foreach (var (body, expected) in new (string, int)[]
        {
            ("""{"model": "no-such-model"}""", 422),
            ("""{"strength": 1.5}""", 422),
            ("""{"subseed_strength": 2}""", 422),
            ("""{"mask_blur": -1}""", 422),
            ("""{"inpaint_padding": -1}""", 422),
            ("""{"preview_every": -1}""", 422),
            ("""{"sampler_name": "no such sampler"}""", 422),
            ("""{"mask": "not an image"}""", 422),
            ("""{"region_native": "yes please"}""", 422), // field type errors: the server's A1111 validation shape
            ("""{"subseed": "x"}""", 422),
            ($$"""{"mask": "{{MaskBase64(32, 0, 0, 8)}}"}""", 422), // not the canvas's size
            ("""{"region": {"x": 60, "y": 0, "width": 40, "height": 8}}""", 422),
        })
        {
            var (code, error) = await fixture.Post($"/api/v1/documents/{doc}/generate", body);
            Assert.True(code == expected, $"{body}: {code} {error?.ToJsonString()}");
            // One line naming the field: the documents API's message, or the A1111 validation entry for a wrongly typed field.
            string detail = error!["detail"] is JsonArray entries ? entries[0]!["loc"]!.ToJsonString() + entries[0]!["msg"] : error["detail"]!.GetValue<string>();
            Assert.DoesNotContain('\n', detail);
        }
        Assert.Equal(before, await HistoryCount(doc));
    }

    [SharedDataFact]
    public async Task ARetryWhileItsJobRuns_AnswersThatJob_TheJobShowsItsDocument_AndTheDocumentIsNotRenamedMeanwhile()
    {
        await fixture.Server();
        string doc = await NewDocument("job-retry", 256);
        const string body = """{"prompt": "a long pass", "steps": 1000, "strength": 1, "seed": 3, "operation_id": "slow-1"}""";
        var (status, accepted) = await fixture.Post($"/api/v1/documents/{doc}/harmonize", body);
        Assert.True(status == 202, accepted?.ToJsonString());
        string jobId = accepted!["job_id"]!.GetValue<string>();
        try
        {
            var (again, retry) = await fixture.Post($"/api/v1/documents/{doc}/harmonize", body);
            Assert.Equal(202, again);
            Assert.Equal(jobId, retry!["job_id"]!.GetValue<string>());
            Assert.True(JsonNode.DeepEquals(accepted["area"], retry["area"]));
            var queue = (await fixture.Get("/api/v1/jobs")).Json!;
            var listed = new[] { queue["running"] }.Concat(queue["queued"]!.AsArray()).Where(j => j?["id"]?.GetValue<string>() == jobId).ToList();
            Assert.Single(listed); // one job, not two
            var view = (await fixture.Get($"/api/v1/jobs/{Uri.EscapeDataString(jobId)}")).Json!;
            Assert.Equal(doc, view["document"]!.GetValue<string>());
            Assert.Equal("doc-harmonize", view["kind"]!.GetValue<string>());
            Assert.Equal("slow-1", view["operation_id"]!.GetValue<string>());

            var (renamed, refusal) = await fixture.Send(HttpMethod.Patch, $"/api/v1/documents/{doc}", """{"name": "job-retry-renamed"}""");
            Assert.Equal(409, renamed);
            Assert.Contains(jobId, refusal!["detail"]!.GetValue<string>());
            Assert.True(Directory.Exists(Path.Combine(fixture.DocumentsDir, doc)));
        }
        finally
        {
            await fixture.Client.DeleteAsync($"/api/v1/jobs/{Uri.EscapeDataString(jobId)}");
        }
        var ended = await Events(jobId);
        Assert.Equal("cancelled", ended[^1].Type);
        // Once the job has ended the rename goes through.
        Assert.Equal(200, (await fixture.Send(HttpMethod.Patch, $"/api/v1/documents/{doc}", """{"name": "job-retry-renamed"}""")).Status);
    }

    [SharedDataFact]
    public async Task TheSeedLoop_OverHttp_FromASketchToARerunThatIsIdentical()
    {
        await fixture.Server();
        await SeedLoop.RunAsync(fixture.Client, "seed-loop");
        // A rerun of an edit is refused in one line; an unknown step is 404.
        Assert.Equal(422, (await fixture.Post("/api/v1/documents/seed-loop/history/3/rerun", "")).Status);
        Assert.Equal(404, (await fixture.Post("/api/v1/documents/seed-loop/history/99/rerun", "")).Status);
    }

    [SharedDataFact]
    public async Task AnEditCommittedWhileAGenerateRuns_IsStillThereAfterTheGenerateCommits()
    {
        await fixture.Server();
        string doc = await NewDocument("job-edit-meanwhile", 64);
        using (var form = new MultipartFormDataContent())
        {
            form.Add(new ByteArrayContent(ImageFiles.EncodePng(RgbaImage.Filled(16, 16, 20, 200, 20))), "image", "leaf.png");
            using var added = await fixture.Client.PostAsync($"/api/v1/documents/{doc}/layers", form);
            Assert.Equal(200, (int)added.StatusCode);
        }
        var (status, accepted) = await fixture.Post($"/api/v1/documents/{doc}/generate", """{"prompt": "long", "steps": 1000, "seed": 21, "preview_every": 0}""");
        Assert.True(status == 202, accepted?.ToJsonString());
        string jobId = accepted!["job_id"]!.GetValue<string>();
        var reading = Events(jobId);
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while ((await fixture.Get($"/api/v1/jobs/{Uri.EscapeDataString(jobId)}")).Json!["step"]!.GetValue<int>() < 2)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the job did not reach step 2");
                await Task.Delay(20);
            }
            var (patched, _) = await fixture.Send(HttpMethod.Patch, $"/api/v1/documents/{doc}/layers/L1", """{"opacity": 0.25, "operation_id": "meanwhile"}""");
            Assert.Equal(200, patched);
        }
        finally
        {
            // Interrupt: the generation stops after its current step and commits what it made.
            await fixture.Post("/sdapi/v1/interrupt", "");
        }
        var events = await reading;
        Assert.Equal("result", events[^1].Type);
        var layers = (await fixture.Get($"/api/v1/documents/{doc}")).Json!["layers"]!.AsArray();
        Assert.Equal(0.25, layers.First(l => l!["id"]!.GetValue<string>() == "L1")!["opacity"]!.GetValue<double>());
        string candidate = events[^1].Data["layers"]![0]!.GetValue<string>();
        Assert.Equal(candidate, layers[^1]!["id"]!.GetValue<string>()); // on top of the edited layer
        var kinds = (await fixture.Get($"/api/v1/documents/{doc}/history")).Json!["steps"]!.AsArray().Select(s => s!["kind"]!.GetValue<string>()).ToList();
        Assert.Equal(["new", "add-layer", "opacity", "generate"], kinds);
    }
}
