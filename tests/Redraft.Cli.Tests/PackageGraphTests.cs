using System.Text.Json;
using System.Text.RegularExpressions;

namespace Redraft.Cli.Tests;

/// <summary>
/// A restore downloads what the Linux x64 product uses and nothing twice: one version of each package across the
/// solution, and no native package of another platform (Directory.Packages.props says how and why).
/// </summary>
public sealed partial class PackageGraphTests
{
    /// <summary>Every package each restored project resolved, read from its <c>obj/project.assets.json</c>.</summary>
    private static List<(string Project, string Id, string Version)> ResolvedPackages()
    {
        var packages = new List<(string, string, string)>();
        foreach (var folder in new[] { "src", "tests", "bench" })
            foreach (var project in Directory.EnumerateDirectories(Path.Combine(RepositoryRoot.Path, folder)))
            {
                string assets = Path.Combine(project, "obj", "project.assets.json");
                if (!File.Exists(assets))
                {
                    // Building this test project restores every src project it depends on, the CLI's whole graph.
                    Assert.False(folder == "src", $"{assets} is missing: the projects were not restored where expected");
                    continue;
                }
                using var json = JsonDocument.Parse(File.ReadAllText(assets));
                foreach (var library in json.RootElement.GetProperty("libraries").EnumerateObject())
                    if (library.Value.GetProperty("type").GetString() == "package")
                    {
                        var idAndVersion = library.Name.Split('/');
                        packages.Add((Path.GetFileName(project), idAndVersion[0], idAndVersion[1]));
                    }
            }
        return packages;
    }

    [Fact]
    public void EveryPackageIsRestoredInOneVersion()
    {
        var packages = ResolvedPackages();
        Assert.Contains(packages, p => p.Id == "SkiaSharp");
        var twice = packages.GroupBy(p => p.Id, StringComparer.OrdinalIgnoreCase)
            .Where(g => g.Select(p => p.Version).Distinct().Count() > 1)
            .Select(g => g.Key + ": " + string.Join(", ", g.GroupBy(p => p.Version).Select(v => $"{v.Key} ({string.Join(" ", v.Select(p => p.Project).Distinct())})")))
            .ToList();
        Assert.True(twice.Count == 0, "packages restored in more than one version (pin them in Directory.Packages.props): " + string.Join("; ", twice));
    }

    [Fact]
    public void NoNativePackageOfAnotherPlatformIsRestored()
    {
        var packages = ResolvedPackages();
        Assert.Contains(packages, p => p.Id == "libtorch-cpu-linux-x64");
        Assert.Contains(packages, p => p.Id == "SkiaSharp.NativeAssets.Linux.NoDependencies");
        var foreign = packages.Where(p => OtherPlatformNative().IsMatch(p.Id)).Select(p => $"{p.Id} {p.Version} ({p.Project})").Distinct().ToList();
        Assert.True(foreign.Count == 0, "native packages for platforms this build does not target: " + string.Join(", ", foreign));
    }

    /// <summary>A native-binary package (SkiaSharp's NativeAssets, libtorch, runtime.*) for a platform other than Linux.</summary>
    [GeneratedRegex(@"^(?=.*NativeAssets|libtorch|runtime\.).*(?<![A-Za-z])(win|win32|win64|windows|osx|macos|maccatalyst|ios|tvos|android|tizen|uwp)(?![A-Za-z])", RegexOptions.IgnoreCase)]
    private static partial Regex OtherPlatformNative();
}
