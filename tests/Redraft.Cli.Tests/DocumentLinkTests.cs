using System.Text.RegularExpressions;

namespace Redraft.Cli.Tests;

/// <summary>
/// The repository's Markdown files work on a fresh clone: every relative link and image points at a file of the
/// clone, and the only paths outside it they name are the optional test data beside it (`../shared/data`,
/// `../shared/oracles`), which the tests skip without.
/// </summary>
public sealed partial class DocumentLinkTests
{
    private static readonly string[] OutsideAllowed = ["../shared/data", "../shared/oracles"];

    private static readonly string[] NotSources = ["bin", "obj", "artifacts", "TestResults", "node_modules", ".git"];

    private static IEnumerable<string> MarkdownFiles(string folder)
    {
        foreach (var file in Directory.EnumerateFiles(folder, "*.md")) yield return file;
        foreach (var sub in Directory.EnumerateDirectories(folder).Where(d => !NotSources.Contains(Path.GetFileName(d))))
            foreach (var file in MarkdownFiles(sub)) yield return file;
    }

    /// <summary>The text outside fenced code blocks: commands in examples name files the reader makes.</summary>
    private static string Prose(string file) => FencedCode().Replace(File.ReadAllText(file), "");

    [Fact]
    public void EveryRelativeLinkPointsIntoTheClone()
    {
        var files = MarkdownFiles(RepositoryRoot.Path).ToList();
        Assert.Contains(files, f => Path.GetFileName(f) == "README.md");
        var broken = new List<string>();
        foreach (var file in files)
            foreach (Match link in Link().Matches(Prose(file)))
            {
                string target = link.Groups[1].Value.Split('#')[0];
                if (target.Length == 0 || Regex.IsMatch(target, "^[a-z]+:")) continue;
                string full = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, Uri.UnescapeDataString(target)));
                bool inside = full.StartsWith(RepositoryRoot.Path + Path.DirectorySeparatorChar);
                if (!inside || (!File.Exists(full) && !Directory.Exists(full)))
                    broken.Add($"{Path.GetRelativePath(RepositoryRoot.Path, file)}: ({link.Groups[1].Value})");
            }
        Assert.True(broken.Count == 0, "links that do not work on a fresh clone: " + string.Join(", ", broken));
    }

    [Fact]
    public void NoPathOutsideTheCloneIsNamedButTheOptionalTestData()
    {
        var outside = new List<string>();
        foreach (var file in MarkdownFiles(RepositoryRoot.Path))
            foreach (Match code in Backticked().Matches(Prose(file)))
            {
                string path = code.Groups[1].Value;
                if (path.StartsWith("../") && path != "../shared" && !OutsideAllowed.Any(a => path == a || path.StartsWith(a + "/")))
                    outside.Add($"{Path.GetRelativePath(RepositoryRoot.Path, file)}: `{path}`");
            }
        Assert.True(outside.Count == 0, "paths outside the clone, missing on a fresh one: " + string.Join(", ", outside));
    }

    [GeneratedRegex(@"^ {0,3}(```|~~~).*?^ {0,3}\1", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex FencedCode();

    /// <summary>A Markdown link or image target: <c>[text](target)</c> or <c>![alt](target "title")</c>.</summary>
    [GeneratedRegex(@"\]\(\s*<?([^)\s>]+)>?(?:\s+""[^""]*"")?\s*\)")]
    private static partial Regex Link();

    [GeneratedRegex("`([^`\n]+)`")]
    private static partial Regex Backticked();
}
