using System.Diagnostics;
using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>
/// The job queue seen through HTTP: task ids (<c>force_task_id</c>, <c>/internal/progress</c>,
/// <c>/internal/pending-tasks</c>), cancel by id, a client that goes away, and the order jobs run and end in.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class QueueApiTests(ServerFixture fixture)
{
    /// <summary>A job that runs until interrupted (the tiny model at 256×256, previews every 2 steps).</summary>
    private static string LongJob(string id) => $$$"""
        {"prompt": "a long job", "steps": 1000, "width": 256, "height": 256, "seed": 11, "force_task_id": "{{{id}}}",
         "override_settings": {"show_progress_every_n_steps": 2}}
        """;

    private static string ShortJob(string id, long seed, string prompt = "a short job") => $$"""
        {"prompt": "{{prompt}}", "steps": 2, "width": 64, "height": 64, "seed": {{seed}}, "force_task_id": "{{id}}"}
        """;

    private async Task<JsonNode> TaskProgress(string id, int lastPreview = -1)
    {
        var (status, json) = await fixture.Post("/internal/progress", $$"""{"id_task": "{{id}}", "id_live_preview": {{lastPreview}}}""");
        Assert.True(status == 200 && json?["active"] is not null, $"{status} {json?.ToJsonString()}");
        return json!;
    }

    private async Task<List<string>> Pending() =>
        [.. (await fixture.Get("/internal/pending-tasks")).Json!["tasks"]!.AsArray().Select(t => t!.GetValue<string>())];

    private async Task<JsonNode> JobView(string id)
    {
        var (status, json) = await fixture.Get($"/api/v1/jobs/{Uri.EscapeDataString(id)}");
        Assert.True(status == 200, json?.ToJsonString());
        return json!;
    }

    /// <summary>Cancels the long job when a failed assertion left it running, so the next tests are not stuck behind it.</summary>
    private async Task StopLongJob(string id)
    {
        using var _ = await fixture.Client.DeleteAsync($"/api/v1/jobs/{id}");
    }

    /// <summary>Polls until <paramref name="done"/> holds; fails after 60 s.</summary>
    private static async Task Until(Func<Task<bool>> done, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await done())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    [SharedDataFact]
    public async Task ForcedTaskIds_ArePolledOnInternalProgress_QueuedThenActiveThenCompleted()
    {
        await fixture.Server();
        try
        {
            var a = fixture.Post("/sdapi/v1/txt2img", LongJob("q-a"));
            await Until(async () => (await TaskProgress("q-a"))["active"]!.GetValue<bool>(), "q-a to run");
            var b = fixture.Post("/sdapi/v1/txt2img", ShortJob("q-b", 21));
            await Until(async () => (await Pending()).Contains("q-b"), "q-b to queue");
            var c = fixture.Post("/sdapi/v1/txt2img", ShortJob("q-c", 22));
            await Until(async () => (await Pending()).Contains("q-c"), "q-c to queue");

            var pending = (await fixture.Get("/internal/pending-tasks")).Json!;
            Assert.Equal(2, pending["size"]!.GetValue<int>());
            Assert.Equal(["q-b", "q-c"], pending["tasks"]!.AsArray().Select(t => t!.GetValue<string>()));
            var queuedC = await TaskProgress("q-c");
            Assert.False(queuedC["active"]!.GetValue<bool>());
            Assert.True(queuedC["queued"]!.GetValue<bool>());
            Assert.False(queuedC["completed"]!.GetValue<bool>());
            Assert.Equal("In queue: 2/2", queuedC["textinfo"]!.GetValue<string>());
            Assert.Equal(-1, queuedC["id_live_preview"]!.GetValue<int>());
            Assert.Equal("In queue: 1/2", (await TaskProgress("q-b"))["textinfo"]!.GetValue<string>());
            Assert.Equal("Waiting...", (await TaskProgress("never-sent"))["textinfo"]!.GetValue<string>());

            // The running job: progress without A1111's 0.01 offset, an ETA, and its live preview as a data URL.
            JsonNode? active = null;
            await Until(async () => (active = await TaskProgress("q-a"))["live_preview"] is not null, "a live preview of q-a");
            Assert.True(active!["active"]!.GetValue<bool>());
            Assert.InRange(active["progress"]!.GetValue<double>(), 1e-6, 0.999);
            Assert.True(active["eta"]!.GetValue<double>() > 0);
            string preview = active["live_preview"]!.GetValue<string>();
            Assert.StartsWith("data:image/png;base64,", preview);
            Assert.Equal(256, ImageFiles.DecodeRgba(Convert.FromBase64String(preview["data:image/png;base64,".Length..]), "preview").Width);
            int previewId = active["id_live_preview"]!.GetValue<int>();
            Assert.True(previewId > 0);
            // Sent back, the same preview is not sent again (a newer one may have come meanwhile: then its id is new).
            var again = await TaskProgress("q-a", previewId);
            if (again["live_preview"] is not null) Assert.NotEqual(previewId, again["id_live_preview"]!.GetValue<int>());
            else Assert.Equal(previewId, again["id_live_preview"]!.GetValue<int>());

            await fixture.Post("/sdapi/v1/interrupt", "");
            var answers = await Task.WhenAll(a, b, c);
            Assert.All(answers, r => Assert.Equal(200, r.Status));
            var done = await TaskProgress("q-a");
            Assert.False(done["active"]!.GetValue<bool>());
            Assert.True(done["completed"]!.GetValue<bool>());

            // They ran one at a time in the order they came.
            var views = new[] { await JobView("q-a"), await JobView("q-b"), await JobView("q-c") };
            Assert.All(views, v => Assert.Equal("completed", v["status"]!.GetValue<string>()));
            AssertRanInOrder(views);
        }
        finally
        {
            await StopLongJob("q-a");
        }
    }

    [SharedDataFact]
    public async Task CancelById_AQueuedJobNeverRuns_ARunningJobStops()
    {
        await fixture.Server();
        try
        {
            var a = fixture.Post("/sdapi/v1/txt2img", LongJob("c-a"));
            await Until(async () => (await TaskProgress("c-a"))["active"]!.GetValue<bool>(), "c-a to run");
            var b = fixture.Post("/sdapi/v1/txt2img", ShortJob("c-b", 31));
            await Until(async () => (await Pending()).Contains("c-b"), "c-b to queue");

            var (duplicate, duplicateBody) = await fixture.Post("/sdapi/v1/txt2img", ShortJob("c-b", 32));
            Assert.Equal(409, duplicate);
            Assert.Contains("c-b", duplicateBody!["detail"]!.GetValue<string>());

            using (var cancelQueued = await fixture.Client.DeleteAsync("/api/v1/jobs/c-b"))
                Assert.Equal(200, (int)cancelQueued.StatusCode);
            var (bStatus, bBody) = await b;
            Assert.Equal(409, bStatus);
            Assert.Equal("Cancelled", bBody!["error"]!.GetValue<string>());
            var bView = await JobView("c-b");
            Assert.Equal("cancelled", bView["status"]!.GetValue<string>());
            Assert.Null(bView["started"]);
            Assert.Empty(await Pending());

            using (var cancelRunning = await fixture.Client.DeleteAsync("/api/v1/jobs/c-a"))
                Assert.Equal(200, (int)cancelRunning.StatusCode);
            var (aStatus, _) = await a;
            Assert.Equal(409, aStatus);
            var aView = await JobView("c-a");
            Assert.Equal("cancelled", aView["status"]!.GetValue<string>());
            Assert.NotNull(aView["started"]);
            Assert.Equal(0, (await fixture.Get("/sdapi/v1/progress")).Json!["state"]!["job_count"]!.GetValue<int>());

            using (var again = await fixture.Client.DeleteAsync("/api/v1/jobs/c-a"))
                Assert.Equal(409, (int)again.StatusCode);
            using (var unknown = await fixture.Client.DeleteAsync("/api/v1/jobs/no-such-job"))
                Assert.Equal(404, (int)unknown.StatusCode);
            // An ended id may be used again.
            Assert.Equal(200, (await fixture.Post("/sdapi/v1/txt2img", ShortJob("c-b", 33))).Status);
        }
        finally
        {
            await StopLongJob("c-a");
        }
    }

    [SharedDataFact]
    public async Task AClientThatGoesAwayBeforeItsJobStarts_LeavesTheQueue()
    {
        await fixture.Server();
        try
        {
            var a = fixture.Post("/sdapi/v1/txt2img", LongJob("d-a"));
            await Until(async () => (await TaskProgress("d-a"))["active"]!.GetValue<bool>(), "d-a to run");
            using var leaving = new CancellationTokenSource();
            var b = fixture.Client.PostAsync("/sdapi/v1/txt2img",
                new StringContent(ShortJob("d-b", 41), System.Text.Encoding.UTF8, "application/json"), leaving.Token);
            await Until(async () => (await Pending()).Contains("d-b"), "d-b to queue");
            leaving.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => b);
            await Until(async () => !(await Pending()).Contains("d-b"), "d-b to leave the queue");
            Assert.True((await TaskProgress("d-a"))["active"]!.GetValue<bool>(), "the running job goes on");
            await fixture.Post("/sdapi/v1/interrupt", "");
            Assert.Equal(200, (await a).Status);
            var bView = await JobView("d-b");
            Assert.Equal("cancelled", bView["status"]!.GetValue<string>());
            Assert.Null(bView["started"]);
        }
        finally
        {
            await StopLongJob("d-a");
        }
    }

    [SharedDataFact]
    public async Task TenClientsAtOnce_EachGetsItsOwnSeedAndPrompt_AndJobsEndInAcceptOrder()
    {
        await fixture.Server();
        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
            fixture.Post("/sdapi/v1/txt2img", ShortJob($"t-{i}", 700 + i, $"picture {i}"))));
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(200, answers[i].Status);
            var info = TestImages.Info(answers[i].Json!);
            Assert.Equal(700 + i, info["seed"]!.GetValue<long>());
            Assert.Equal($"picture {i}", info["prompt"]!.GetValue<string>());
            Assert.StartsWith($"picture {i}\n", TestImages.Parameters(TestImages.Images(answers[i].Json!)[0]));
        }
        var views = new List<JsonNode>();
        for (int i = 0; i < 10; i++) views.Add(await JobView($"t-{i}"));
        AssertRanInOrder(views);
    }

    /// <summary>
    /// Load: 200 small txt2img requests from 10 clients, each client sending its next when the last is answered. Every
    /// request is answered with its own seed and prompt, and the server accepted exactly 200 jobs, numbered without gaps.
    /// </summary>
    [SharedDataFact]
    public async Task TwoHundredRequestsFromTenClients_AllAnswered_NoneLostOrDuplicated()
    {
        await fixture.Server();
        const int clients = 10, each = 20;
        var numbers = new System.Collections.Concurrent.ConcurrentBag<long>();
        var seeds = new System.Collections.Concurrent.ConcurrentBag<long>();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async client =>
        {
            for (int k = 0; k < each; k++)
            {
                long seed = 10_000 + client * 100 + k;
                string id = $"load-{client}-{k}";
                var (status, json) = await fixture.Post("/sdapi/v1/txt2img", ShortJob(id, seed, $"load {client} {k}"));
                Assert.True(status == 200, json?.ToJsonString());
                var info = TestImages.Info(json!);
                Assert.Equal(seed, info["seed"]!.GetValue<long>());
                Assert.Equal($"load {client} {k}", info["prompt"]!.GetValue<string>());
                Assert.Single(TestImages.Images(json!));
                seeds.Add(seed);
                numbers.Add((await JobView(id))["number"]!.GetValue<long>());
            }
        }));
        Assert.Equal(clients * each, seeds.Distinct().Count());
        var sorted = numbers.Order().ToList();
        Assert.Equal(clients * each, sorted.Distinct().Count());
        Assert.Equal(clients * each - 1, sorted[^1] - sorted[0]);
    }

    /// <summary>Sorted by accept number, each job started after the one before it ended.</summary>
    private static void AssertRanInOrder(IReadOnlyList<JsonNode> views)
    {
        var ordered = views.OrderBy(v => v["number"]!.GetValue<long>()).ToList();
        Assert.Equal(views.Count, ordered.Select(v => v["number"]!.GetValue<long>()).Distinct().Count());
        for (int i = 1; i < ordered.Count; i++)
        {
            var previousEnd = DateTimeOffset.Parse(ordered[i - 1]["ended"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            var start = DateTimeOffset.Parse(ordered[i]["started"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(start >= previousEnd, $"job {ordered[i]["id"]} started at {start:O}, before job {ordered[i - 1]["id"]} ended at {previousEnd:O}");
        }
    }
}
