using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Redraft.Broker.Tests;

/// <summary>A real <c>redraft worker</c> process (redraft.dll beside this assembly), its output kept for messages.</summary>
public sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WorkerProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    /// <summary>Its <c>--name</c>.</summary>
    public string Name { get; }

    /// <summary>Its process id.</summary>
    public int Pid => _process.Id;

    /// <summary>What it printed so far (stdout and stderr, interleaved).</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>Whether it has exited.</summary>
    public bool Exited => _process.HasExited;

    /// <summary>Starts a worker and returns once it says it takes jobs.</summary>
    public static Task<WorkerProcess> StartAsync(string name, params string[] args) => StartAsync(name, null, args);

    /// <summary>Starts a worker with <paramref name="environment"/> added to this process's, and returns once it says it takes jobs.</summary>
    public static async Task<WorkerProcess> StartAsync(string name, IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "redraft.dll"));
        start.ArgumentList.Add("worker");
        start.ArgumentList.Add("--name");
        start.ArgumentList.Add(name);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["REDRAFT_DEBUG"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>()) start.Environment[key] = value;
        var worker = new WorkerProcess(name, Process.Start(start)!);
        worker._process.StandardInput.Close();
        worker._process.OutputDataReceived += (_, e) => worker.Line(e.Data);
        worker._process.ErrorDataReceived += (_, e) => worker.Line(e.Data);
        worker._process.BeginOutputReadLine();
        worker._process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await worker._ready.Task.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            worker.Dispose();
            throw new TimeoutException($"worker {name} did not start taking jobs within 120 s:\n{worker.Output}");
        }
        catch
        {
            worker.Dispose();
            throw;
        }
        return worker;
    }

    private void Line(string? line)
    {
        if (line is null)
        {
            _ready.TrySetException(new InvalidOperationException($"worker {Name} ended before it took jobs:\n{Output}"));
            return;
        }
        lock (_output) _output.AppendLine(line);
        if (line.Contains(": taking jobs from ", StringComparison.Ordinal)) _ready.TrySetResult();
    }

    /// <summary>
    /// Waits until it has printed <paramref name="text"/> (a worker logs a job's end just after the server has its
    /// result, so a test that has the answer may be a moment ahead of the log).
    /// </summary>
    public async Task<string> WaitForOutputAsync(string text, double seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"worker {Name} did not print \"{text}\" within {seconds} s:\n{Output}");
            await Task.Delay(20);
        }
        return Output;
    }

    /// <summary>SIGKILL: the process ends at once, as a crash or a pulled plug would end it.</summary>
    public void KillHard() => _process.Kill(entireProcessTree: true);

    /// <summary>SIGTERM, as a service manager stops it.</summary>
    public void Terminate()
    {
        if (Kill(_process.Id, 15) != 0) throw new InvalidOperationException($"kill -TERM {_process.Id} failed");
    }

    /// <summary>Waits for it to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Kills it if it still runs.</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
