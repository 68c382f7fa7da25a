namespace Redraft.Diffusion.Tests;

/// <summary>
/// Locates the project's shared test data (<c>shared/oracles</c>, <c>shared/data</c>), which lives
/// beside the repository (<c>&lt;repo&gt;/../shared</c>) rather than inside it.
/// </summary>
/// <remarks>
/// The folder is found by walking up from the test assembly's directory and looking, at every level,
/// for a child <c>shared/oracles</c>. The environment variable <c>REDRAFT_SHARED</c>, when set to an
/// existing folder, takes precedence. Tests that need the data use <see cref="SharedDataFactAttribute"/>
/// so that they are skipped, with a visible reason, when the folder is absent.
/// </remarks>
public static class SharedData
{
    /// <summary>The <c>shared</c> folder, or null when it could not be found.</summary>
    public static readonly string? Root = FindRoot();

    /// <summary>Why tests that need <see cref="Root"/> are skipped (null when it was found).</summary>
    public static string? MissingReason => Root is null
        ? $"shared test data not found: no 'shared/oracles' folder above {AppContext.BaseDirectory} (set REDRAFT_SHARED to override)"
        : null;

    /// <summary>
    /// Why a test that needs the data is skipped: the folder is missing on a bare clone. Null when it was found, and
    /// also under CI (<c>CI=true</c>), where a missing folder is a broken set-up: the tests then run and fail.
    /// </summary>
    public static string? SkipReason => Environment.GetEnvironmentVariable("CI") == "true" ? null : MissingReason;

    /// <summary><c>shared/oracles</c>.</summary>
    public static string OraclesDir => Path.Combine(RequireRoot(), "oracles");

    /// <summary><c>shared/data</c>.</summary>
    public static string DataDir => Path.Combine(RequireRoot(), "data");

    /// <summary><c>shared/data/clip</c>: the CLIP vocabulary (vocab.json + merges.txt).</summary>
    public static string ClipDir => Path.Combine(RequireRoot(), "data", "clip");

    /// <summary>Full path of a file under <c>shared/oracles</c>.</summary>
    public static string Oracle(string fileName) => Path.Combine(OraclesDir, fileName);

    private static string RequireRoot() =>
        Root ?? throw new InvalidOperationException(MissingReason);

    private static string? FindRoot()
    {
        string? overridePath = Environment.GetEnvironmentVariable("REDRAFT_SHARED");
        if (!string.IsNullOrEmpty(overridePath) && Directory.Exists(Path.Combine(overridePath, "oracles")))
        {
            return Path.GetFullPath(overridePath);
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(Path.Combine(candidate, "oracles")))
            {
                return candidate;
            }
        }

        return null;
    }
}

/// <summary>
/// A <see cref="FactAttribute"/> that skips the test, with the reason shown in the test output,
/// when <see cref="SharedData.Root"/> could not be found.
/// </summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    /// <summary>Creates the attribute; sets <see cref="FactAttribute.Skip"/> when the shared data is missing.</summary>
    public SharedDataFactAttribute()
    {
        Skip = SharedData.SkipReason;
    }
}

/// <summary>A <see cref="TheoryAttribute"/> that skips, with the reason shown, when the shared data is missing.</summary>
public sealed class SharedDataTheoryAttribute : TheoryAttribute
{
    /// <summary>Creates the attribute; sets <see cref="FactAttribute.Skip"/> when the shared data is missing.</summary>
    public SharedDataTheoryAttribute()
    {
        Skip = SharedData.SkipReason;
    }
}
