namespace Redraft.Server;

/// <summary>
/// How <c>redraft serve</c> runs: where it listens, who may call it, which models it offers, and the engine settings
/// every request shares (a request cannot choose threads or precision: they are the server's).
/// </summary>
public sealed record ServerOptions
{
    /// <summary>TCP port; 0 picks a free one (tests read the bound port back from <see cref="RunningServer.Port"/>).</summary>
    public int Port { get; init; } = 7860;

    /// <summary>Listen on every interface (0.0.0.0) instead of loopback only.</summary>
    public bool Listen { get; init; }

    /// <summary>HTTP Basic credentials as <c>user:password</c> pairs; empty = no authentication.</summary>
    public IReadOnlyList<string> ApiAuth { get; init; } = [];

    /// <summary>Browser origins allowed by CORS, exactly as sent in the <c>Origin</c> header.</summary>
    public IReadOnlyList<string> CorsAllowOrigins { get; init; } = [];

    /// <summary>A regular expression an allowed browser origin matches as a whole (null = none).</summary>
    public string? CorsAllowOriginsRegex { get; init; }

    /// <summary>Folder of checkpoints (LoRAs in its <c>Lora</c> sub-folder, VAEs in <c>VAE</c>).</summary>
    public required string ModelsDir { get; init; }

    /// <summary>The model loaded at start and used when a request names none: a path, or a name inside <see cref="ModelsDir"/> (null = the first checkpoint there).</summary>
    public string? Model { get; init; }

    /// <summary>
    /// AUTOMATIC1111's <c>styles.csv</c> (<c>name,prompt,negative_prompt</c>) offered by <c>prompt-styles</c> and applied by a
    /// request's <c>styles</c>; read again when it changes. Null, or a file that does not exist, = no styles.
    /// </summary>
    public string? StylesFile { get; init; }

    /// <summary>Largest request body accepted, in bytes (base64 images make bodies large).</summary>
    public long MaxBodyBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>CPU threads of every generation (null = physical cores).</summary>
    public int? Threads { get; init; }

    /// <summary>UNet precision of every generation: <c>auto</c>, <c>bf16</c>, <c>fp32</c>.</summary>
    public string DType { get; init; } = "auto";

    /// <summary>VAE precision of every generation.</summary>
    public string VaeDType { get; init; } = "fp32";

    /// <summary>Load the networks only while they run (less memory, same bytes).</summary>
    public bool LowMemory { get; init; }

    /// <summary>Folder with the CLIP vocabulary (null = the usual search order).</summary>
    public string? Tokenizer { get; init; }

    /// <summary>Folder with the TAESD weights for live previews (null = <c>$REDRAFT_HOME/taesd</c>; previews are off when it has none).</summary>
    public string? Taesd { get; init; }
}
