using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Redraft.Cli.Tests;
using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>
/// A models folder with two tiny checkpoints written by <c>redraft make-model</c>, and a server on it started
/// through <see cref="RedraftServer.StartAsync"/> (the code <c>redraft serve</c> runs) on 127.0.0.1 with a free port.
/// Started on first use, stopped and deleted when the tests of the collection end.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private RunningServer? _server;

    public string Folder { get; } = Directory.CreateTempSubdirectory("redraft-server-").FullName;
    public string ModelsDir => Path.Combine(Folder, "models");
    public string DocumentsDir => Path.Combine(Folder, "documents");
    public string Model => Path.Combine(ModelsDir, "tiny.safetensors");
    public string OtherModel => Path.Combine(ModelsDir, "tiny-other.safetensors");
    public static string TaesdDir => Path.Combine(SharedData.DataDir, "taesd");

    public HttpClient Client { get; } = new() { Timeout = TimeSpan.FromMinutes(5) };

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>The running server (started on first call).</summary>
    public async Task<RunningServer> Server()
    {
        await _gate.WaitAsync();
        try
        {
            if (_server is not null) return _server;
            Directory.CreateDirectory(ModelsDir);
            foreach (var (path, seed) in new[] { (Model, "3"), (OtherModel, "4") })
            {
                var made = RedraftProcess.Run("make-model", "--preset", "tiny", "--seed", seed, "--out", path);
                Assert.True(made.ExitCode == 0, made.Stderr);
            }
            _server = await RedraftServer.StartAsync(Options(), TextWriter.Null);
            Client.BaseAddress = _server.Url;
            return _server;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The options of the shared server: tiny model, one thread, the shared tokenizer and TAESD, room for the progress tests' long jobs, openOutpaint's origin allowed.</summary>
    public ServerOptions Options() => new()
    {
        MaxSteps = 1000,
        Port = 0,
        ModelsDir = ModelsDir,
        DocumentsDir = DocumentsDir,
        Model = "tiny",
        Threads = 1,
        Tokenizer = SharedData.ClipDir,
        Taesd = TaesdDir,
        // openOutpaint's page as its openOutpaint.sh serves it (ClientRequestReplayTests sends its requests from there).
        CorsAllowOrigins = ["http://127.0.0.1:3456"],
    };

    /// <summary>Posts <paramref name="body"/> (JSON text) and returns status and parsed JSON.</summary>
    public async Task<(int Status, JsonNode? Json)> Post(string path, string body)
    {
        await Server();
        using var response = await Client.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>Sends <paramref name="body"/> (JSON text) with <paramref name="method"/> and returns status and parsed JSON.</summary>
    public async Task<(int Status, JsonNode? Json)> Send(HttpMethod method, string path, string body)
    {
        await Server();
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        using var response = await Client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public async Task<(int Status, JsonNode? Json)> Get(string path)
    {
        await Server();
        using var response = await Client.GetAsync(path);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>A rank-4 LoRA (kohya naming) on the tiny model's first attention projection, in the models folder's Lora/.</summary>
    public string Lora(string name)
    {
        string path = Path.Combine(ModelsDir, "Lora", name + ".safetensors");
        if (File.Exists(path)) return path;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        WriteLora(path);
        return path;
    }

    /// <summary>Writes the LoRA of <see cref="Lora"/> to <paramref name="path"/>.</summary>
    public static void WriteLora(string path)
    {
        using var generator = new TorchSharp.torch.Generator(7);
        using var down = TorchSharp.torch.randn(new long[] { 4, 32 }, generator: generator) * 0.5f;
        using var up = TorchSharp.torch.randn(new long[] { 32, 4 }, generator: generator) * 0.5f;
        Redraft.Diffusion.Checkpoints.LoraWriter.Write(path,
            [new Redraft.Diffusion.Checkpoints.LoraWeights("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight", down, up, 4)],
            Redraft.Diffusion.Checkpoints.LoraNaming.Kohya, unetResBlocks: 1);
    }

    public string NewFolder()
    {
        string path = Path.Combine(Folder, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        Client.Dispose();
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    /// <summary>One server for these tests, which run one after another (progress and interrupt see only their own job).</summary>
    public const string Name = "server with tiny model";
}
