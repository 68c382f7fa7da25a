using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Redraft.Server;
using Redraft.Studio.Generation;

namespace Redraft.Cli.Bench;

/// <summary>
/// What the A1111 API costs over calling <see cref="GenerationService"/> directly, and what a long-running server's
/// memory does. Overhead: the same small txt2img alternately through <see cref="GenerationService.GenerateAsync"/>
/// and as a POST to an in-process server (both in this process, same model file and threads), so machine noise hits
/// both alike. Memory: a real <c>redraft serve</c> child process, its resident size read from <c>/proc</c> at start,
/// its peak during single requests (the peak counter reset before each), and after 20 and 200 requests from
/// concurrent clients.
/// </summary>
internal static class ServerBench
{
    /// <summary>The bench's request, sized by the caller.</summary>
    private sealed record Shape(int Size, int Steps);

    public static async Task RunAsync(string model, string? tokenizer, int? threads, int size, int steps, int runs, int requests, int clients,
        TextWriter output, CancellationToken ct)
    {
        var shape = new Shape(size, steps);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"server bench: {Path.GetFileName(model)}, txt2img {size}×{size}, {steps} steps, Euler, {threads?.ToString(CultureInfo.InvariantCulture) ?? "default"} thread(s)"));
        await OverheadAsync(model, tokenizer, threads, shape, runs, output, ct);
        await MemoryAsync(model, tokenizer, threads, shape, requests, clients, output, ct);
    }

    private static async Task OverheadAsync(string model, string? tokenizer, int? threads, Shape shape, int runs, TextWriter output, CancellationToken ct)
    {
        using var service = new GenerationService();
        var settings = new GenerationSettings
        {
            Prompt = "a cottage by a lake",
            Model = model,
            Tokenizer = tokenizer,
            Threads = threads,
            Width = shape.Size,
            Height = shape.Size,
            Steps = shape.Steps,
            Cfg = 7,
            Sampler = "Euler",
            Seed = 1,
            PreviewEvery = 0,
        };
        var options = new ServerOptions
        {
            Port = 0,
            ModelsDir = Path.GetDirectoryName(Path.GetFullPath(model))!,
            Model = model,
            Threads = threads,
            Tokenizer = tokenizer,
        };
        await using var server = await RedraftServer.StartAsync(options, TextWriter.Null, ct);
        using var http = new HttpClient { BaseAddress = server.Url, Timeout = TimeSpan.FromMinutes(10) };
        string body = Body(shape, seed: 1);

        async Task<double> Direct()
        {
            var clock = Stopwatch.StartNew();
            await service.GenerateAsync(settings, ct: ct);
            return clock.Elapsed.TotalMilliseconds;
        }
        async Task<double> Api()
        {
            var clock = Stopwatch.StartNew();
            using var response = await http.PostAsync("/sdapi/v1/txt2img", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), ct);
            var json = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"the server answered {(int)response.StatusCode}: {json?.ToJsonString()}");
            return clock.Elapsed.TotalMilliseconds;
        }

        for (int i = 0; i < 2; i++)
        {
            await Direct();
            await Api();
        }
        var direct = new List<double>();
        var api = new List<double>();
        var overhead = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            double d = await Direct(), a = await Api();
            direct.Add(d);
            api.Add(a);
            overhead.Add(a - d);
        }
        output.WriteLine($"{runs} alternating runs after 2 warm-ups of each; the server's GenerationService has its own model copy");
        output.WriteLine("| row | median ms | min–max ms |");
        output.WriteLine("| --- | --- | --- |");
        Row(output, "GenerationService.GenerateAsync", direct);
        Row(output, "POST /sdapi/v1/txt2img, round trip", api);
        Row(output, "API overhead (pairwise difference)", overhead);
    }

    private static async Task MemoryAsync(string model, string? tokenizer, int? threads, Shape shape, int requests, int clients, TextWriter output, CancellationToken ct)
    {
        if (!OperatingSystem.IsLinux())
        {
            output.WriteLine("memory rows need Linux's /proc; skipped");
            return;
        }
        using var server = StartServeProcess(model, tokenizer, threads);
        try
        {
            var url = await ReadUrlAsync(server, ct);
            using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromMinutes(10) };
            long atStart = Status(server.Id, "VmRSS");

            // Peak during one request: the kernel's high-water mark, reset before each request (clear_refs 5).
            const int single = 5;
            var peaks = new List<double>();
            for (int i = 0; i < single; i++)
            {
                long before = Status(server.Id, "VmRSS");
                ResetPeak(server.Id);
                await PostAsync(http, Body(shape, seed: 100 + i), ct);
                peaks.Add(Status(server.Id, "VmHWM") - before);
            }
            int sent = single;
            long after20 = 0;
            while (sent < requests)
            {
                int batch = Math.Min(sent < 20 ? 20 - sent : requests - sent, clients);
                await Task.WhenAll(Enumerable.Range(0, batch).Select(i => PostAsync(http, Body(shape, seed: 1000 + sent + i), ct)));
                sent += batch;
                if (sent == 20) after20 = Status(server.Id, "VmRSS");
            }
            long atEnd = Status(server.Id, "VmRSS");
            output.WriteLine($"redraft serve (child process {server.Id}), {requests} requests, up to {clients} at once:");
            output.WriteLine("| server RSS | MB |");
            output.WriteLine("| --- | --- |");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| after start (model loaded) | {Mb(atStart):F0} |"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| peak during one request, over the RSS before it (median of {single}; min–max) | {Timing.Median(peaks) / 1024:F0} ({peaks.Min() / 1024:F0}–{peaks.Max() / 1024:F0}) |"));
            if (requests >= 20) output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| after 20 requests | {Mb(after20):F0} |"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| after {requests} requests | {Mb(atEnd):F0} |"));
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync(CancellationToken.None);
        }
    }

    private static string Body(Shape shape, long seed) => string.Create(CultureInfo.InvariantCulture,
        $$"""{"prompt": "a cottage by a lake", "steps": {{shape.Steps}}, "width": {{shape.Size}}, "height": {{shape.Size}}, "seed": {{seed}}, "cfg_scale": 7}""");

    private static async Task PostAsync(HttpClient http, string body, CancellationToken ct)
    {
        using var response = await http.PostAsync("/sdapi/v1/txt2img", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), ct);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"the server answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
    }

    /// <summary><c>redraft serve</c> as a child process, from the same executable as this one.</summary>
    private static Process StartServeProcess(string model, string? tokenizer, int? threads)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this program's path");
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Run as `dotnet redraft.dll`: the child needs the assembly too.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(ServerBench).Assembly.Location);
        foreach (var arg in new[] { "serve", "--port", "0", "--model", Path.GetFullPath(model), "--models-dir", Path.GetDirectoryName(Path.GetFullPath(model))! })
            start.ArgumentList.Add(arg);
        if (tokenizer is not null) { start.ArgumentList.Add("--tokenizer"); start.ArgumentList.Add(tokenizer); }
        if (threads is not null) { start.ArgumentList.Add("--threads"); start.ArgumentList.Add(threads.Value.ToString(CultureInfo.InvariantCulture)); }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start redraft serve");
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<Uri> ReadUrlAsync(Process server, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(5));
        while (await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            var match = System.Text.RegularExpressions.Regex.Match(line, @"listening on (http://\S+/)");
            if (match.Success) return new Uri(match.Groups[1].Value);
        }
        throw new InvalidOperationException($"redraft serve exited ({server.ExitCode}) before it listened");
    }

    /// <summary>Resets the process's peak resident size (<c>VmHWM</c>) to its current size: Linux's <c>clear_refs</c> 5.</summary>
    private static void ResetPeak(int pid)
    {
        using var control = new FileStream($"/proc/{pid}/clear_refs", FileMode.Open, FileAccess.Write);
        control.Write("5"u8);
    }

    /// <summary>A <c>/proc/PID/status</c> field in kB.</summary>
    private static long Status(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"/proc/{pid}/status has no {field}");
    }

    private static double Mb(long kb) => kb / 1024.0;

    private static void Row(TextWriter output, string name, List<double> ms) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {Timing.Median(ms):F1} | {ms.Min():F1}–{ms.Max():F1} |"));
}
