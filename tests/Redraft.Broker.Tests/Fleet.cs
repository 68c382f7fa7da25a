using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;
using Redraft.Server;
using Redraft.Cli.Tests;
using Redraft.Tests.Shared;

namespace Redraft.Broker.Tests;

/// <summary>
/// A fleet for one test, all real: a private RabbitMQ node, a server started with <c>--broker</c> (in-process, on a free
/// port of 127.0.0.1), and <c>redraft worker</c> processes on the tiny model; plus a server without a broker on the
/// same files, whose answers the fleet's must equal byte for byte. Four users (HTTP Basic) stand for four clients.
/// Everything is stopped and deleted on dispose, also when the test failed.
/// </summary>
public sealed class Fleet : IAsyncDisposable
{
    private readonly List<WorkerProcess> _workers = [];
    private readonly StringWriter _serverLog = new();
    private RunningServer? _server;
    private RunningServer? _local;

    private Fleet(RabbitBroker broker) => Broker = broker;

    /// <summary>The users the server accepts, one per client.</summary>
    public static readonly string[] Users = ["alice", "bob", "carol", "dave"];

    public RabbitBroker Broker { get; }
    public string Folder { get; } = Directory.CreateTempSubdirectory("redraft-fleet-").FullName;
    public string ModelsDir => Path.Combine(Folder, "models");
    public IReadOnlyList<WorkerProcess> Workers => _workers;

    /// <summary>The server's log (publishing failures, dropped duplicate results).</summary>
    public string ServerLog
    {
        get { lock (_serverLog) return _serverLog.ToString(); }
    }

    /// <summary>Starts the broker (with a TLS listener too when <paramref name="tls"/>), the tiny model (and <paramref name="prepare"/>'s extra files), the server and <paramref name="workers"/> workers.</summary>
    public static async Task<Fleet> StartAsync(int workers, Action<string>? prepare = null, Func<ServerOptions, ServerOptions>? server = null, bool tls = false)
    {
        var fleet = new Fleet(await RabbitBroker.StartAsync(tls));
        try
        {
            Directory.CreateDirectory(fleet.ModelsDir);
            var made = RedraftProcess.Run("make-model", "--preset", "tiny", "--seed", "3", "--out", Path.Combine(fleet.ModelsDir, "tiny.safetensors"));
            Assert.True(made.ExitCode == 0, made.Stderr);
            prepare?.Invoke(fleet.ModelsDir);
            var options = fleet.Options(broker: true);
            fleet._server = await RedraftServer.StartAsync(server?.Invoke(options) ?? options, TextWriter.Synchronized(fleet._serverLog));
            for (int i = 1; i <= workers; i++) await fleet.StartWorkerAsync($"worker-{i}");
            await fleet.WaitForWorkersAsync(workers);
            return fleet;
        }
        catch
        {
            await fleet.DisposeAsync();
            throw;
        }
    }

    private ServerOptions Options(bool broker) => new()
    {
        Port = 0,
        ModelsDir = ModelsDir,
        DocumentsDir = Path.Combine(Folder, broker ? "documents" : "documents-local"),
        OptionsFile = null,
        Model = "tiny",
        Threads = 1,
        MaxSteps = 2000,
        Tokenizer = SharedData.ClipDir,
        Taesd = Path.Combine(SharedData.DataDir, "taesd"),
        ApiAuth = [.. Users.Select(u => $"{u}:{u}-secret")],
        Broker = broker ? BrokerAddress.Parse(Broker.Amqp.ToString()) : null,
    };

    /// <summary>
    /// Starts one more worker on the fleet's models (or those of <paramref name="modelsDir"/>), with
    /// <paramref name="extra"/> options and <paramref name="environment"/>.
    /// </summary>
    public async Task<WorkerProcess> StartWorkerAsync(string name, string? modelsDir = null, IReadOnlyDictionary<string, string?>? environment = null,
        Uri? broker = null, params string[] extra)
    {
        var worker = await WorkerProcess.StartAsync(name, environment, ["--broker", (broker ?? Broker.Amqp).ToString(), "--models-dir", modelsDir ?? ModelsDir, "--threads", "1",
            "--tokenizer", SharedData.ClipDir, "--taesd", Path.Combine(SharedData.DataDir, "taesd"), .. extra]);
        _workers.Add(worker);
        return worker;
    }

