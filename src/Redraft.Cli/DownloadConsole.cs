using Redraft.Models;
using Spectre.Console;

namespace Redraft.Cli;

/// <summary>
/// Downloads on the console: a bar with bytes, speed and time left on a terminal (stderr), one line a second when
/// stderr is redirected; and the licence question, asked on a terminal only.
/// </summary>
internal static class DownloadConsole
{
    /// <summary>Runs <paramref name="work"/> with a progress display titled <paramref name="title"/>.</summary>
    public static async Task<T> RunAsync<T>(string title, Func<IProgress<DownloadProgress>, Task<T>> work)
    {
        if (Console.IsErrorRedirected)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            double last = -1;
            var gate = new Lock();
            return await work(new Reporter(p =>
            {
                lock (gate)
                {
                    if (p.Phase == DownloadPhase.Downloading && clock.Elapsed.TotalSeconds - last < 1 && p.Bytes != p.Total) return;
                    last = clock.Elapsed.TotalSeconds;
                    Console.Error.WriteLine($"{title}: {Line(p)}");
                }
            }));
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        T result = default!;
        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                result = await work(new Reporter(p =>
                {
                    lock (tasks)
                    {
                        if (!tasks.TryGetValue(p.File, out var task)) tasks[p.File] = task = ctx.AddTask($"{title} {p.File}");
                        if (p.Total is { } total) task.MaxValue = Math.Max(1, total);
                        task.Value = p.Bytes;
                        if (p.Message is { } note) task.Description = $"{title} {p.File} ({note})";
                        else task.Description = $"{title} {p.File}";
                        if (p.Phase == DownloadPhase.Done) task.Value = task.MaxValue;
                    }
                }));
            });
        return result;
    }

    /// <summary>One progress line: "tiny.safetensors 1.2 MB / 5.0 MB (24%), 3.1 MB/s, 0:02 left".</summary>
    public static string Line(DownloadProgress p)
    {
        if (p.Phase is DownloadPhase.Waiting or DownloadPhase.Retrying) return $"{p.File}: {p.Message}";
        if (p.Phase == DownloadPhase.Done) return $"{p.File}: done, {ModelDownloader.Bytes(p.Bytes)}";
        string of = p.Total is { } total ? $" / {ModelDownloader.Bytes(total)} ({100.0 * p.Bytes / Math.Max(1, total):F0}%)" : "";
        string rate = p.BytesPerSecond > 0 ? $", {ModelDownloader.Bytes((long)p.BytesPerSecond)}/s" : "";
        string left = p.Eta is { } eta ? $", {eta:h\\:mm\\:ss} left" : "";
        return $"{p.File} {ModelDownloader.Bytes(p.Bytes)}{of}{rate}{left}";
    }

    /// <summary>Shows the licence and asks once on a terminal; false (never asks) when stdin is not one.</summary>
    public static bool AskLicence(CatalogueEntry entry)
    {
        if (Console.IsInputRedirected) return false;
        Console.Error.WriteLine($"{entry.Name} is under the {entry.Licence!.Name}: {entry.Licence.Url}");
        Console.Error.Write("Have you read it and do you accept it? [y/N] ");
        return Console.ReadLine()?.Trim().ToLowerInvariant() is "y" or "yes";
    }

    private sealed class Reporter(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }
}
