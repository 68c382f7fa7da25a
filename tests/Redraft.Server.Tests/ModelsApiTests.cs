using System.Diagnostics;
using System.Text.Json.Nodes;
using Redraft.Cli.Tests;
using Redraft.Diffusion.Tests;
using Redraft.Models;
using Redraft.Tests.Shared;

namespace Redraft.Server.Tests;

/// <summary>
/// The server's models: those in a Hugging Face cache and an AUTOMATIC1111 folder are offered in place, and catalogue
/// downloads (<c>/api/v1/models</c>) run in a queue of their own, beside generations, against a fake hub.
/// </summary>
public sealed class ModelsApiTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("redraft-models-api-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_root, true); } catch (IOException) { }
    }

    private static void MakeTiny(string path, string seed = "3")
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var made = RedraftProcess.Run("make-model", "--preset", "tiny", "--seed", seed, "--out", path);
        Assert.True(made.ExitCode == 0, made.Stderr);
    }

    private static string CacheFile(string cache, string repo, string path, byte[] bytes) => HuggingFaceCacheLayout.CacheFile(cache, repo, path, bytes);

    private static ModelCatalogue Catalogue(string name, string repo, string path) => ModelCatalogue.Parse($$"""
        { "default": "{{name}}", "models": [ { "name": "{{name}}", "title": "a test model", "role": "checkpoint", "family": "sd1",
          "licence": { "name": "Test Licence", "url": "https://example.invalid/licence", "acceptance": false },
          "files": [ { "repo": "{{repo}}", "revision": "main", "path": "{{path}}", "sha256": null } ] } ] }
        """, "test");

    /// <summary>
    /// A server on the tiny model whose catalogue has one model, "dl" (another tiny model), served by a fake hub that
    /// takes about <paramref name="seconds"/> to send it (64 KiB chunks).
    /// </summary>
    private async Task<(string Models, byte[] Bytes, FakeHub Hub, OwnServer Server)> ThrottledDownload(double seconds)
    {
        string models = Path.Combine(_root, "models");
        MakeTiny(Path.Combine(models, "tiny.safetensors"));
        string served = Path.Combine(_root, "served", "dl-tiny.safetensors");
        MakeTiny(served, "5");
        byte[] bytes = File.ReadAllBytes(served);
        var hub = new FakeHub();
        hub.Add("test-org/dl", "dl-tiny.safetensors", new FakeHub.HubFile { Bytes = bytes, ChunkDelay = TimeSpan.FromSeconds(seconds / Math.Max(1, bytes.Length / 65536)) });
        var server = await OwnServer.Start(new ServerOptions
        {
            ModelsDir = models,
            Model = "tiny",
            Hub = new HubEnvironment { Endpoint = hub.Endpoint, HubCache = Path.Combine(_root, "hf", "hub") },
            Catalogue = Catalogue("dl", "test-org/dl", "dl-tiny.safetensors"),
            Threads = 1,
            Tokenizer = SharedData.ClipDir,
        });
        return (models, bytes, hub, server);
    }

    private static string Txt2Img(string model) =>
        $$$"""{"prompt": "a cat", "steps": 2, "width": 64, "height": 64, "seed": 1, "override_settings": {"sd_model_checkpoint": "{{{model}}}"}}""";

    [Fact]
    public async Task ModelsInAHuggingFaceCacheAndAnA1111FolderAreListedUsedInPlaceAndRefreshed()
    {
        string made = Path.Combine(_root, "made", "tiny.safetensors");
        MakeTiny(made);
        byte[] tiny = File.ReadAllBytes(made);
        string cache = Path.Combine(_root, "hf", "hub"), a1111 = Path.Combine(_root, "webui"), models = Path.Combine(_root, "models");
        string cached = CacheFile(cache, "test-org/tiny", "tiny.safetensors", tiny);
        string webuiCheckpoints = Path.Combine(a1111, "models", "Stable-diffusion");
        Directory.CreateDirectory(Path.Combine(webuiCheckpoints, "sub"));
        File.Copy(made, Path.Combine(webuiCheckpoints, "sub", "webui-tiny.safetensors"));
        Directory.CreateDirectory(Path.Combine(a1111, "models", "VAE"));
        File.Copy(made, Path.Combine(a1111, "models", "VAE", "webui-vae.safetensors"));
        Directory.CreateDirectory(Path.Combine(a1111, "models", "Lora"));
        File.Copy(made, Path.Combine(a1111, "models", "Lora", "webui-lora.safetensors"));

        await using var server = await OwnServer.Start(new ServerOptions
        {
            ModelsDir = models,
            A1111Dir = a1111,
            Hub = new HubEnvironment { Endpoint = new Uri("http://127.0.0.1:9"), HubCache = cache, Offline = true },
            Catalogue = Catalogue("tiny", "test-org/tiny", "tiny.safetensors"),
            Threads = 1,
            Tokenizer = SharedData.ClipDir,
        });

        var (_, list) = await server.Get("/sdapi/v1/sd-models");
        var byName = list!.AsArray().ToDictionary(m => m!["model_name"]!.GetValue<string>(), m => m!["filename"]!.GetValue<string>());
        Assert.Equal(cached, byName["tiny"]);
        Assert.Equal(Path.Combine(webuiCheckpoints, "sub", "webui-tiny.safetensors"), byName["sub_webui-tiny"]);
        var (_, vaes) = await server.Get("/sdapi/v1/sd-vae");
        Assert.Contains(vaes!.AsArray(), v => v!["model_name"]!.GetValue<string>() == "webui-vae.safetensors");
        var (_, loras) = await server.Get("/sdapi/v1/loras");
        Assert.Contains(loras!.AsArray(), l => l!["name"]!.GetValue<string>() == "webui-lora");

        // Requests use them where they are.
        var (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img("sub/webui-tiny"));
        Assert.True(status == 200, json?.ToJsonString());
        (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img("tiny"));
        Assert.True(status == 200, json?.ToJsonString());

        // The catalogue sees its model in the cache.
        var (_, catalogue) = await server.Get("/api/v1/models");
        var entry = Assert.Single(catalogue!.AsArray())!;
        Assert.True(entry["installed"]!.GetValue<bool>());
        Assert.Equal("huggingface-cache", entry["source"]!.GetValue<string>());
        Assert.Equal(cached, entry["installed_path"]!.GetValue<string>());
        Assert.Equal(tiny.Length, entry["installed_size"]!.GetValue<long>());

        // A checkpoint added to the A1111 folder is offered after refresh-checkpoints.
        File.Copy(made, Path.Combine(webuiCheckpoints, "later.safetensors"));
        Assert.Equal(200, (await server.Post("/sdapi/v1/refresh-checkpoints", "")).Status);
        (_, list) = await server.Get("/sdapi/v1/sd-models");
        Assert.Contains(list!.AsArray(), m => m!["model_name"]!.GetValue<string>() == "later");

        Assert.False(Directory.Exists(models), "nothing is created under the models folder");
    }

    [Fact]
    public async Task ADownloadJobRunsWhileAGenerationRunsAndBothFinish()
    {
        // Slow enough that a generation starts and ends while it arrives.
        var (models, bytes, hub, server) = await ThrottledDownload(seconds: 6);
        using var _ = hub;
        await using var __ = server;
        var (_, before) = await server.Get("/api/v1/models");
        Assert.False(Assert.Single(before!.AsArray())!["installed"]!.GetValue<bool>());
        Assert.Equal(404, (await server.Post("/api/v1/models", """{"name": "no-such-model"}""")).Status);

        var (accepted, answer) = await server.Post("/api/v1/models", """{"name": "dl"}""");
        Assert.Equal(202, accepted);
        string statusUrl = answer!["status_url"]!.GetValue<string>();
        // Asking again while it runs answers the same download.
        Assert.Equal(answer["id"]!.GetValue<string>(), (await server.Post("/api/v1/models", """{"name": "dl"}""")).Json!["id"]!.GetValue<string>());

        JsonNode progress = (await server.Get(statusUrl)).Json!;
        var wait = Stopwatch.StartNew();
        while (progress["bytes"]!.GetValue<long>() == 0 && wait.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(20);
            progress = (await server.Get(statusUrl)).Json!;
        }
        Assert.Equal("running", progress["state"]!.GetValue<string>());

        var generationStarted = DateTimeOffset.UtcNow;
        var (generated, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img("tiny"));
        var generationEnded = DateTimeOffset.UtcNow;
        Assert.True(generated == 200, json?.ToJsonString());
        var during = (await server.Get(statusUrl)).Json!;
        Assert.Equal("running", during["state"]!.GetValue<string>());   // the generation did not wait for the download

        while (during["state"]!.GetValue<string>() is "queued" or "running" && wait.Elapsed < TimeSpan.FromSeconds(90))
        {
            await Task.Delay(50);
            during = (await server.Get(statusUrl)).Json!;
        }
        Assert.True(during["state"]!.GetValue<string>() == "done", during.ToJsonString());
        Assert.Equal(bytes.Length, during["bytes"]!.GetValue<long>());
        Assert.True(during["started_at"]!.GetValue<DateTimeOffset>() < generationEnded && during["finished_at"]!.GetValue<DateTimeOffset>() > generationStarted,
            "the download and the generation overlapped in time");
        string path = during["path"]!.GetValue<string>();
        Assert.Equal(Path.Combine(models, "dl-tiny.safetensors"), path);
        Assert.Equal(bytes, File.ReadAllBytes(path));

        // The downloaded checkpoint is offered and usable at once; the catalogue says it is Redraft's.
        var (_, list) = await server.Get("/sdapi/v1/sd-models");
        Assert.Contains(list!.AsArray(), m => m!["model_name"]!.GetValue<string>() == "dl-tiny");
        (generated, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img("dl-tiny"));
        Assert.True(generated == 200, json?.ToJsonString());
        var (_, after) = await server.Get("/api/v1/models");
        var entry = Assert.Single(after!.AsArray())!;
        Assert.True(entry["installed"]!.GetValue<bool>());
        Assert.Equal("redraft", entry["source"]!.GetValue<string>());
        Assert.Equal(404, (await server.Get("/api/v1/models/downloads/nope")).Status);
    }

    [Fact]
    public async Task ACancelledDownloadLeavesItsPartFile_AndTheNextDownloadResumesIt()
    {
        // About three seconds on the wire, so the cancel lands mid-file.
        var (models, bytes, hub, server) = await ThrottledDownload(seconds: 3);
        using var _ = hub;
        await using var __ = server;
        string target = Path.Combine(models, "dl-tiny.safetensors");

        var (_, first) = await server.Post("/api/v1/models", """{"name": "dl"}""");
        string statusUrl = first!["status_url"]!.GetValue<string>();
        var wait = Stopwatch.StartNew();
        while ((await server.Get(statusUrl)).Json!["bytes"]!.GetValue<long>() == 0 && wait.Elapsed < TimeSpan.FromSeconds(30))
            await Task.Delay(20);
        var (status, cancelled) = await server.Delete(statusUrl);
        Assert.Equal(200, status);
        while (cancelled!["state"]!.GetValue<string>() == "running" && wait.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(20);
            cancelled = (await server.Get(statusUrl)).Json;
        }
        Assert.True(cancelled!["state"]!.GetValue<string>() == "cancelled", cancelled.ToJsonString());
        Assert.Contains(".part", cancelled["error"]!.GetValue<string>());
        Assert.False(File.Exists(target));
        long kept = new FileInfo(target + ".part").Length;
        Assert.InRange(kept, 1, bytes.Length - 1);
        Assert.Equal(404, (await server.Delete("/api/v1/models/downloads/nope")).Status);

        // The next download is a new one that asks only for the rest.
        var (_, second) = await server.Post("/api/v1/models", """{"name": "dl"}""");
        Assert.NotEqual(first["id"]!.GetValue<string>(), second!["id"]!.GetValue<string>());
        JsonNode progress = (await server.Get(second["status_url"]!.GetValue<string>())).Json!;
        while (progress["state"]!.GetValue<string>() is "queued" or "running" && wait.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(50);
            progress = (await server.Get(second["status_url"]!.GetValue<string>())).Json!;
        }
        Assert.True(progress["state"]!.GetValue<string>() == "done", progress.ToJsonString());
        Assert.Equal(bytes, File.ReadAllBytes(target));
        Assert.Contains(hub.Gets, r => r.Host == "cdn" && r.Range is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range != "bytes=0-");
        // Cancelling a download that has ended changes nothing.
        var (again, ended) = await server.Delete(second["status_url"]!.GetValue<string>());
        Assert.Equal(200, again);
        Assert.Equal("done", ended!["state"]!.GetValue<string>());
    }
}
