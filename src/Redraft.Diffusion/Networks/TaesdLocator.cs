namespace Redraft.Diffusion.Networks;

/// <summary>
/// Finds the folder holding TAESD's weights (<c>taesd_encoder.safetensors</c> + <c>taesd_decoder.safetensors</c>),
/// which <c>--vae taesd</c> needs. The project does not ship them.
/// </summary>
/// <remarks>
/// Search order (the first folder holding both files wins):
/// <list type="number">
/// <item>the folder given explicitly (if given, it must qualify: no fallback);</item>
/// <item><c>$REDRAFT_HOME/taesd/</c>, where <c>REDRAFT_HOME</c> defaults to <c>~/.redraft</c>.</item>
/// </list>
/// </remarks>
internal static class TaesdLocator
{
    /// <summary>The sub-folder of <c>REDRAFT_HOME</c> searched.</summary>
    public const string FolderName = "taesd";

    /// <summary>Returns the first qualifying folder, reading <c>HOME</c> and <c>REDRAFT_HOME</c> from the process environment.</summary>
    /// <param name="explicitFolder">A folder the user named, or null.</param>
    /// <returns>The full path of a folder that holds both TAESD files.</returns>
    /// <exception cref="RedraftInputException">No folder qualifies; the message says where to put which files.</exception>
    public static string Locate(string? explicitFolder) => Locate(explicitFolder, DefaultEnvironment);

    /// <summary>Returns the first qualifying folder, reading environment variables through <paramref name="getEnvironmentVariable"/> (for tests).</summary>
    /// <param name="explicitFolder">A folder the user named, or null.</param>
    /// <param name="getEnvironmentVariable">Looks up <c>HOME</c>, <c>USERPROFILE</c> and <c>REDRAFT_HOME</c>; null when unset.</param>
    /// <returns>The full path of a folder that holds both TAESD files.</returns>
    /// <exception cref="RedraftInputException">No folder qualifies; the message says where to put which files.</exception>
    public static string Locate(string? explicitFolder, Func<string, string?> getEnvironmentVariable)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        string files = $"{TinyAutoencoder.EncoderFileName} and {TinyAutoencoder.DecoderFileName}";
        string? home = RedraftTaesdFolder(getEnvironmentVariable);
        string fix = $"put {files} (TAESD for SD 1.x/2.x, from madebyollin/taesd) into {home ?? "$REDRAFT_HOME/taesd/"}";

        if (!string.IsNullOrWhiteSpace(explicitFolder))
        {
            string full = Path.GetFullPath(explicitFolder);
            if (Qualifies(full)) return full;
            string what = Directory.Exists(full) ? $"it lacks {string.Join(" and ", MissingFiles(full))}" : "the folder does not exist";
            throw new RedraftInputException($"TAESD weights not found in {full}: {what}; put {files} there.");
        }

        if (home is not null && Qualifies(home)) return home;
        string searched = home is null ? "no REDRAFT_HOME or home folder known" : $"searched {home}"
            + (Directory.Exists(home) ? $", which lacks {string.Join(" and ", MissingFiles(home))}" : " (does not exist)");
        throw new RedraftInputException($"TAESD weights not found ({searched}); {fix}.");
    }

    /// <summary>True when <paramref name="folder"/> holds both TAESD files.</summary>
    public static bool Qualifies(string folder) => !MissingFiles(folder).Any();

    private static IEnumerable<string> MissingFiles(string folder) =>
        new[] { TinyAutoencoder.EncoderFileName, TinyAutoencoder.DecoderFileName }
            .Where(f => !File.Exists(Path.Combine(folder, f)));

    private static string? RedraftTaesdFolder(Func<string, string?> env)
    {
        return Path.Combine(RedraftHome.From(env).Root, FolderName);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static string? DefaultEnvironment(string name)
    {
        string? value = Environment.GetEnvironmentVariable(name);
        if (value is null && name == "HOME")
            value = NonEmpty(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
        return value;
    }
}
