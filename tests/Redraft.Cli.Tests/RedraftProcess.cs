using System.Diagnostics;

namespace Redraft.Cli.Tests;

/// <summary>Runs the real <c>redraft</c> program (the built Redraft.Cli next to this test assembly) as a child process.</summary>
public static class RedraftProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    private static readonly string Program = Path.Combine(AppContext.BaseDirectory, "redraft.dll");

    public static Result Run(IEnumerable<string> args, IDictionary<string, string?>? environment = null, int timeoutSeconds = 300)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Program);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["REDRAFT_DEBUG"] = "1";
        if (environment is not null)
            foreach (var (k, v) in environment) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"redraft {string.Join(' ', args)} did not finish in {timeoutSeconds} s");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    public static Result Run(params string[] args) => Run((IEnumerable<string>)args);
}
