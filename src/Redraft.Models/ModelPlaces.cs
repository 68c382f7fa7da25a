namespace Redraft.Models;

/// <summary>
/// Where models live: the models folder Redraft installs into (<c>$REDRAFT_HOME/models</c> or <c>--models-dir</c>:
/// checkpoints at its top, VAEs in <c>VAE/</c>, LoRAs in <c>Lora/</c>), the home's <c>clip/</c> and <c>taesd/</c>
/// (where the tokenizer and the engine look), and two places read in place, never written: the Hugging Face cache
/// and an AUTOMATIC1111 folder (<c>--a1111-dir</c> or <c>REDRAFT_A1111_DIR</c>).
/// </summary>
/// <param name="ModelsDir">The models folder (absolute).</param>
/// <param name="Home">Redraft's home.</param>
/// <param name="A1111Dir">An AUTOMATIC1111 installation (its <c>models/</c> is read), or null.</param>
/// <param name="HubCache">The Hugging Face cache, or null.</param>
public sealed record ModelPlaces(string ModelsDir, RedraftHome Home, string? A1111Dir, string? HubCache)
{
    /// <summary>The environment variable naming an AUTOMATIC1111 folder.</summary>
    public const string A1111Variable = "REDRAFT_A1111_DIR";

    /// <summary>The places for the given options (null = the default) and this process's environment.</summary>
    public static ModelPlaces From(string? modelsDir, string? a1111Dir, HubEnvironment hub, Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        var home = RedraftHome.From(env);
        string? a1111 = a1111Dir ?? (env(A1111Variable) is { Length: > 0 } fromEnv ? fromEnv : null);
        return new ModelPlaces(Path.GetFullPath(modelsDir ?? home.Models), home, a1111 is null ? null : Path.GetFullPath(a1111), hub.HubCache);
    }

    /// <summary>The folder a model of <paramref name="role"/> is installed into.</summary>
    public string FolderFor(ModelRole role) => role switch
    {
        ModelRole.Vae => Path.Combine(ModelsDir, "VAE"),
        ModelRole.Lora => Path.Combine(ModelsDir, "Lora"),
        ModelRole.Taesd => Home.Taesd,
        ModelRole.Tokenizer => Home.Clip,
        _ => ModelsDir,
    };

    /// <summary>The record of what Redraft downloaded (and which licences were accepted).</summary>
    public string ManifestPath => Path.Combine(ModelsDir, ".redraft-models.json");

    /// <summary>The AUTOMATIC1111 folder of <paramref name="role"/>'s files, or null.</summary>
    public string? A1111FolderFor(ModelRole role) => A1111Dir is null ? null : role switch
    {
        ModelRole.Checkpoint => Path.Combine(A1111Dir, "models", "Stable-diffusion"),
        ModelRole.Vae => Path.Combine(A1111Dir, "models", "VAE"),
        ModelRole.Lora => Path.Combine(A1111Dir, "models", "Lora"),
        _ => null,
    };
}
