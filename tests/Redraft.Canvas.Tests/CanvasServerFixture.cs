using System.Text.Json.Nodes;
using Redraft.Cli.Tests;
using Redraft.Diffusion.Tests;
using Redraft.Server;

namespace Redraft.Canvas.Tests;

/// <summary>
/// A tiny checkpoint written by <c>redraft make-model</c> and a server on it, started through
/// <see cref="RedraftServer.StartAsync"/> (what <c>redraft serve</c> runs) on 127.0.0.1 with a free port. Started on
/// first use; stopped, and its folder deleted, when the collection ends.
/// </summary>
public sealed class CanvasServerFixture : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Func<ServerOptions, ServerOptions> _adjust;
    private RunningServer? _server;

    /// <summary>The shared server of the page's tests.</summary>
    public CanvasServerFixture() : this(o => o)
    {
    }

    /// <summary>A server of a test's own, with options changed by <paramref name="adjust"/> (a fake hub, a catalogue).</summary>
    internal CanvasServerFixture(Func<ServerOptions, ServerOptions> adjust)
    {
        _adjust = adjust;
    }

    public string Folder { get; } = Directory.CreateTempSubdirectory("redraft-canvas-").FullName;

    public HttpClient Client { get; } = new() { Timeout = TimeSpan.FromMinutes(5) };

    /// <summary>Where the server keeps its documents (each test makes its own, under a name of its own).</summary>
    public string DocumentsDir => Path.Combine(Folder, "documents");

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>The running server's base URL (started on the first call).</summary>
    public async Task<Uri> Url()
    {
        await _gate.WaitAsync();
        try
        {
            if (_server is not null) return _server.Url;
            string models = Path.Combine(Folder, "models");
            Directory.CreateDirectory(models);
            var made = RedraftProcess.Run("make-model", "--preset", "tiny", "--seed", "3", "--out", Path.Combine(models, "tiny.safetensors"));
            Assert.True(made.ExitCode == 0, made.Stderr);
            _server = await RedraftServer.StartAsync(_adjust(new ServerOptions
            {
                // Room for the queue test's long job, which is interrupted once the page has shown it.
                MaxSteps = 1000,
                Port = 0,
                ModelsDir = models,
                Model = "tiny",
                Threads = 1,
                Tokenizer = SharedData.ClipDir,
                // Live previews come from TAESD (the real weights in ../shared/data/taesd).
                Taesd = Path.Combine(SharedData.DataDir, "taesd"),
                DocumentsDir = DocumentsDir,
            }), TextWriter.Null);
            Client.BaseAddress = _server.Url;
            return _server.Url;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Posts <paramref name="body"/> as JSON; the answer must be 200 and JSON.</summary>
    public async Task<JsonNode> Post(string path, string body)
    {
        await Url();
        using var response = await Client.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    /// <summary>GETs <paramref name="path"/>; the answer must be 200 and JSON.</summary>
    public async Task<JsonNode> Get(string path)
    {
        await Url();
        string text = await Client.GetStringAsync(path);
        return JsonNode.Parse(text)!;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        Client.Dispose();
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class CanvasCollection : ICollectionFixture<CanvasServerFixture>, ICollectionFixture<BrowserFixture>
{
    /// <summary>One server and one browser for the page's tests, which run one after another (the queue test sees only its own job).</summary>
    public const string Name = "page in chromium on the tiny model";
}
