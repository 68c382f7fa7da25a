using System.Text.Json;

namespace Redraft.Diffusion.Tests.Sampling;

/// <summary>
/// Locates the shared oracle files (<c>shared/oracles</c> beside the repository, e.g.
/// /work/shared next to /work/wt-sampling). Set REDRAFT_SHARED to point at the shared folder explicitly.
/// </summary>
public static class OracleData
{
    private static readonly Lazy<string?> LazyDir = new(Find);

    /// <summary>The <c>shared/oracles</c> folder, or null when it cannot be found.</summary>
    public static string? OraclesDir => LazyDir.Value;

    /// <summary>Why oracle tests skip when the folder is missing.</summary>
    public const string MissingReason =
        "shared/oracles not found beside the repository (set REDRAFT_SHARED to the shared folder)";

    /// <summary>Parses one oracle JSON file.</summary>
    public static JsonDocument Load(string fileName)
    {
        var dir = OraclesDir ?? throw new InvalidOperationException(MissingReason);
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, fileName)));
    }

    private static string? Find()
    {
        var env = Environment.GetEnvironmentVariable("REDRAFT_SHARED");
        if (!string.IsNullOrEmpty(env))
        {
            var o = Path.Combine(env, "oracles");
            return Directory.Exists(o) ? o : null;
        }
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            // d is a folder whose sibling is shared/ (d = the repository or one of its ancestors).
            if (d.Parent == null) break;
            var candidate = Path.Combine(d.Parent.FullName, "shared", "oracles");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}

/// <summary>A fact that is skipped, with a visible reason, when the shared oracles are absent.</summary>
public sealed class OracleFactAttribute : FactAttribute
{
    public OracleFactAttribute()
    {
        if (OracleData.OraclesDir == null && SharedData.SkipReason is not null) Skip = OracleData.MissingReason;
    }
}

/// <summary>A theory that is skipped, with a visible reason, when the shared oracles are absent.</summary>
public sealed class OracleTheoryAttribute : TheoryAttribute
{
    public OracleTheoryAttribute()
    {
        if (OracleData.OraclesDir == null && SharedData.SkipReason is not null) Skip = OracleData.MissingReason;
    }
}
