using System.Text.RegularExpressions;

namespace Redraft.Cli.Tests;

/// <summary>
/// <c>docs/ARCHITECTURE.md</c> stays true: every repository path and every type (or Type.Member) it names in
/// backticks exists, and image decoding, resizing and atomic writes happen only in the files its entry-point table
/// names.
/// </summary>
public sealed partial class ArchitectureTests
{
    private static readonly string Root = RepositoryRoot.Path;

    private static string Doc => File.ReadAllText(Path.Combine(Root, "docs", "ARCHITECTURE.md"));

    private static IEnumerable<string> Backticked => Backticks().Matches(Doc).Select(m => m.Groups[1].Value).Distinct();

    private static readonly string[] RepositoryFolders = ["src/", "tests/", "docs/", "tools/", "bench/", "build/", ".ci/"];

    /// <summary>Every C# source file of the product (not build output).</summary>
    private static IEnumerable<string> SourceFiles() =>
        Directory.EnumerateFiles(Path.Combine(Root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"));

    [Fact]
    public void EveryPathItNamesExists()
    {
        var paths = Backticked.Where(t => RepositoryFolders.Any(t.StartsWith)).ToList();
        Assert.NotEmpty(paths);
        var missing = paths.Where(p => !File.Exists(Path.Combine(Root, p)) && !Directory.Exists(Path.Combine(Root, p))).ToList();
        Assert.True(missing.Count == 0, "docs/ARCHITECTURE.md names paths that do not exist: " + string.Join(", ", missing));
    }

    [Fact]
    public void EveryTypeAndMemberItNamesExists()
    {
        var declarations = new Dictionary<string, List<string>>();
        foreach (var file in SourceFiles())
        {
            var text = File.ReadAllText(file);
            foreach (Match m in Declaration().Matches(text))
            {
                if (!declarations.TryGetValue(m.Groups[1].Value, out var files)) declarations[m.Groups[1].Value] = files = [];
                files.Add(text);
            }
        }
        var names = Backticked.Where(t => TypeOrMember().IsMatch(t)).ToList();
        Assert.True(names.Count > 40, $"only {names.Count} type names found; did the document's format change?");
        var missing = new List<string>();
        foreach (var name in names)
        {
            var parts = name.Split('.');
            if (!declarations.TryGetValue(parts[0], out var files)) missing.Add(name);
            else if (parts.Length == 2 && !files.Any(text => Regex.IsMatch(text, $@"\b{Regex.Escape(parts[1])}\b"))) missing.Add(name);
        }
        Assert.True(missing.Count == 0, "docs/ARCHITECTURE.md names types or members that do not exist: " + string.Join(", ", missing));
    }

    [Theory]
    [InlineData("decoding image files", @"SKCodec\.Create|SKBitmap\.Decode|SKImage\.FromEncodedData")]
    [InlineData("resizing images", @"\.ScalePixels\(|SKBitmap\.Resize|\.Resize\(\s*new\s+SKImageInfo")]
    [InlineData("atomic file writes", @"(?<![A-Za-z])File\.(Move|WriteAll(Bytes|Text|Lines)|Create|OpenWrite)\(|FileMode\.(CreateNew|Create)\b")]
    public void OnlyTheNamedEntryPointDoesIt(string concern, string pattern)
    {
        var row = Doc.Split('\n').FirstOrDefault(l => l.StartsWith($"| {concern} |"))
            ?? throw new Xunit.Sdk.XunitException($"docs/ARCHITECTURE.md has no entry-point row for '{concern}'");
        var file = Backticks().Matches(row).Select(m => m.Groups[1].Value).Last(v => v.StartsWith("src/"));
        var users = SourceFiles().Where(f => Regex.IsMatch(File.ReadAllText(f), pattern))
            .Select(f => Path.GetRelativePath(Root, f).Replace('\\', '/')).ToList();
        Assert.Equal([file], users);
    }

    [GeneratedRegex("`([^`\n]+)`")]
    private static partial Regex Backticks();

    [GeneratedRegex(@"^[A-Z][A-Za-z0-9]*(\.[A-Z][A-Za-z0-9]*)?$")]
    private static partial Regex TypeOrMember();

    [GeneratedRegex(@"\b(?:class|record|struct|interface|enum|delegate\s+[\w.<>\[\]?]+)\s+([A-Z][A-Za-z0-9]*)")]
    private static partial Regex Declaration();
}
