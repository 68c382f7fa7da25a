namespace Redraft;

/// <summary>
/// Redraft's one home for files: <c>$REDRAFT_HOME</c>, default <c>~/.redraft</c>. Every feature that keeps files of
/// its own puts them in a sub-folder named here, and every such folder can be overridden by a flag of the command
/// that uses it (for example <c>--documents-dir</c>, <c>--models-dir</c>, <c>--taesd</c>, <c>--tokenizer</c>).
/// Nothing is created until a feature writes into its folder.
/// </summary>
public sealed record RedraftHome(string Root)
{
    /// <summary>Checkpoints, VAEs and LoRAs Redraft installs.</summary>
    public string Models => Path.Combine(Root, "models");

    /// <summary>Images written by generating commands when no output file is named.</summary>
    public string Outputs => Path.Combine(Root, "outputs");

    /// <summary>Documents opened by name.</summary>
    public string Documents => Path.Combine(Root, "documents");

    /// <summary>What can be made again (benchmark checkpoints, downloads in progress).</summary>
    public string Cache => Path.Combine(Root, "cache");

    /// <summary>The CLIP vocabulary (<c>vocab.json</c>, <c>merges.txt</c>) searched last by the tokenizer.</summary>
    public string Clip => Path.Combine(Root, "clip");

    /// <summary>The TAESD weights used for previews and drafts.</summary>
    public string Taesd => Path.Combine(Root, "taesd");

    /// <summary>The options clients set on <c>redraft serve</c> (<c>POST /sdapi/v1/options</c>), kept across restarts.</summary>
    public string ServerOptionsFile => Path.Combine(Root, "server-options.json");

    /// <summary>The home of this process: <c>REDRAFT_HOME</c>, else <c>~/.redraft</c>.</summary>
    public static RedraftHome Current => From(Environment.GetEnvironmentVariable);

    /// <summary>
    /// The home that <paramref name="environment"/> describes (<c>REDRAFT_HOME</c>, else <c>HOME</c> or
    /// <c>USERPROFILE</c> + <c>.redraft</c>); null-safe for tests that pass a dictionary's lookup.
    /// </summary>
    public static RedraftHome From(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (NonEmpty(environment("REDRAFT_HOME")) is { } explicitHome) return new RedraftHome(Path.GetFullPath(explicitHome));
        var user = NonEmpty(environment("HOME")) ?? NonEmpty(environment("USERPROFILE"))
            ?? NonEmpty(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile)) ?? Path.GetTempPath();
        return new RedraftHome(Path.GetFullPath(Path.Combine(user, ".redraft")));
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
