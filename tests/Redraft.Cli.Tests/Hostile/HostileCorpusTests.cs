using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Redraft.Diffusion.Tests;
using Xunit.Abstractions;

namespace Redraft.Cli.Tests.Hostile;

/// <summary>
/// Runs the whole hostile corpus through the real <c>redraft</c> process, two at a time, each case in its own folder
/// with a time limit. Every case must end in exit 0 (valid input) or exit 2 with exactly one line on stderr (progress
/// lines of work done before the problem showed aside), leave no output file when refused, and leave a document it
/// refused byte for byte as it was. Exit 1, a signal or a timeout is a failure of the case.
/// </summary>
[Collection(CliModelCollection.Name)]
public sealed class HostileCorpusTests(CliModelFixture f, ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private static readonly Regex ProgressLine = new(@"^[a-z0-9 ]+: (step \d+/\d+|[a-z]+)( \(run \d+/\d+\))? \(\+\d+\.\d\d s\)$");

    private sealed record Verdict(HostileCase Case, string Kind, int ExitCode, TimeSpan Took, string? Problem);

    [SharedDataFact]
    public async Task EveryHostileInputIsRefusedInOneLineOrAcceptedNeverCrashesOrHangs()
    {
        string root = Directory.CreateTempSubdirectory("redraft-hostile-").FullName;
        try
        {
            var corpus = new HostileCorpus(f, Directory.CreateDirectory(Path.Combine(root, "shared")).FullName);
            var cases = corpus.Cases().ToList();
            Assert.True(cases.Count >= 300, $"only {cases.Count} cases");
            var verdicts = new ConcurrentBag<Verdict>();
            var clock = Stopwatch.StartNew();
            await Parallel.ForEachAsync(cases.Select((c, i) => (c, i)), new ParallelOptions { MaxDegreeOfParallelism = 2 },
                (item, _) =>
                {
                    verdicts.Add(Run(item.c, Path.Combine(root, item.i.ToString("D4"))));
                    return ValueTask.CompletedTask;
                });

            var all = verdicts.OrderBy(v => cases.IndexOf(v.Case)).ToList();
            int Count(string kind) => all.Count(v => v.Kind == kind);
            output.WriteLine($"hostile corpus: {all.Count} tried, {Count("refused")} refused, {Count("accepted")} accepted, " +
                $"{Count("exit 1")} exit 1, {Count("crash")} crash, {Count("hang")} hang; {clock.Elapsed.TotalSeconds:F0} s, " +
                $"slowest {all.Max(v => v.Took).TotalSeconds:F1} s ({all.MaxBy(v => v.Took)!.Case})");
            foreach (var family in all.GroupBy(v => v.Case.Family))
                output.WriteLine($"  {family.Key}: {family.Count()} ({family.Count(v => v.Kind == "refused")} refused, {family.Count(v => v.Kind == "accepted")} accepted)");
            var failures = all.Where(v => v.Problem is not null).ToList();
            foreach (var v in failures) output.WriteLine($"FAIL {v.Case}: {v.Problem}");
            Assert.True(failures.Count == 0, $"{failures.Count} of {all.Count} cases failed:\n" + string.Join("\n", failures.Select(v => $"{v.Case}: {v.Problem}")));
        }
        finally
        {
            try { Directory.Delete(root, true); } catch (IOException) { }
        }
    }

    private static Verdict Run(HostileCase hostile, string dir)
    {
        Directory.CreateDirectory(dir);
        string[] args;
        try
        {
            args = hostile.Prepare(dir);
        }
        catch (Exception e)
        {
            return new Verdict(hostile, "not prepared", -1, TimeSpan.Zero, $"the case could not be made: {e.GetType().Name}: {e.Message}");
        }
        var before = Snapshot(dir);
        string? watched = hostile.Watched is null ? null : Path.Combine(dir, hostile.Watched);
        string? watchedBefore = watched is null ? null : Contents(watched);
        var clock = Stopwatch.StartNew();
        RedraftProcess.Result run;
        try
        {
            run = RedraftProcess.Run(args, new Dictionary<string, string?> { ["REDRAFT_HOME"] = Path.Combine(dir, ".home") }, (int)Limit.TotalSeconds);
        }
        catch (TimeoutException)
        {
            return new Verdict(hostile, "hang", -1, clock.Elapsed, $"no exit within {Limit.TotalSeconds} s");
        }
        var took = clock.Elapsed;
        string Tail() => run.Stderr.Length > 600 ? run.Stderr[^600..] : run.Stderr;
        switch (run.ExitCode)
        {
            case 0:
                return new Verdict(hostile, "accepted", 0, took,
                    hostile.Expected == Outcome.Refused ? $"accepted, but must be refused; stdout: {run.Stdout.Trim()}" : null);
            case 2:
                var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !ProgressLine.IsMatch(l)).ToList();
                string? problem = hostile.Expected == Outcome.Accepted ? $"refused, but is valid: {Tail()}"
                    : lines.Count != 1 ? $"{lines.Count} lines on stderr: {Tail()}"
                    : !lines[0].StartsWith("redraft: ", StringComparison.Ordinal) ? $"the line does not start with 'redraft: ': {lines[0]}"
                    : Snapshot(dir).Except(before).FirstOrDefault(p => !p.StartsWith(".home", StringComparison.Ordinal)) is { } left ? $"left {left} behind"
                    : watched is not null && Contents(watched) != watchedBefore ? "changed the document it refused"
                    : null;
                return new Verdict(hostile, "refused", 2, took, problem);
            case 1:
                return new Verdict(hostile, "exit 1", 1, took, $"exit 1: {Tail()}");
            default:
                return new Verdict(hostile, "crash", run.ExitCode, took, $"exit {run.ExitCode}: {Tail()}");
        }
    }

    /// <summary>Every file and folder under <paramref name="dir"/>, relative (SQLite's -wal/-shm side files aside).</summary>
    private static HashSet<string> Snapshot(string dir) =>
        Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(p => Path.GetRelativePath(dir, p))
            .Where(p => !p.EndsWith("-wal", StringComparison.Ordinal) && !p.EndsWith("-shm", StringComparison.Ordinal))
            .ToHashSet();

    private static string Contents(string folder) => !Directory.Exists(folder) ? "" : string.Join('\n',
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(p => !p.EndsWith("-wal", StringComparison.Ordinal) && !p.EndsWith("-shm", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(p => Path.GetRelativePath(folder, p) + " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(p)))));
}
