namespace Redraft.Bench.Canvas;

/// <summary>
/// The project's shared data beside the clone (<c>../shared/data</c>: the CLIP vocabulary and the TAESD weights), found
/// as the tests find it: <c>$REDRAFT_SHARED</c>, else a <c>shared</c> folder with <c>data</c> in it above the
/// program's folder or the working folder.
/// </summary>
public static class SharedFolder
{
    /// <summary>The <c>shared/data</c> folder; throws with what to do when none is found.</summary>
    public static string DataDir()
    {
        string? given = Environment.GetEnvironmentVariable("REDRAFT_SHARED");
        if (!string.IsNullOrEmpty(given) && Directory.Exists(Path.Combine(given, "data"))) return Path.GetFullPath(Path.Combine(given, "data"));
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "shared", "data");
                if (Directory.Exists(Path.Combine(candidate, "clip"))) return candidate;
            }
        }
        throw new DirectoryNotFoundException("shared/data (the CLIP vocabulary and TAESD weights) not found above this folder; set REDRAFT_SHARED to the shared folder");
    }
}
