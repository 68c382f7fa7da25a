namespace Redraft.Cli.Tests;

/// <summary>The clone these tests were built from: the folder above the test assembly that holds <c>Redraft.slnx</c>.</summary>
public static class RepositoryRoot
{
    public static readonly string Path = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Redraft.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"no Redraft.slnx above {AppContext.BaseDirectory}");
    }
}
