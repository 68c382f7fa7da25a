namespace Redraft.Diffusion.Text;

/// <summary>
/// Finds the folder that holds the CLIP vocabulary (<c>vocab.json</c> + <c>merges.txt</c>).
/// The project does not ship these files; they come from the model, the Hugging Face cache or the user.
/// </summary>
/// <remarks>
/// Search order (the first folder holding both files wins):
/// <list type="number">
/// <item>the folder given with <c>--tokenizer DIR</c> (if given, it must qualify: no fallback);</item>
/// <item>the model folder's <c>tokenizer/</c> sub-folder (diffusers layout);</item>
/// <item>the Hugging Face cache: <c>$HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else
/// <c>~/.cache/huggingface/hub</c>, then <c>models--openai--clip-vit-large-patch14/snapshots/*/</c>
/// (newest snapshot first);</item>
/// <item><c>$REDRAFT_HOME/clip/</c>, where <c>REDRAFT_HOME</c> defaults to <c>~/.redraft</c>.</item>
/// </list>
/// </remarks>
internal static class TokenizerLocator
{
    /// <summary>The Hugging Face repository whose cached snapshots are searched.</summary>
    public const string HuggingFaceRepository = "openai/clip-vit-large-patch14";

    /// <summary>
    /// Returns the first qualifying folder, reading <c>HOME</c>, <c>REDRAFT_HOME</c>, <c>HF_HOME</c> and
    /// <c>HF_HUB_CACHE</c> from the process environment.
    /// </summary>
    /// <param name="explicitDirectory">The <c>--tokenizer</c> folder, or null.</param>
    /// <param name="modelDirectory">The diffusers model folder, or null when the model is a single file.</param>
    /// <returns>The full path of a folder that holds <c>vocab.json</c> and <c>merges.txt</c>.</returns>
    /// <exception cref="RedraftInputException">No folder qualifies; the message lists the places searched.</exception>
    public static string Locate(string? explicitDirectory, string? modelDirectory) =>
        Locate(explicitDirectory, modelDirectory, DefaultEnvironment);

    /// <summary>
    /// Returns the first qualifying folder, reading environment variables through
    /// <paramref name="getEnvironmentVariable"/> (for tests).
    /// </summary>
    /// <param name="explicitDirectory">The <c>--tokenizer</c> folder, or null.</param>
    /// <param name="modelDirectory">The diffusers model folder, or null when the model is a single file.</param>
    /// <param name="getEnvironmentVariable">
    /// Looks up <c>HOME</c>, <c>REDRAFT_HOME</c>, <c>HF_HOME</c> and <c>HF_HUB_CACHE</c>; returns null when unset.
    /// When neither <c>HOME</c> nor <c>USERPROFILE</c> is known, places under the home folder are skipped.
    /// </param>
    /// <returns>The full path of a folder that holds <c>vocab.json</c> and <c>merges.txt</c>.</returns>
    /// <exception cref="RedraftInputException">No folder qualifies; the message lists the places searched.</exception>
    public static string Locate(string? explicitDirectory, string? modelDirectory, Func<string, string?> getEnvironmentVariable)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        string fix = $"pass --tokenizer DIR or copy {ClipTokenizer.VocabFileName} and {ClipTokenizer.MergesFileName} (from {HuggingFaceRepository}) into {RedraftClipDirectory(getEnvironmentVariable) ?? "$REDRAFT_HOME/clip/"}";

        if (!string.IsNullOrWhiteSpace(explicitDirectory))
        {
            string full = Path.GetFullPath(explicitDirectory);
            if (Qualifies(full))
            {
                return full;
            }

            string what = Directory.Exists(full)
                ? $"it lacks {string.Join(" and ", MissingFiles(full))}"
                : "the folder does not exist";
            throw new RedraftInputException(
                $"CLIP vocabulary ({ClipTokenizer.VocabFileName} + {ClipTokenizer.MergesFileName}) not found in --tokenizer {full}: {what}; {fix}.");
        }

        var searched = new List<string>();

        if (!string.IsNullOrWhiteSpace(modelDirectory))
        {
            string dir = Path.GetFullPath(Path.Combine(modelDirectory, "tokenizer"));
            searched.Add(dir);
            if (Qualifies(dir))
            {
                return dir;
            }
        }

        string? hubCache = HuggingFaceHubCache(getEnvironmentVariable);
        if (hubCache is not null)
        {
            string snapshots = Path.Combine(hubCache, "models--" + HuggingFaceRepository.Replace("/", "--", StringComparison.Ordinal), "snapshots");
            searched.Add(Path.Combine(snapshots, "*"));
            if (Directory.Exists(snapshots))
            {
                IEnumerable<DirectoryInfo> ordered = new DirectoryInfo(snapshots).EnumerateDirectories()
                    .OrderByDescending(d => d.LastWriteTimeUtc)
                    .ThenBy(d => d.Name, StringComparer.Ordinal);
                foreach (DirectoryInfo snapshot in ordered)
                {
                    if (Qualifies(snapshot.FullName))
                    {
                        return snapshot.FullName;
                    }
                }
            }
        }

        string? redraftClip = RedraftClipDirectory(getEnvironmentVariable);
        if (redraftClip is not null)
        {
            searched.Add(redraftClip);
            if (Qualifies(redraftClip))
            {
                return redraftClip;
            }
        }

        throw new RedraftInputException(
            $"CLIP vocabulary ({ClipTokenizer.VocabFileName} + {ClipTokenizer.MergesFileName}) not found; searched: {string.Join(", ", searched)}; {fix}.");
    }

    /// <summary>True when <paramref name="directory"/> holds both <c>vocab.json</c> and <c>merges.txt</c>.</summary>
    /// <param name="directory">The folder to test.</param>
    public static bool Qualifies(string directory) =>
        File.Exists(Path.Combine(directory, ClipTokenizer.VocabFileName))
        && File.Exists(Path.Combine(directory, ClipTokenizer.MergesFileName));

    private static IEnumerable<string> MissingFiles(string directory) =>
        new[] { ClipTokenizer.VocabFileName, ClipTokenizer.MergesFileName }
            .Where(f => !File.Exists(Path.Combine(directory, f)));

    private static string? Home(Func<string, string?> env) =>
        NonEmpty(env("HOME")) ?? NonEmpty(env("USERPROFILE"));

    private static string? HuggingFaceHubCache(Func<string, string?> env)
    {
        if (NonEmpty(env("HF_HUB_CACHE")) is { } hubCache)
        {
            return Path.GetFullPath(hubCache);
        }

        if (NonEmpty(env("HF_HOME")) is { } hfHome)
        {
            return Path.GetFullPath(Path.Combine(hfHome, "hub"));
        }

        return Home(env) is { } home ? Path.GetFullPath(Path.Combine(home, ".cache", "huggingface", "hub")) : null;
    }

    private static string? RedraftClipDirectory(Func<string, string?> env)
    {
        return RedraftHome.From(env).Clip;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static string? DefaultEnvironment(string name)
    {
        string? value = Environment.GetEnvironmentVariable(name);
        if (value is null && name == "HOME")
        {
            value = NonEmpty(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));
        }

        return value;
    }
}
