using Redraft.Diffusion.Pipelines;
using Redraft.Studio.Generation;
using Spectre.Console;

namespace Redraft.Cli;

/// <summary>
/// Shows a generation's progress on stderr: a Spectre.Console bar on a terminal, plain "step N/M" lines when
/// stderr is redirected (logs, CI, other programs). stdout stays free for results.
/// </summary>
internal static class ConsoleProgress
{
    public static async Task<T> RunAsync<T>(string title, Func<IProgress<GenerationEvent>, Task<T>> work, Action<GenerationEvent>? also = null)
    {
        if (Console.IsErrorRedirected)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            return await work(new ActionProgress(p =>
            {
                also?.Invoke(p);
                // Waiting and loading show in the closing summary; a failed load then stays one line on stderr.
                if (p.Phase is GenerationPhase.Queued or GenerationPhase.Loading) return;
                // The decode's progress is for the bar; a log gets one line when it starts.
                if (p.Phase == GenerationPhase.Decode && p.DecodeFraction > 0) return;
                // "+s" is the time since the previous line, i.e. what that line's phase or step took.
                var seconds = clock.Elapsed.TotalSeconds;
                clock.Restart();
                string label = p.Phase == GenerationPhase.Sampling && p.Step > 0 ? $"step {p.Step}/{p.Total}" : Name(p.Phase);
                if (p.Iterations > 1) label += $" (run {p.Iteration + 1}/{p.Iterations})";
                Console.Error.WriteLine($"{title}: {label} (+{seconds:F2} s)");
            }));
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        T result = default!;
        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(title);
                result = await work(new ActionProgress(p =>
                {
                    also?.Invoke(p);
                    task.MaxValue = 1000;
                    task.Value = Math.Round(p.Fraction * 1000);
                    // The service's estimate covers the steps and decodes still to come, which the bar's speed cannot know.
                    string left = p.Eta is { } eta ? $", {eta:m\\:ss} left" : "";
                    task.Description = $"{title} ({Name(p.Phase)}{left})";
                }));
                task.Value = task.MaxValue;
            });
        return result;
    }

    /// <summary>Shows the terminal's cursor again (the progress bar hides it) when stderr is a terminal.</summary>
    public static void RestoreCursor()
    {
        if (!Console.IsErrorRedirected) Console.Error.Write("\u001b[?25h");
    }

    /// <summary>The phase as the progress lines spell it.</summary>
    public static string Name(GenerationPhase phase) => phase.ToString().ToLowerInvariant();

    /// <summary>Reports on the reporting thread (unlike <see cref="Progress{T}"/>), so lines appear in step order.</summary>
    private sealed class ActionProgress(Action<GenerationEvent> report) : IProgress<GenerationEvent>
    {
        private readonly Lock gate = new();

        public void Report(GenerationEvent value)
        {
            lock (gate) report(value);
        }
    }
}
