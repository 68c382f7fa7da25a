using System.Diagnostics;

namespace Redraft.Cli.Tests;

/// <summary>
/// The <c>./redraft</c> launcher at the repository root: it builds once, says so, runs the built program with every
/// argument, stream, exit code and its own process, and builds again only when an input of the build changed.
/// </summary>
/// <remarks>
/// Each test runs a copy of the launcher in a folder of its own that stands in for a clone, never the clone these
/// tests run from: a real `dotnet build` of the CLI would compete with the test run for the build outputs and for the
/// two cores. A stand-in `dotnet` first on the PATH records what the launcher asks of it: `build` makes an empty
/// program, and running the program prints its arguments. The one test of the real program links the CLI these tests
/// were built with into the copy's output folder and puts a `dotnet` on the PATH that refuses to build.
/// </remarks>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]   // a bash script, for the one platform built
public sealed class LauncherTests : IDisposable
{
    private const string FakeDotnet = """
        #!/usr/bin/env bash
        if [ "$1" = build ]; then
          echo "build $*" >> "$FAKE_LOG"
          sleep "${FAKE_BUILD_SECONDS:-0}"
          while [ $# -gt 0 ]; do [ "$1" = -o ] && mkdir -p "$2" && { [ -e "$2/redraft.dll" ] || : > "$2/redraft.dll"; }; shift; done
          exit "${FAKE_BUILD_EXIT:-0}"
        fi
        echo "run $1" >> "$FAKE_LOG"
        shift
        printf 'pid %s\ncwd %s\n' "$$" "$PWD"
        for a in "$@"; do printf 'arg <%s>\n' "$a"; done
        printf 'stdin <%s>\n' "$(cat)"
        echo "the program's stderr" >&2
        exit "${FAKE_EXIT:-0}"
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("redraft-launcher-").FullName;
    private string Clone => Path.Combine(_dir, "clone");
    private string Launcher => Path.Combine(Clone, "redraft");
    private string Log => Path.Combine(_dir, "dotnet.log");

    public LauncherTests()
    {
        Directory.CreateDirectory(Path.Combine(Clone, "src", "Redraft.Cli"));
        Directory.CreateDirectory(Path.Combine(Clone, "build"));
        Directory.CreateDirectory(Path.Combine(Clone, "tests"));
        File.Copy(Path.Combine(RepositoryRoot.Path, "redraft"), Launcher);
        File.SetUnixFileMode(Launcher, (UnixFileMode)0b111_101_101);
        File.WriteAllText(Path.Combine(Clone, "src", "Redraft.Cli", "Program.cs"), "// stands in for the CLI's sources\n");
        File.WriteAllText(Path.Combine(Clone, "build", "Fix.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(Clone, "Directory.Build.props"), "<Project />\n");
        WriteScript(Path.Combine(_dir, "fake", "dotnet"), FakeDotnet);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void WriteScript(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.ReplaceLineEndings("\n") + "\n");
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
    }

    private sealed record Run(int ExitCode, string Stdout, string Stderr, int Pid);

    private Run Start(string program, IEnumerable<string> args, string? workingDirectory = null, string stdin = "",
        IDictionary<string, string>? environment = null, string pathFirst = "fake")
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            UseShellExecute = false, WorkingDirectory = workingDirectory ?? _dir,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["PATH"] = Path.Combine(_dir, pathFirst) + ":" + Environment.GetEnvironmentVariable("PATH");
        start.Environment["FAKE_LOG"] = Log;
        if (environment is not null)
            foreach (var (k, v) in environment) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        int pid = process.Id;
        process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish in a minute");
        }
        return new Run(process.ExitCode, stdout.Result, stderr.Result, pid);
    }

    private Run Redraft(params string[] args) => Start(Launcher, args);

    private string[] LogLines() => File.Exists(Log) ? File.ReadAllLines(Log) : [];

    private int Builds => LogLines().Count(l => l.StartsWith("build "));

    /// <summary>File times have the kernel's tick as resolution: let one pass so a change is later than the last build.</summary>
    private static void Tick() => Thread.Sleep(50);

    [Fact]
    public void TheRepositoryHasTheLauncherAsAnExecutableBashScript()
    {
        string launcher = Path.Combine(RepositoryRoot.Path, "redraft");
        Assert.True(File.Exists(launcher), "./redraft is missing");
        Assert.True(File.GetUnixFileMode(launcher).HasFlag(UnixFileMode.UserExecute), "./redraft is not executable");
        Assert.StartsWith("#!/usr/bin/env bash\n", File.ReadAllText(launcher));
    }

    [Fact]
    public void TheFirstCallBuildsAndSaysSoOnStderrLaterCallsRunAtOnce()
    {
        var first = Redraft("--version");
        Assert.Equal(0, first.ExitCode);
        Assert.Contains("redraft: building (first run", first.Stderr);
        Assert.Equal($"build build {Clone}/src/Redraft.Cli -c Release -o {Clone}/artifacts/redraft -nologo", LogLines()[0]);
        Assert.Equal($"run {Clone}/artifacts/redraft/redraft.dll", LogLines()[1]);
        Assert.Contains("arg <--version>", first.Stdout);

        for (int i = 0; i < 2; i++)
        {
            var next = Redraft("--version");
            Assert.Equal(0, next.ExitCode);
            Assert.Equal("the program's stderr\n", next.Stderr);
            Assert.Equal(1, Builds);
        }
    }

    [Fact]
    public void EveryArgumentStdinStdoutStderrExitCodeAndTheProcessAreTheProgramsOwn()
    {
        Redraft();
        string[] args = ["txt2img", "a b", "", "it's \"quoted\"", "*", "$HOME", "--flag=x  y", "two\nlines", "-", "--"];
        string work = Directory.CreateDirectory(Path.Combine(_dir, "work")).FullName;
        var run = Start(Launcher, args, workingDirectory: work, stdin: "from stdin",
            environment: new Dictionary<string, string> { ["FAKE_EXIT"] = "3" });

        Assert.Equal(3, run.ExitCode);
        string expected = $"pid {run.Pid}\ncwd {work}\n" + string.Concat(args.Select(a => $"arg <{a}>\n")) + "stdin <from stdin>\n";
        Assert.Equal(expected, run.Stdout);   // the launcher's pid: exec, so signals reach the program itself
        Assert.Equal("the program's stderr\n", run.Stderr);
    }

    [Fact]
    public void ItWorksThroughASymbolicLinkFromAnyFolder()
    {
        string bin = Directory.CreateDirectory(Path.Combine(_dir, "home", "bin")).FullName;
        File.CreateSymbolicLink(Path.Combine(bin, "redraft"), Launcher);
        string elsewhere = Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName;

        var run = Start(Path.Combine(bin, "redraft"), ["samplers"], workingDirectory: elsewhere);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains($"cwd {elsewhere}\n", run.Stdout);
        Assert.Contains($"run {Clone}/artifacts/redraft/redraft.dll", LogLines());
        Assert.False(Directory.Exists(Path.Combine(bin, "artifacts")), "the launcher built beside the link, not in the clone");
    }

    [Fact]
    public void AChangeToWhatTheBuildReadsBuildsOnceMoreAndNothingElseDoes()
    {
        Redraft();
        var changes = new (string What, Action Change, bool Builds)[]
        {
            ("a source edited", () => File.AppendAllText(Path.Combine(Clone, "src", "Redraft.Cli", "Program.cs"), "// edit\n"), true),
            ("a source added", () => File.WriteAllText(Path.Combine(Clone, "src", "Redraft.Cli", "New.cs"), "//\n"), true),
            ("a source renamed", () => File.Move(Path.Combine(Clone, "src", "Redraft.Cli", "New.cs"), Path.Combine(Clone, "src", "Redraft.Cli", "Renamed.cs")), true),
            ("a source deleted", () => File.Delete(Path.Combine(Clone, "src", "Redraft.Cli", "Renamed.cs")), true),
            ("a file with an old time copied in", () =>
            {
                string path = Path.Combine(Clone, "src", "Redraft.Cli", "Old.cs");
                File.WriteAllText(path, "//\n");
                File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddYears(-1));
            }, true),
            ("build/ edited", () => File.AppendAllText(Path.Combine(Clone, "build", "Fix.targets"), "\n"), true),
            ("Directory.Build.props edited", () => File.AppendAllText(Path.Combine(Clone, "Directory.Build.props"), "\n"), true),
            ("Directory.Packages.props added", () => File.WriteAllText(Path.Combine(Clone, "Directory.Packages.props"), "<Project />\n"), true),
            ("build output written", () =>
            {
                Directory.CreateDirectory(Path.Combine(Clone, "src", "Redraft.Cli", "bin", "Debug"));
                File.WriteAllText(Path.Combine(Clone, "src", "Redraft.Cli", "bin", "Debug", "x.dll"), "");
                Directory.CreateDirectory(Path.Combine(Clone, "src", "Redraft.Cli", "obj"));
                File.WriteAllText(Path.Combine(Clone, "src", "Redraft.Cli", "obj", "x.cache"), "");
            }, false),
            ("an editor's swap file", () => File.WriteAllText(Path.Combine(Clone, "src", "Redraft.Cli", ".Program.cs.swp"), ""), false),
            ("a test edited", () => File.WriteAllText(Path.Combine(Clone, "tests", "Test.cs"), "//\n"), false),
            ("README edited", () => File.WriteAllText(Path.Combine(Clone, "README.md"), "#\n"), false),
        };
        foreach (var (what, change, builds) in changes)
        {
            int before = Builds;
            Tick();
            change();
            var run = Redraft("--version");
            Assert.True(run.ExitCode == 0, $"{what}: exit {run.ExitCode}: {run.Stderr}");
            Assert.True(Builds == before + (builds ? 1 : 0), $"{what}: {Builds - before} builds, expected {(builds ? 1 : 0)}");
            Assert.True(run.Stderr.Contains("redraft: sources changed since the last build; building") == builds, $"{what}: stderr was {run.Stderr}");
            var again = Redraft("--version");
            Assert.True(again.ExitCode == 0 && Builds == before + (builds ? 1 : 0), $"{what}: the call after the build built again");
        }
    }

    [Fact]
    public void AFailedBuildExitsOneRunsNothingAndIsTriedAgainNextTime()
    {
        var failed = Start(Launcher, ["--version"], environment: new Dictionary<string, string> { ["FAKE_BUILD_EXIT"] = "1" });
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("redraft: the build failed", failed.Stderr);
        Assert.DoesNotContain(LogLines(), l => l.StartsWith("run "));

        var next = Redraft("--version");
        Assert.Equal(0, next.ExitCode);
        Assert.Equal(2, Builds);
        Assert.Contains("redraft: building (first run", next.Stderr);
    }

    [Fact]
    public async Task TwoCallsAtOnceBuildOnce()
    {
        var slow = new Dictionary<string, string> { ["FAKE_BUILD_SECONDS"] = "1" };
        var runs = await Task.WhenAll(Task.Run(() => Start(Launcher, ["a"], environment: slow)), Task.Run(() => Start(Launcher, ["b"], environment: slow)));
        Assert.All(runs, r => Assert.Equal(0, r.ExitCode));
        Assert.Equal(1, Builds);
        Assert.Equal(2, LogLines().Count(l => l.StartsWith("run ")));
    }

    [Fact]
    public void TheRealProgramGetsItsArgumentsAndReturnsItsExitCode()
    {
        // The CLI these tests were built with, linked file by file into the copy's output folder; the first call
        // "builds" with the stand-in (which leaves existing files alone), later calls must not build at all.
        string output = Directory.CreateDirectory(Path.Combine(Clone, "artifacts", "redraft")).FullName;
        foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory))
            File.CreateSymbolicLink(Path.Combine(output, Path.GetFileName(file)), file);
        Assert.Equal(0, Redraft().ExitCode);
        Assert.Equal(1, Builds);
        string realDotnet = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(d => Path.Combine(d, "dotnet")).First(File.Exists);
        WriteScript(Path.Combine(_dir, "real", "dotnet"), $"""
            #!/usr/bin/env bash
            if [ "$1" = build ]; then echo "unexpected build" >&2; exit 97; fi
            exec '{realDotnet}' "$@"
            """);

        var version = Start(Launcher, ["--version"], pathFirst: "real");
        Assert.Equal(0, version.ExitCode);
        Assert.Equal(RedraftProcess.Run("--version").Stdout, version.Stdout);
        Assert.Equal("", version.Stderr);

        string name = "a 'quoted' \"name\" with  spaces.png";
        var missing = Start(Launcher, ["info", name], pathFirst: "real");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains($"{name}: file not found", missing.Stderr);

        var typo = Start(Launcher, ["txt2imgg"], pathFirst: "real");
        Assert.Equal(2, typo.ExitCode);
    }
}
