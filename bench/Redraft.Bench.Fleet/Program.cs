using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Redraft.Bench.Canvas;
using Redraft.Broker;
using Redraft.Broker.Tests;
using Redraft.Cli.Tests;
using Redraft.Server;
using Redraft.Tests.Shared;

// The fleet benchmark: a private RabbitMQ node, a server with --broker and `redraft worker` processes (--threads 1),
// against a server without a broker (--threads 1) on the same tiny random-weight model. Prints a Markdown table.
var options = Args(args);
int jobs = options.GetValueOrDefault("jobs", 24), steps = options.GetValueOrDefault("steps", 20), rounds = options.GetValueOrDefault("rounds", 3);
int overheadJobs = options.GetValueOrDefault("overhead-jobs", 10), overheadSteps = options.GetValueOrDefault("overhead-steps", 2);
string data = SharedFolder.DataDir();
string folder = Directory.CreateTempSubdirectory("redraft-bench-fleet-").FullName;
var workers = new List<WorkerProcess>();
RunningServer? fleetServer = null, localServer = null;
await using var broker = await RabbitBroker.StartAsync();
try
{
    string models = Path.Combine(folder, "models");
    Directory.CreateDirectory(models);
    var made = RedraftProcess.Run("make-model", "--preset", "tiny", "--seed", "3", "--out", Path.Combine(models, "tiny.safetensors"));
    if (made.ExitCode != 0) throw new InvalidOperationException(made.Stderr);
    ServerOptions Server(bool viaBroker) => new()
    {
        Port = 0, ModelsDir = models, DocumentsDir = Path.Combine(folder, viaBroker ? "docs-fleet" : "docs-local"), Model = "tiny", Threads = 1,
        Tokenizer = Path.Combine(data, "clip"), Taesd = Path.Combine(data, "taesd"), MaxSteps = 1000,
        ApiAuth = ["a:a", "b:b", "c:c", "d:d"], Broker = viaBroker ? BrokerAddress.Parse(broker.Amqp.ToString()) : null,
    };
    localServer = await RedraftServer.StartAsync(Server(false), TextWriter.Null);
    fleetServer = await RedraftServer.StartAsync(Server(true), TextWriter.Null);
    async Task AddWorker()
    {
        workers.Add(await WorkerProcess.StartAsync($"bench-{workers.Count + 1}", "--broker", broker.Amqp.ToString(), "--models-dir", models,
            "--threads", "1", "--tokenizer", Path.Combine(data, "clip"), "--taesd", Path.Combine(data, "taesd")));
        using var c = Client(fleetServer.Url, "a");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (JsonNode.Parse(await c.GetStringAsync("/api/v1/workers"))!["workers"]!.AsArray().Count < workers.Count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("a worker did not show up in /api/v1/workers");
            await Task.Delay(100);
        }
    }
    await AddWorker();
    // Warm-up: every process loads the model and the prompt path once.
    await Sequential(localServer.Url, 2, steps);
    await Sequential(fleetServer.Url, 2, steps);

    var overhead = new List<double>();
    var local1 = new List<double>();
    var fleet1 = new List<double>();
    var fleet2 = new List<double>();
    for (int r = 0; r < rounds; r++)
    {
        var l = await Sequential(localServer.Url, overheadJobs, overheadSteps);
        var f = await Sequential(fleetServer.Url, overheadJobs, overheadSteps);
        overhead.Add(Stats.MedianOf(f) - Stats.MedianOf(l));
        local1.Add(await Throughput(localServer.Url, jobs, steps));
        fleet1.Add(await Throughput(fleetServer.Url, jobs, steps));
    }
    await AddWorker();
    await Sequential(fleetServer.Url, 4, steps);   // the second worker's warm-up (and the first's again)
    for (int r = 0; r < rounds; r++) fleet2.Add(await Throughput(fleetServer.Url, jobs, steps));

    string F(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);
    Console.WriteLine($"command: tools/bench-fleet.sh {string.Join(' ', args)}");
    Console.WriteLine($"tiny model, txt2img 64x64, Euler a; {jobs} jobs from 4 clients per throughput run ({steps} steps); median of {rounds} rounds; " +
        $"{Environment.ProcessorCount} cores; every generating process --threads 1");
    Console.WriteLine();
    Console.WriteLine("| measure | value |");
    Console.WriteLine("| --- | --- |");
    Console.WriteLine($"| in-process server, jobs/s | {F(Stats.MedianOf(local1))} |");
    Console.WriteLine($"| broker, 1 worker, jobs/s | {F(Stats.MedianOf(fleet1))} ({F(Stats.MedianOf(fleet1) / Stats.MedianOf(local1))}x in-process) |");
    Console.WriteLine($"| broker, 2 workers, jobs/s | {F(Stats.MedianOf(fleet2))} ({F(Stats.MedianOf(fleet2) / Stats.MedianOf(fleet1))}x 1 worker) |");
    Console.WriteLine($"| broker overhead per job ({overheadSteps}-step jobs one after another, median latency minus in-process) | {Stats.MedianOf(overhead):0.0} ms (rounds: {string.Join(", ", overhead.Select(o => o.ToString("0.0", CultureInfo.InvariantCulture)))}) |");
}
finally
{
    foreach (var w in workers) w.Dispose();
    if (fleetServer is not null) await fleetServer.DisposeAsync();
    if (localServer is not null) await localServer.DisposeAsync();
    try { Directory.Delete(folder, true); } catch (IOException) { }
}
return 0;

static HttpClient Client(Uri url, string user)
{
    var client = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromMinutes(10) };
    client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{user}")));
    return client;
}

static async Task<double> Txt2Img(HttpClient client, long seed, int steps)
{
    var body = new JsonObject { ["prompt"] = $"a harbour at night {seed}", ["seed"] = seed, ["steps"] = steps, ["width"] = 64, ["height"] = 64, ["sampler_name"] = "Euler a" };
    var clock = Stopwatch.StartNew();
    using var response = await client.PostAsync("/sdapi/v1/txt2img", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
    string text = await response.Content.ReadAsStringAsync();
    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"txt2img: {(int)response.StatusCode} {text}");
    return clock.Elapsed.TotalMilliseconds;
}

// Latency of jobs sent one after another (nothing else queued).
static async Task<List<double>> Sequential(Uri url, int count, int steps)
{
    using var client = Client(url, "a");
    var times = new List<double>();
    for (int i = 0; i < count; i++) times.Add(await Txt2Img(client, 100 + i, steps));
    return times;
}

// Jobs per second of `count` jobs sent at once by four clients.
static async Task<double> Throughput(Uri url, int count, int steps)
{
    var clients = new[] { "a", "b", "c", "d" }.Select(u => Client(url, u)).ToArray();
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, count).Select(i => Txt2Img(clients[i % 4], 500 + i, steps)));
    double seconds = clock.Elapsed.TotalSeconds;
    foreach (var c in clients) c.Dispose();
    return count / seconds;
}

static Dictionary<string, int> Args(string[] args)
{
    var result = new Dictionary<string, int>();
    for (int i = 0; i + 1 < args.Length; i += 2)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal) || !int.TryParse(args[i + 1], out int v) || v < 1)
            throw new ArgumentException($"usage: tools/bench-fleet.sh [--jobs N] [--steps N] [--rounds N] [--overhead-jobs N] [--overhead-steps N]; got {args[i]} {args[i + 1]}");
        result[args[i][2..]] = v;
    }
    return result;
}
