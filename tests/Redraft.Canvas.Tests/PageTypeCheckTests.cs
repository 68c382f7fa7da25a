using System.Diagnostics;

namespace Redraft.Canvas.Tests;

/// <summary>
/// The canvas page is plain ES modules with JSDoc types (no build step between the repository and the browser); this
/// test is where those types are checked: TypeScript's compiler (<c>web/</c>, installed by <c>npm ci --prefix web</c>,
/// which <c>.ci/run</c> runs) reads every module with <c>checkJs</c> and strict rules and must find no error.
/// </summary>
public sealed class PageTypeCheckTests
{
    /// <summary>The repository root (where Redraft.slnx is).</summary>
    internal static readonly string Root = FindRoot();

    private static string Compiler => Path.Combine(Root, "web", "node_modules", "typescript", "bin", "tsc");

    /// <summary>Why the check cannot run here (null when it can, and always null under CI, where it must).</summary>
    public static string? SkipReason => Environment.GetEnvironmentVariable("CI") == "true" || File.Exists(Compiler)
        ? null
        : $"TypeScript is not installed for the page's type check: run npm ci --prefix web (needs Node.js and npm)";

    [TypeCheckFact]
    public void ThePagesModules_TypeCheckCleanFromTheirJSDoc()
    {
        Assert.True(File.Exists(Compiler), $"{Compiler} is missing: run npm ci --prefix web");
        var start = new ProcessStartInfo("node", [Compiler, "-p", Path.Combine(Root, "web", "tsconfig.json")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Root,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string errors = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "tsc did not finish within 2 minutes");
        Assert.True(process.ExitCode == 0, $"tsc found type errors in src/Redraft.Server/Page:\n{output.Result}{errors}");
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Redraft.slnx"))) return dir.FullName;
        throw new InvalidOperationException("the repository root (Redraft.slnx) is not above " + AppContext.BaseDirectory);
    }
}

/// <summary>A fact skipped, with the reason, where the page's type checker is not installed (never under <c>CI=true</c>).</summary>
public sealed class TypeCheckFactAttribute : FactAttribute
{
    public TypeCheckFactAttribute()
    {
        Skip = PageTypeCheckTests.SkipReason;
    }
}
