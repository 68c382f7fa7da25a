using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Redraft.Tests.Shared;

namespace Redraft.Broker.Tests;

/// <summary>
/// A server and workers through a real RabbitMQ (issue 17): nothing lost, every job answered once with the bytes the
/// server would make itself, whatever happens to a worker or the broker meanwhile.
/// </summary>
public sealed class FleetTests
{
    /// <summary>The in-process answers of <paramref name="requests"/>, one after another.</summary>
    private static async Task<Dictionary<string, string>> Expected(Fleet fleet, IEnumerable<JsonObject> requests)
    {
        using var local = await fleet.LocalClientAsync();
        var expected = new Dictionary<string, string>();
        foreach (var request in requests)
        {
            var copy = request.DeepClone().AsObject();
            copy.Remove("force_task_id");
            var (status, answer) = await Txt2Img.PostAsync(local, copy);
            Assert.Equal(HttpStatusCode.OK, status);
            expected[request["force_task_id"]!.GetValue<string>()] = Txt2Img.Image(answer);
        }
        return expected;
    }

    /// <summary>The infotext of a base64 PNG.</summary>
    private static string Parameters(string base64) => Redraft.Imaging.ImageFiles.ReadPngText(Convert.FromBase64String(base64), "answer")["parameters"];

    [BrokerFact]
    public async Task FortyJobsFromFourClients_OnTwoWorkers_AllAnsweredOnce_EachEqualToTheSameRequestInProcess()
    {
        await using var fleet = await Fleet.StartAsync(workers: 2);
        var requests = Fleet.Users.SelectMany((user, u) => Enumerable.Range(0, 10).Select(i => (User: user, Request: Txt2Img.Request(1000 + u * 10 + i, $"{user}-{i}")))).ToList();
        var answers = new ConcurrentDictionary<string, string>();
        await Task.WhenAll(Fleet.Users.Select(async user =>
        {
            using var client = fleet.Client(user);
            // Each client sends its ten at once, as a batch script would.
            await Task.WhenAll(requests.Where(r => r.User == user).Select(async r =>
            {
                var (status, answer) = await Txt2Img.PostAsync(client, r.Request);
                Assert.True(status == HttpStatusCode.OK, $"{r.Request["force_task_id"]}: {(int)status} {answer?.ToJsonString()}\n{fleet.WorkerOutput()}");
                Assert.True(answers.TryAdd(r.Request["force_task_id"]!.GetValue<string>(), Txt2Img.Image(answer)));
            }));
        }));
        Assert.Equal(40, answers.Count);
        foreach (var r in requests) await fleet.Workers.First(w => w.Output.Contains($"{r.Request["force_task_id"]} (txt2img) started")).WaitForOutputAsync($"{r.Request["force_task_id"]} done");
        var expected = await Expected(fleet, requests.Select(r => r.Request));
        foreach (var (id, image) in expected) Assert.True(answers[id] == image, $"{id}: the fleet's image differs from the in-process one");
        // Both workers took part and each job ran once (their logs; the heartbeats' counts lag by up to a beat), no
        // duplicate result arrived, and the broker holds nothing any more.
        int Done(WorkerProcess w) => w.Output.Split('\n').Count(l => l.Contains(" done ("));
        Assert.All(fleet.Workers, w => Assert.True(Done(w) > 0, w.Output));
        Assert.Equal(40, fleet.Workers.Sum(Done));
        Assert.DoesNotContain("arrived after the job ended", fleet.ServerLog);
        Assert.Equal(0, await fleet.MessagesIn(BrokerTopology.ResultsQueue));
        Assert.Equal(0, await fleet.MessagesIn(BrokerTopology.DeadJobsQueue));
    }

