using System.Net;
using System.Net.ServerSentEvents;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;
using Redraft.Imaging;
using Redraft.Tests.Shared;

namespace Redraft.Broker.Tests;

/// <summary>
/// What clients see of a job on a worker is what they see of one in-process: progress and previews as it runs,
/// interrupt and cancel reaching the worker, one-line refusals; and a worker fetches its models from the catalogue.
/// </summary>
public sealed class FleetControlTests
{
    private static async Task<JsonObject> Job(HttpClient client, string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var response = await client.GetAsync($"/api/v1/jobs/{Uri.EscapeDataString(id)}");
            if (response.IsSuccessStatusCode) return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"job {id} never appeared");
            await Task.Delay(20);
        }
    }

    [BrokerFact]
    public async Task AJobOnAWorker_StreamsStartedProgressAndPreviews_ThenItsResult()
    {
        await using var fleet = await Fleet.StartAsync(workers: 1);
        using var client = fleet.Client();
        var answer = Txt2Img.PostAsync(client, Txt2Img.Request(8, "watched", steps: 60));
        await Job(client, "watched");
        using var response = await client.GetAsync("/api/v1/jobs/watched/events", HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var events = new List<(string Type, JsonObject Data)>();
        await foreach (var item in SseParser.Create(stream).EnumerateAsync())
            events.Add((item.EventType, JsonNode.Parse(item.Data)!.AsObject()));
        Assert.Equal(HttpStatusCode.OK, (await answer).Status);
        Assert.Equal("result", events[^1].Type);
        var steps = events.Where(e => e.Type == "progress").Select(e => e.Data["step"]!.GetValue<int>()).ToList();
        Assert.True(steps.Count >= 5, string.Join(",", events.Select(e => e.Type)));
        Assert.Equal(steps.Order(), steps);                // in order, as the worker made them
        Assert.Equal(60, events.Where(e => e.Type == "progress").Last().Data["total"]!.GetValue<int>());
        // Previews every 10 steps (A1111's default with TAESD), drawn on the worker and served here.
        var preview = events.Where(e => e.Type == "preview").Select(e => e.Data).LastOrDefault();
        Assert.NotNull(preview);
        using var png = await client.GetAsync(preview["url"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, png.StatusCode);
        var image = ImageFiles.DecodeRgba(await png.Content.ReadAsByteArrayAsync(), "preview");
        Assert.Equal((64, 64), (image.Width, image.Height));
    }

    [BrokerFact]
    public async Task InterruptReachesTheWorker_TheJobEndsEarlyWithAnImage_AndCancelDropsAJobOnTheWorker()
    {
        await using var fleet = await Fleet.StartAsync(workers: 1);
        using var client = fleet.Client();
        var interrupted = Txt2Img.PostAsync(client, Txt2Img.Request(21, "interrupted", steps: 1000));
        var running = fleet.WorkerRunningAsync("interrupted");
        // The request must still wait when its worker has it (a refusal would end it first).
        Assert.True(await Task.WhenAny(interrupted, running) == running, interrupted.IsCompleted ? interrupted.Result.Json?.ToJsonString() : "");
        while ((await Job(client, "interrupted"))["step"]!.GetValue<int>() < 3) await Task.Delay(20);
        using (var interrupt = await client.PostAsync("/sdapi/v1/interrupt", null)) Assert.Equal(HttpStatusCode.OK, interrupt.StatusCode);
        var (status, json) = await interrupted;
        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {json?.ToJsonString()}");
        Assert.NotEmpty(Txt2Img.Image(json));
        var view = await Job(client, "interrupted");
        Assert.Equal("completed", view["status"]!.GetValue<string>());
        Assert.InRange(view["step"]!.GetValue<int>(), 3, 999);

        var cancelled = Txt2Img.PostAsync(client, Txt2Img.Request(22, "cancelled", steps: 1000));
        var worker = await fleet.WorkerRunningAsync("cancelled");
        using (var delete = await client.DeleteAsync("/api/v1/jobs/cancelled")) Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        var (cancelStatus, _) = await cancelled;
        Assert.Equal(HttpStatusCode.Conflict, cancelStatus);
        // The worker stopped it (it did not run its 1000 steps) and takes the next job.
        var (next, _) = await Txt2Img.PostAsync(client, Txt2Img.Request(23, "after-cancel"));
        Assert.Equal(HttpStatusCode.OK, next);
        await worker.WaitForOutputAsync("cancelled cancelled");
        await worker.WaitForOutputAsync("after-cancel done");
    }

    [BrokerFact]
    public async Task AJobOverTheBrokersMessageLimit_IsRefusedInOneLine_ASmallerOneRuns()
    {
        await using var fleet = await Fleet.StartAsync(workers: 1, server: o => o with { BrokerMaxMessageBytes = 64 * 1024 });
        using var client = fleet.Client();
        static JsonObject Img2Img(int size, string id)
        {
            var noise = new RgbImage(size, size, new byte[size * size * 3]);
            new Random(5).NextBytes(noise.Pixels);   // noise does not compress: the PNG is about as big as the pixels
            var body = Txt2Img.Request(4, id);
            body["init_images"] = new JsonArray(Convert.ToBase64String(ImageFiles.EncodePng(noise)));
            body["denoising_strength"] = 0.5;
            return body;
        }
        async Task<(HttpStatusCode, JsonObject?)> Post(JsonObject body)
        {
            using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            using var response = await client.PostAsync("/sdapi/v1/img2img", content);
            return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())?.AsObject());
        }
        var (big, refusal) = await Post(Img2Img(256, "too-big"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big);
        string detail = refusal!["detail"]!.GetValue<string>();
        Assert.Contains("over the broker's limit of 0.1 MB", detail);
        Assert.DoesNotContain("\n", detail);
        var (small, _) = await Post(Img2Img(64, "small-enough"));
        Assert.Equal(HttpStatusCode.OK, small);
    }

    [BrokerFact]
    public async Task AWorkerOverAmqps_TakesJobs_WhenItTrustsTheBrokersCertificate_AndSaysWhyNotInOneLineWhenItDoesNot()
    {
        await using var fleet = await Fleet.StartAsync(workers: 0, tls: true);
        string amqps = fleet.Broker.Amqps!.ToString();
        string[] args = ["worker", "--broker", amqps, "--models-dir", fleet.ModelsDir, "--threads", "1", "--tokenizer", SharedData.ClipDir];
        // The test CA is in no trust store of this machine: refused at once, in one line, exit 2.
        var untrusted = Redraft.Cli.Tests.RedraftProcess.Run(args, new Dictionary<string, string?> { ["SSL_CERT_FILE"] = null }, timeoutSeconds: 60);
        Assert.Equal(2, untrusted.ExitCode);
        string message = untrusted.Stderr.Trim().Split('\n')[^1];
        Assert.Contains("the TLS connection failed", message);
        Assert.Contains("SSL_CERT_FILE", message);
        // Trusting it (SSL_CERT_FILE), the worker connects over TLS; the server publishes over plain AMQP on the same broker.
        var worker = await fleet.StartWorkerAsync("over-tls", environment: new Dictionary<string, string?> { ["SSL_CERT_FILE"] = fleet.Broker.CaFile },
            broker: fleet.Broker.Amqps);
        await fleet.WaitForWorkersAsync(1);
        using var client = fleet.Client();
        var (status, json) = await Txt2Img.PostAsync(client, Txt2Img.Request(61, "via-tls"));
        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {json?.ToJsonString()}\n{worker.Output}");
        Assert.Contains("amqps://guest:***@localhost:", worker.Output);
        await worker.WaitForOutputAsync("via-tls done");
    }

    [BrokerFact]
    public async Task AWorkerPullsItsCheckpointFromTheCatalogue_ChecksItsHash_AndServesIt()
    {
        using var hub = new FakeHub();
        await using var fleet = await Fleet.StartAsync(workers: 0);
        string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
        byte[] model = File.ReadAllBytes(Path.Combine(fleet.ModelsDir, "tiny.safetensors"));
        byte[] config = File.ReadAllBytes(Path.Combine(fleet.ModelsDir, "tiny.yaml"));
        hub.Add("test-org/fleet-model", "tiny.safetensors", new FakeHub.HubFile { Bytes = model });
        hub.Add("test-org/fleet-model", "tiny.yaml", new FakeHub.HubFile { Bytes = config, Lfs = false });
        string catalogue = Path.Combine(fleet.Folder, "catalogue.json");
        File.WriteAllText(catalogue, $$"""
            { "default": "fleet-tiny", "models": [
              { "name": "fleet-tiny", "title": "the fleet's tiny model", "role": "checkpoint", "family": "sd1",
                "files": [ { "repo": "test-org/fleet-model", "revision": "main", "path": "tiny.safetensors", "size": {{model.Length}}, "sha256": "{{Sha(model)}}" },
                           { "repo": "test-org/fleet-model", "revision": "main", "path": "tiny.yaml", "sha256": "{{Sha(config)}}" } ] } ] }
            """);
        string own = Path.Combine(fleet.Folder, "pulled");
        var environment = new Dictionary<string, string?>
        {
            ["REDRAFT_HOME"] = Path.Combine(fleet.Folder, "worker-home"),
            ["REDRAFT_CATALOGUE"] = catalogue,
            ["HF_ENDPOINT"] = hub.Endpoint.AbsoluteUri,
            ["HF_HOME"] = Path.Combine(fleet.Folder, "hf"),
            ["HF_HUB_CACHE"] = null,
            ["HF_TOKEN"] = null,
            ["HF_HUB_OFFLINE"] = null,
            ["REDRAFT_A1111_DIR"] = null,
        };
        var worker = await fleet.StartWorkerAsync("puller", own, environment, extra: ["--pull", "fleet-tiny"]);
        Assert.Equal(model, File.ReadAllBytes(Path.Combine(own, "tiny.safetensors")));
        Assert.Contains("fleet-tiny is not installed; downloading it", worker.Output);
        await fleet.WaitForWorkersAsync(1);
        Assert.Equal(Sha(model), (await fleet.WorkersView())["workers"]![0]!["models"]![0]!["sha256"]!.GetValue<string>());
        using var client = fleet.Client();
        var (status, json) = await Txt2Img.PostAsync(client, Txt2Img.Request(12, "on-pulled"));
        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {json?.ToJsonString()}\n{worker.Output}");
        await worker.WaitForOutputAsync("on-pulled done");
    }
}