    /// <summary>A client of the fleet's server, logged in as <paramref name="user"/>.</summary>
    public HttpClient Client(string user = "alice") => NewClient(_server!.Url, user);

    /// <summary>A client of the server without a broker (started on first use) on the same model files.</summary>
    public async Task<HttpClient> LocalClientAsync()
    {
        _local ??= await RedraftServer.StartAsync(Options(broker: false), TextWriter.Null);
        return NewClient(_local.Url, Users[0]);
    }

    private static HttpClient NewClient(Uri url, string user)
    {
        var client = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromMinutes(5) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{user}-secret")));
        return client;
    }

    /// <summary>A second tiny checkpoint, <c>other.safetensors</c> (other weights), in the models folder: give it to <see cref="StartAsync"/>.</summary>
    public static void AddOtherModel(string models)
    {
        var made = RedraftProcess.Run("make-model", "--preset", "tiny", "--seed", "4", "--out", Path.Combine(models, "other.safetensors"));
        Assert.True(made.ExitCode == 0, made.Stderr);
    }

    /// <summary>The server's <c>/api/v1/workers</c>.</summary>
    public async Task<JsonObject> WorkersView()
    {
        using var client = Client();
        return JsonNode.Parse(await client.GetStringAsync("/api/v1/workers"))!.AsObject();
    }

    /// <summary>Waits until the server has heard from <paramref name="count"/> workers that take jobs.</summary>
    public async Task WaitForWorkersAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        JsonObject view;
        do
        {
            view = await WorkersView();
            if (view["workers"]!.AsArray().Count(w => !w!["stopping"]!.GetValue<bool>()) == count) return;
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"the server did not hear from {count} workers in 60 s: {view.ToJsonString()}");
    }

    /// <summary>Waits until a worker says it runs job <paramref name="id"/> and returns that worker.</summary>
    public async Task<WorkerProcess> WorkerRunningAsync(string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var running = (await WorkersView())["workers"]!.AsArray().FirstOrDefault(w => w!["current_job"]?.GetValue<string>() == id);
            if (running is not null) return _workers.Single(w => w.Name == running["name"]!.GetValue<string>());
            await Task.Delay(50);
        }
        throw new TimeoutException($"no worker reported running {id} within 60 s:\n{WorkerOutput()}");
    }

    /// <summary>Messages in a queue of the broker (ready + unacknowledged), from <c>rabbitmqctl list_queues</c>.</summary>
    public async Task<int> MessagesIn(string queue)
    {
        var (code, output) = await Broker.RunToolAsync("rabbitmqctl", "-n", Broker.NodeName, "list_queues", "-q", "--no-table-headers", "name", "messages");
        Assert.True(code == 0, output);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split('\t', ' ');
            if (parts[0] == queue) return int.Parse(parts[^1]);
        }
        throw new InvalidOperationException($"the broker has no queue {queue}: {output}");
    }

    /// <summary>Everything the workers printed, for failure messages.</summary>
    public string WorkerOutput() => string.Join("\n", _workers.Select(w => $"--- {w.Name}:\n{w.Output}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in _workers) worker.Dispose();
        if (_server is not null) await _server.DisposeAsync();
        if (_local is not null) await _local.DisposeAsync();
        await Broker.DisposeAsync();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>txt2img requests and their answers, for the fleet tests.</summary>
public static class Txt2Img
{
    /// <summary>A small txt2img request (64×64, tiny model) with a fixed seed and task id.</summary>
    public static JsonObject Request(long seed, string taskId, int steps = 3) => new()
    {
        ["prompt"] = $"a lighthouse at dusk {seed}",
        ["seed"] = seed,
        ["steps"] = steps,
        ["width"] = 64,
        ["height"] = 64,
        ["sampler_name"] = "Euler a",
        ["force_task_id"] = taskId,
    };

    /// <summary>Posts a txt2img and returns the status and the answer.</summary>
    public static async Task<(HttpStatusCode Status, JsonObject? Json)> PostAsync(HttpClient client, JsonObject request, CancellationToken ct = default)
    {
        using var content = new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("/sdapi/v1/txt2img", content, ct);
        string text = await response.Content.ReadAsStringAsync(ct);
        return (response.StatusCode, text.Length > 0 ? JsonNode.Parse(text)?.AsObject() : null);
    }

    /// <summary>The first image of an answer (base64 PNG, as sent).</summary>
    public static string Image(JsonObject? answer) => answer!["images"]!.AsArray()[0]!.GetValue<string>();
}