    [BrokerFact]
    public async Task ABatchOfOneClient_DoesNotStarveAnother_JobsAreInterleavedBeforeTheyArePublished()
    {
        await using var fleet = await Fleet.StartAsync(workers: 1);
        using var alice = fleet.Client("alice");
        using var bob = fleet.Client("bob");
        var finished = new ConcurrentQueue<string>();
        async Task Send(HttpClient client, JsonObject request)
        {
            var (status, answer) = await Txt2Img.PostAsync(client, request);
            Assert.True(status == HttpStatusCode.OK, answer?.ToJsonString());
            finished.Enqueue(request["force_task_id"]!.GetValue<string>());
        }
        var batch = Enumerable.Range(0, 12).Select(i => Send(alice, Txt2Img.Request(2000 + i, $"alice-{i}", steps: 6))).ToList();
        // Bob asks once Alice's whole batch has been accepted.
        using (var probe = fleet.Client())
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (JsonNode.Parse(await probe.GetStringAsync("/internal/pending-tasks"))!["tasks"]!.AsArray().Count < 11 && DateTime.UtcNow < deadline)
                await Task.Delay(20);
        }
        var bobs = new[] { Send(bob, Txt2Img.Request(3000, "bob-0", steps: 6)), Send(bob, Txt2Img.Request(3001, "bob-1", steps: 6)) };
        await Task.WhenAll(batch.Concat(bobs));
        var order = finished.ToList();
        // One worker, one job out at a time: Bob's two come right after the job(s) already out, each after one of Alice's,
        // not after all twelve.
        Assert.True(order.IndexOf("bob-1") <= 5, string.Join(", ", order));
    }

    [BrokerFact]
    public async Task AWorkerKilledMidJob_LeavesTheJobToTheOther_WhichAnswersItOnce()
    {
        await using var fleet = await Fleet.StartAsync(workers: 2);
        using var client = fleet.Client();
        var request = Txt2Img.Request(4242, "long-job", steps: 400);
        var answer = Txt2Img.PostAsync(client, request);
        var runner = await fleet.WorkerRunningAsync("long-job");
        runner.KillHard();
        var (status, json) = await answer;
        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {json?.ToJsonString()}\n{fleet.WorkerOutput()}");
        var other = fleet.Workers.Single(w => w != runner);
        Assert.Contains("long-job (txt2img) started", other.Output);
        await other.WaitForOutputAsync("long-job done");
        var expected = await Expected(fleet, [request]);
        Assert.Equal(expected["long-job"], Txt2Img.Image(json));
        Assert.DoesNotContain("arrived after the job ended", fleet.ServerLog);
    }

    [BrokerFact]
    public async Task SigtermMidJob_TheWorkerFinishesItsJob_AnswersIt_AndExits_TheNextJobGoesToTheOther()
    {
        await using var fleet = await Fleet.StartAsync(workers: 2);
        using var client = fleet.Client();
        var answer = Txt2Img.PostAsync(client, Txt2Img.Request(77, "term-job", steps: 300));
        var runner = await fleet.WorkerRunningAsync("term-job");
        runner.Terminate();
        var (status, json) = await answer;
        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {json?.ToJsonString()}\n{fleet.WorkerOutput()}");
        Assert.Equal(0, await runner.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        await runner.WaitForOutputAsync("term-job done");
        Assert.Contains("stopped after 1 job(s)", runner.Output);
        // The job ran once: the other worker never saw it.
        var other = fleet.Workers.Single(w => w != runner);
        Assert.DoesNotContain("term-job", other.Output);
        var (nextStatus, _) = await Txt2Img.PostAsync(client, Txt2Img.Request(78, "after-term"));
        Assert.Equal(HttpStatusCode.OK, nextStatus);
        await other.WaitForOutputAsync("after-term done");
    }

    [BrokerFact]
    public async Task AJobThatAlwaysFails_IsDeadLettered_AndItsClientGetsTheError()
    {
        // A checkpoint whose file is cut short: listed (it hashes), but no worker can load it.
        await using var fleet = await Fleet.StartAsync(workers: 2, models =>
        {
            var whole = File.ReadAllBytes(Path.Combine(models, "tiny.safetensors"));
            File.WriteAllBytes(Path.Combine(models, "broken.safetensors"), whole[..(whole.Length / 2)]);
        });
        using var client = fleet.Client();
        var request = Txt2Img.Request(5, "doomed");
        request["override_settings"] = new JsonObject { ["sd_model_checkpoint"] = "broken" };
        var (status, json) = await Txt2Img.PostAsync(client, request);
        Assert.True(status == HttpStatusCode.InternalServerError, $"{(int)status} {json?.ToJsonString()}");
        string detail = json!["detail"]!.GetValue<string>();
        Assert.Contains("doomed", detail);
        Assert.Contains(BrokerTopology.DeadJobsQueue, detail);
        Assert.Contains("broken.safetensors", detail);
        // Dead-lettering from a quorum queue is asynchronous: the set-aside copy may land a moment after the server's.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await fleet.MessagesIn(BrokerTopology.DeadJobsQueue) == 0 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.Equal(1, await fleet.MessagesIn(BrokerTopology.DeadJobsQueue));
        // Every delivery was tried: the workers together report DeliveryLimit + 1 failures.
        int failures = fleet.Workers.Sum(w => w.Output.Split('\n').Count(l => l.Contains("doomed failed")));
        Assert.Equal(BrokerTopology.DeliveryLimit + 1, failures);
        // The fleet goes on.
        var (next, _) = await Txt2Img.PostAsync(client, Txt2Img.Request(6, "fine"));
        Assert.Equal(HttpStatusCode.OK, next);
    }

    [BrokerFact]
    public async Task AWorkerWithTwoCheckpoints_RunsOneJobAtATime_AndInterruptStopsTheOneItRuns()
    {
        await using var fleet = await Fleet.StartAsync(workers: 1, Fleet.AddOtherModel);
        using var client = fleet.Client();
        var worker = fleet.Workers[0];
        var first = Txt2Img.PostAsync(client, Txt2Img.Request(41, "on-tiny", steps: 1000));
        var secondRequest = Txt2Img.Request(42, "on-other", steps: 1000);
        secondRequest["override_settings"] = new JsonObject { ["sd_model_checkpoint"] = "other" };
        await fleet.WorkerRunningAsync("on-tiny");
        var second = Txt2Img.PostAsync(client, secondRequest);
        // The second job waits in the server (one worker, one job out), not parked on the busy worker.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!(JsonNode.Parse(await client.GetStringAsync("/internal/pending-tasks"))!["tasks"]!.AsArray().Any(t => t!.GetValue<string>() == "on-other")))
        {
            Assert.True(DateTime.UtcNow < deadline, "on-other never queued");
            await Task.Delay(20);
        }
        // Interrupt acts on the job the worker runs, then on the next.
        using (var interrupt = await client.PostAsync("/sdapi/v1/interrupt", null)) Assert.Equal(HttpStatusCode.OK, interrupt.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await first).Status);
        await fleet.WorkerRunningAsync("on-other");
        using (var interrupt = await client.PostAsync("/sdapi/v1/interrupt", null)) Assert.Equal(HttpStatusCode.OK, interrupt.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second).Status);
        await worker.WaitForOutputAsync("on-other done");
        var lines = worker.Output.Split('\n').Where(l => l.Contains("on-tiny") || l.Contains("on-other")).Select(l => l.Trim()).ToList();
        Assert.True(lines.Count == 4 && lines[0].Contains("on-tiny (txt2img) started") && lines[1].Contains("on-tiny done")
            && lines[2].Contains("on-other (txt2img) started") && lines[3].Contains("on-other done"), string.Join("\n", lines));
    }

    [BrokerFact]
    public async Task ATaskIdReusedAfterACancel_RunsItsNewJob_NotTheOldOnesFate()
    {
        await using var fleet = await Fleet.StartAsync(workers: 1);
        using var client = fleet.Client();
        var old = Txt2Img.PostAsync(client, Txt2Img.Request(51, "same-id", steps: 1000));
        await fleet.WorkerRunningAsync("same-id");
        using (var delete = await client.DeleteAsync("/api/v1/jobs/same-id")) Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await old).Status);
        // The same task id again (a client retrying): every worker has heard "cancel" for the old job, not this one.
        var request = Txt2Img.Request(52, "same-id");
        var (status, json) = await Txt2Img.PostAsync(client, request);
        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {json?.ToJsonString()}\n{fleet.WorkerOutput()}");
        Assert.Equal((await Expected(fleet, [request]))["same-id"], Txt2Img.Image(json));
    }

    [BrokerFact]
    public Task TheBrokerStoppedAndStartedMidRun_NoAcceptedJobIsLost_RequestsMeanwhileGet503() => BrokerDownMidRun(async fleet =>
    {
        await fleet.Broker.StopAsync();
        // A clean stop closes the connections: the server knows at once, and the very next request is refused.
    });

    /// <summary>
    /// Six jobs in flight on two workers; <paramref name="takeDown"/> takes the broker away; a request meanwhile gets
    /// 503; the broker comes back on the same ports and folder; all six are answered, byte-equal to in-process.
    /// </summary>
    private static async Task BrokerDownMidRun(Func<Fleet, Task> takeDown)
    {
        await using var fleet = await Fleet.StartAsync(workers: 2);
        using var client = fleet.Client();
        var requests = Enumerable.Range(0, 6).Select(i => Txt2Img.Request(600 + i, $"restart-{i}", steps: 120)).ToList();
        var answers = requests.Select(r => Txt2Img.PostAsync(client, r)).ToList();
        await fleet.WorkerRunningAsync("restart-0");
        await takeDown(fleet);
        var (down, downJson) = await Txt2Img.PostAsync(client, Txt2Img.Request(699, "while-down"));
        Assert.True(down == HttpStatusCode.ServiceUnavailable, $"{(int)down} {downJson?.ToJsonString()}");
        Assert.Contains("unreachable", downJson!["detail"]!.GetValue<string>());
        await fleet.Broker.StartAgainAsync();
        await fleet.WaitForWorkersAsync(2);
        var all = Task.WhenAll(answers);
        if (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(90))) != all)
        {
            using var probe = fleet.Client();
            Assert.Fail($"not every job was answered 90 s after the broker came back: {string.Join(", ", answers.Select((a, i) => $"restart-{i} {(a.IsCompleted ? "answered" : "waiting")}"))}\n" +
                $"queue: {await probe.GetStringAsync("/api/v1/jobs")}\nserver log:\n{fleet.ServerLog}\n{fleet.WorkerOutput()}");
        }
        var results = await all;
        var expected = await Expected(fleet, requests);
        for (int i = 0; i < requests.Count; i++)
        {
            Assert.True(results[i].Status == HttpStatusCode.OK, $"restart-{i}: {(int)results[i].Status} {results[i].Json?.ToJsonString()}\n{fleet.WorkerOutput()}");
            Assert.Equal(expected[$"restart-{i}"], Txt2Img.Image(results[i].Json));
        }
        var (after, _) = await Txt2Img.PostAsync(client, Txt2Img.Request(700, "after-restart"));
        Assert.Equal(HttpStatusCode.OK, after);
    }

    [BrokerFact]
    public async Task AWorkerRunsItsOwnCopyOfTheModel_FoundByContent_AndTheServerListsOnlyWhatTheFleetCanRun()
    {
        // The server has two checkpoints; the worker has one of them, under another name, in its own folder.
        await using var fleet = await Fleet.StartAsync(workers: 0, Fleet.AddOtherModel);
        string own = Path.Combine(fleet.Folder, "worker-models");
        Directory.CreateDirectory(own);
        File.Copy(Path.Combine(fleet.ModelsDir, "tiny.safetensors"), Path.Combine(own, "renamed-copy.safetensors"));
        // Its config (make-model writes one beside the checkpoint) goes with it: the config decides the architecture.
        File.Copy(Path.Combine(fleet.ModelsDir, "tiny.yaml"), Path.Combine(own, "renamed-copy.yaml"));
        using var client = fleet.Client();
        var before = JsonNode.Parse(await client.GetStringAsync("/sdapi/v1/sd-models"))!.AsArray();
        Assert.Equal(2, before.Count);   // no worker yet: the server's own list
        var worker = await fleet.StartWorkerAsync("copy-holder", own);
        await fleet.WaitForWorkersAsync(1);
        var listed = JsonNode.Parse(await client.GetStringAsync("/sdapi/v1/sd-models"))!.AsArray();
        Assert.Equal(["tiny"], listed.Select(m => m!["model_name"]!.GetValue<string>()));
        var view = await fleet.WorkersView();
        Assert.True(view["connected"]!.GetValue<bool>());
        var entry = view["workers"]!.AsArray().Single()!;
        Assert.Equal("copy-holder", entry["name"]!.GetValue<string>());
        Assert.Equal("renamed-copy.safetensors", entry["models"]![0]!["name"]!.GetValue<string>());
        Assert.Equal(listed[0]!["sha256"]!.GetValue<string>(), entry["models"]![0]!["sha256"]!.GetValue<string>());
        Assert.True(entry["seconds_since_heartbeat"]!.GetValue<double>() < 10);
        // Its answer is the server's own, byte for byte (the infotext names the server's file, not the worker's copy).
        var request = Txt2Img.Request(31, "by-content");
        var (status, json) = await Txt2Img.PostAsync(client, request);
        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {json?.ToJsonString()}\n{worker.Output}");
        string expected = (await Expected(fleet, [request]))["by-content"];
        Assert.Equal(Parameters(expected), Parameters(Txt2Img.Image(json)));
        Assert.Equal(expected, Txt2Img.Image(json));
        // A checkpoint no live worker has is refused at once, in one line, rather than left waiting.
        var elsewhere = Txt2Img.Request(32, "nobody-has-it");
        elsewhere["override_settings"] = new JsonObject { ["sd_model_checkpoint"] = "other" };
        var (refused, why) = await Txt2Img.PostAsync(client, elsewhere);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused);
        Assert.Contains("no live worker serves the checkpoint other.safetensors", why!["detail"]!.GetValue<string>());
    }

    [BrokerFact]
    public async Task TheSeedLoop_WithEveryGenerationOnAWorker()
    {
        await using var fleet = await Fleet.StartAsync(workers: 1);
        using var client = fleet.Client();
        await SeedLoop.RunAsync(client, "fleet-loop");
        // Every generation of the loop (4 variations, masked, harmonize, rerun) ran on the worker.
        Assert.Equal(4, fleet.Workers[0].Output.Split('\n').Count(l => l.Contains("(doc-") && l.Contains(" started")));
    }
}
