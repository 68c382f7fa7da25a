using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Redraft.Cli.Tests;
using Redraft.Imaging;
using Redraft.Server;

namespace Redraft.Bench.Canvas;

/// <summary>
/// A random-weight model written by <c>redraft make-model</c> into a temporary folder and a server on it, started through
/// <see cref="RedraftServer.StartAsync"/> (what <c>redraft serve</c> runs) on 127.0.0.1 with a free port. Disposing
/// stops the server and deletes the folder, model included (the sd21 one is 1.7 GB).
/// </summary>
public sealed class BenchServer : IAsyncDisposable
{
    private readonly string _folder;
    private readonly RunningServer _server;

    private BenchServer(string folder, RunningServer server, HttpClient client)
    {
        _folder = folder;
        _server = server;
        Client = client;
    }

    /// <summary>HTTP to the server (relative URLs).</summary>
    public HttpClient Client { get; }

    public Uri Url => _server.Url;

    /// <summary>Writes model <paramref name="preset"/> (tiny, sd21 …) and starts a server on it with <paramref name="threads"/> threads.</summary>
    public static async Task<BenchServer> Start(string preset, int threads, string vaeDType)
    {
        string folder = Directory.CreateTempSubdirectory("redraft-bench-canvas-").FullName;
        try
        {
            string models = Path.Combine(folder, "models");
            Directory.CreateDirectory(models);
            var clock = Stopwatch.StartNew();
            var made = RedraftProcess.Run(["make-model", "--preset", preset, "--seed", "1", "--out", Path.Combine(models, preset + ".safetensors")], timeoutSeconds: 1800);
            if (made.ExitCode != 0) throw new InvalidOperationException($"redraft make-model --preset {preset} failed: {made.Stderr}");
            Console.Error.WriteLine($"bench: make-model --preset {preset}: {clock.Elapsed.TotalSeconds:F0} s");
            string data = SharedFolder.DataDir();
            var server = await RedraftServer.StartAsync(new ServerOptions
            {
                Port = 0,
                ModelsDir = models,
                Model = preset,
                Threads = threads,
                VaeDType = vaeDType,
                Tokenizer = Path.Combine(data, "clip"),
                Taesd = Path.Combine(data, "taesd"),
                DocumentsDir = Path.Combine(folder, "documents"),
            }, TextWriter.Null);
            var client = new HttpClient { BaseAddress = server.Url, Timeout = TimeSpan.FromMinutes(10) };
            return new BenchServer(folder, server, client);
        }
        catch
        {
            Directory.Delete(folder, true);
            throw;
        }
    }

    /// <summary>A document made from <see cref="Sketch"/> (one layer, L1); returns its name.</summary>
    public async Task<string> CreateDocument(string name, int width, int height)
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(name), "name");
        form.Add(Png(Sketch(width, height, 1)), "image", "sketch.png");
        await Send(await Client.PostAsync("/api/v1/documents", form));
        return name;
    }

    /// <summary>Paints a <paramref name="size"/>² patch of one colour at (x, y) on layer L1: one history step.</summary>
    public async Task Paint(string name, int x, int y, int size, (byte R, byte G, byte B) colour)
    {
        var pixels = new byte[size * size * 4];
        for (int i = 0; i < pixels.Length; i += 4) (pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]) = (colour.R, colour.G, colour.B, 255);
        using var form = new MultipartFormDataContent();
        form.Add(Png(ImageFiles.EncodePng(new RgbaImage(size, size, pixels))), "patch", "patch.png");
        form.Add(new StringContent(x.ToString()), "x");
        form.Add(new StringContent(y.ToString()), "y");
        await Send(await Client.PostAsync(DocUrl(name) + "/layers/L1/paint", form));
    }

    /// <summary>The document's head state now.</summary>
    public async Task<long> State(string name) => (long)JsonNode.Parse(await Client.GetStringAsync(DocUrl(name)))!["state"]!;

    /// <summary>Its number of history steps.</summary>
    public async Task<int> Steps(string name) => JsonNode.Parse(await Client.GetStringAsync(DocUrl(name) + "/history"))!["steps"]!.AsArray().Count;

    /// <summary>Posts JSON; returns the answer's JSON (it must be a success).</summary>
    public async Task<JsonNode> PostJson(string path, JsonNode body)
    {
        var response = await Client.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        return JsonNode.Parse(await Send(response))!;
    }

    public static string DocUrl(string name) => "/api/v1/documents/" + Uri.EscapeDataString(name);

    /// <summary>A white canvas with coloured blocks, deterministic for <paramref name="seed"/> (the browser tests' sketches).</summary>
    public static byte[] Sketch(int width, int height, int seed) => Sketches.Png(width, height, seed, blocks: 6);

    private static ByteArrayContent Png(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        return content;
    }

    private static async Task<string> Send(HttpResponseMessage response)
    {
        using (response)
        {
            string text = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {text}");
            return text;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _server.DisposeAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}
