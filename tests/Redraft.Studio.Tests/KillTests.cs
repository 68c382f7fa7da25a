using System.Diagnostics;
using Xunit.Abstractions;

namespace Redraft.Studio.Tests;

/// <summary>
/// Kills a child process (Redraft.Studio.KillHelper) that loops over add-layer / erase / undo / render at random
/// moments, then checks the document: it opens, <see cref="DocumentStore.Verify"/> finds nothing (SQLite integrity,
/// every state and history row, every image exists, matches its hash and decodes), it renders, and the history
/// holds every operation the child reported as done (and at most one more, committed just before the kill).
/// Set REDRAFT_KILL_RUNS for more kills (the suite does 10).
/// </summary>
public class KillTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();
    private static readonly string Helper = Path.Combine(AppContext.BaseDirectory, "Redraft.Studio.KillHelper.dll");

    public void Dispose() => _dir.Dispose();

    private static int Runs =>
        int.TryParse(Environment.GetEnvironmentVariable("REDRAFT_KILL_RUNS"), out int n) && n > 0 ? n : 10;

    private sealed class Child : IDisposable
    {
        private readonly Process _process;
        private readonly ManualResetEventSlim _ready = new();
        private long _committed;

        public Child(string folder, int seed)
        {
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(Helper);
            start.ArgumentList.Add(folder);
            start.ArgumentList.Add(seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
            _process = new Process { StartInfo = start };
            _process.OutputDataReceived += (_, e) =>
            {
                if (e.Data == "ready") _ready.Set();
                else if (e.Data?.StartsWith("committed ", StringComparison.Ordinal) == true)
                    Interlocked.Exchange(ref _committed, long.Parse(e.Data.AsSpan(10), System.Globalization.CultureInfo.InvariantCulture));
            };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Errors.Add(e.Data); };
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public List<string> Errors { get; } = [];

        public long Committed => Interlocked.Read(ref _committed);

        public bool WaitReady(TimeSpan timeout) => _ready.Wait(timeout);

        public bool HasExited => _process.HasExited;

        /// <summary>SIGKILL, then wait until the process and its output are gone.</summary>
        public void Kill()
        {
            try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            _process.WaitForExit();
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
        }
    }

    [Fact]
    public void Killing_mid_operation_leaves_document_and_history_consistent()
    {
        Assert.True(File.Exists(Helper), $"{Helper} was not built next to the tests");
        string folder = _dir.File("doc");
        int seed = Environment.TickCount & 0xFFFF;
        var random = new Random(seed);
        output.WriteLine($"seed {seed}, {Runs} runs");
        long rows = 1; // the "new" row, once the first run has created the document
        int rolledForwardRuns = 0;
        for (int run = 0; run < Runs; run++)
        {
            long committed;
            // Let a random number of operations through (0: kill during the first, still-JITting one), then kill at a
            // random moment within the next few operations (each takes a few to tens of milliseconds, mostly fsync).
            int through = random.Next(0, 8), delay = random.Next(0, 60);
            using (var child = new Child(folder, seed + run))
            {
                Assert.True(child.WaitReady(TimeSpan.FromSeconds(60)), "helper did not start: " + string.Join(" | ", child.Errors));
                var wait = Stopwatch.StartNew();
                while (child.Committed < through && !child.HasExited && wait.Elapsed < TimeSpan.FromSeconds(60))
                    Thread.Sleep(1);
                Thread.Sleep(delay);
                Assert.False(child.HasExited, "helper stopped by itself: " + string.Join(" | ", child.Errors));
                child.Kill();
                committed = child.Committed;
                Assert.Empty(child.Errors);
            }

            // document.json may lag one state behind the database (killed between commit and file write).
            var (_, fileState) = DocumentJson.Parse(File.ReadAllBytes(Path.Combine(folder, DocumentStore.DocumentFileName)), "document.json");
            int strays = Directory.EnumerateFiles(folder, ".*.tmp", SearchOption.AllDirectories).Count();
            using var store = DocumentStore.Open(folder);
            bool rolledForward = fileState != store.StateId;
            if (rolledForward) rolledForwardRuns++;
            var problems = store.Verify();
            Assert.True(problems.Count == 0, $"run {run}: " + string.Join("; ", problems));
            var history = store.History();
            Assert.Equal(Enumerable.Range(1, history.Count).Select(i => (long)i), history.Select(h => h.Id));
            Assert.Equal(store.StateId, history[^1].StateAfter);
            // Every operation the child reported is there; at most one more committed just before the kill.
            Assert.InRange(history.Count, rows + committed, rows + committed + 1);
            store.Render();
            output.WriteLine($"run {run}: killed {delay} ms after {through} operations, {committed} operations reported, {history.Count - rows} recorded, {store.Document.Layers.Count} layers{(rolledForward ? ", document.json rolled forward" : "")}{(strays > 0 ? $", {strays} stray temporary file(s)" : "")}");
            rows = history.Count;
        }
        output.WriteLine($"{Runs} kills, all consistent; {rolledForwardRuns} landed between a commit and the document.json write");
    }

    [Fact]
    public void Killing_while_creating_leaves_no_half_document()
    {
        var random = new Random(Environment.TickCount);
        int runs = Math.Max(3, Runs / 3), created = 0;
        for (int run = 0; run < runs; run++)
        {
            string folder = _dir.File($"new{run}");
            using (var child = new Child(folder, run))
            {
                Thread.Sleep(random.Next(200, 2500)); // the child needs 0.5 s or more (busy machine) to start and create the document
                child.Kill();
            }
            if (!Directory.Exists(folder)) continue; // killed before the rename: nothing there, not half a document
            created++;
            using var store = DocumentStore.Open(folder);
            Assert.Empty(store.Verify());
        }
        output.WriteLine($"{runs} runs, {created} had created the document before the kill");
    }
}
