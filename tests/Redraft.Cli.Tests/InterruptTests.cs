using System.Diagnostics;
using System.Text;
using Redraft.Diffusion.Tests;

namespace Redraft.Cli.Tests;

/// <summary>Ctrl+C on a terminal: the generation stops, the cursor comes back, nothing is written, exit 130.</summary>
[Collection(CliModelCollection.Name)]
public sealed class InterruptTests(CliModelFixture f)
{
    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    [SharedDataFact]
    public void CtrlCUnderAPseudoTerminalCancelsRestoresTheCursorAndWritesNothing()
    {
        string output = f.NewPath("never.png");
        var args = f.Generate("txt2img", output, "--width", "256", "--height", "256", "--steps", "150");
        // env --default-signal=INT: a test host that has handled SIGINT itself (the in-process CLI tests register
        // System.CommandLine's handler) can start children with SIGINT ignored, and .NET keeps a signal ignored that it
        // inherited so; a terminal's Ctrl+C reaches a program with the default disposition, so the program gets that.
        string command = "env --default-signal=INT dotnet " + Quote(Path.Combine(AppContext.BaseDirectory, "redraft.dll")) + " " + string.Join(' ', args.Select(Quote));
        // script gives the program a pseudo-terminal (so the progress bar runs, with its hidden cursor); the ^C byte
        // written to it becomes SIGINT for the program, as a key press would.
        var start = new ProcessStartInfo("script") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-qfec", command, "/dev/null" }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var seen = new StringBuilder();
        var reader = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = await process.StandardOutput.ReadAsync(buffer)) > 0)
                lock (seen) seen.Append(buffer, 0, n);
        });
        try
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(120))
            {
                lock (seen) if (seen.ToString().Contains("sampling")) break;
                Thread.Sleep(50);
            }
            Assert.True(seen.ToString().Contains("sampling"), "the progress bar never showed sampling: " + seen);
            process.StandardInput.Write('\u0003');
            process.StandardInput.Flush();
            Assert.True(process.WaitForExit(60_000), "redraft did not stop within a minute of Ctrl+C");
            reader.Wait(10_000);
            string text;
            lock (seen) text = seen.ToString();
            string shown = text.ReplaceLineEndings(" ");
            Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}; the terminal showed: {shown[^Math.Min(shown.Length, 1500)..]}");
            Assert.Contains("cancelled; nothing written", text);
            Assert.Contains("\u001b[?25h", text);
            Assert.False(File.Exists(output));
            Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(output)!, ".*.tmp"));
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}
