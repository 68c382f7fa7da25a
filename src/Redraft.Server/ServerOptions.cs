using Redraft.Models;

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

    /// <summary>
    /// An AUTOMATIC1111 installation whose <c>models/Stable-diffusion</c>, <c>models/VAE</c> and <c>models/Lora</c> are
    /// offered too, used in place (<c>--a1111-dir</c>, else <c>REDRAFT_A1111_DIR</c>; null = none).
    /// </summary>
    public string? A1111Dir { get; init; }

    /// <summary>
    /// The Hugging Face settings: where catalogue downloads come from (<c>HF_ENDPOINT</c>, <c>HF_TOKEN</c>,
    /// <c>HF_HUB_OFFLINE</c>) and the cache whose models are offered in place (null = this process's environment).
    /// </summary>
    public HubEnvironment? Hub { get; init; }

    /// <summary>The models <c>/api/v1/models</c> offers to download (null = the built-in catalogue, or <c>REDRAFT_CATALOGUE</c>).</summary>
    public ModelCatalogue? Catalogue { get; init; }

    /// <summary>
    /// Folder of the studio documents the documents API (<c>/api/v1/documents</c>) serves, one sub-folder per document,
    /// the same folders <c>redraft doc</c> opens (null = <c>$REDRAFT_HOME/documents</c>).
    /// </summary>
    public string? DocumentsDir { get; init; }

    /// <summary>The model loaded at start and used when a request names none: a path, or a name inside <see cref="ModelsDir"/> (null = the first checkpoint there).</summary>
    public string? Model { get; init; }

    /// <summary>
    /// AUTOMATIC1111's <c>styles.csv</c> (<c>name,prompt,negative_prompt</c>) offered by <c>prompt-styles</c> and applied by a
    /// request's <c>styles</c>; read again when it changes. Null, or a file that does not exist, = no styles.
    /// </summary>
    public string? StylesFile { get; init; }

    /// <summary>Largest request body accepted, in bytes (base64 images make bodies large).</summary>
    public long MaxBodyBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Most pixels (width × height) one image of a request may have: 2048 × 2048 by default.</summary>
    public long MaxPixels { get; init; } = DefaultMaxPixels;

    /// <summary>Most images one request may make (<c>batch_size × n_iter</c>).</summary>
    public int MaxImages { get; init; } = 16;

    /// <summary>Most sampling steps one request may ask for.</summary>
    public int MaxSteps { get; init; } = 150;

    /// <summary>The default <see cref="MaxPixels"/>: 2048 × 2048.</summary>
    public const long DefaultMaxPixels = 2048L * 2048;

    /// <summary>
    /// Where the options clients set with <c>POST /sdapi/v1/options</c> are kept across restarts (A1111's
    /// <c>config.json</c>); null keeps them in memory only. <c>redraft serve</c> uses <c>$REDRAFT_HOME/server-options.json</c>.
    /// </summary>
    public string? OptionsFile { get; init; }

    /// <summary>
    /// The RabbitMQ broker whose workers generate (<c>--broker</c>): jobs are published there instead of running in this
    /// process (<see cref="Jobs.BrokerJobQueue"/>); null = generate here.
    /// </summary>
    public Redraft.Broker.BrokerAddress? Broker { get; init; }

    /// <summary>
    /// Largest job message published to the broker (its init image and mask are in it): a larger job is refused with
    /// 413. RabbitMQ's own limit (<c>max_message_size</c>) is 128 MiB unless its operator lowered it; keep this below that.
    /// </summary>
    public int BrokerMaxMessageBytes { get; init; } = Redraft.Broker.BrokerTopology.MaxMessageBytes;

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

    /// <summary>Reads a <c>--max-pixels</c> value: a pixel count, or a size <c>WxH</c> (<c>2048x2048</c>).</summary>
    /// <exception cref="RedraftInputException">Neither a positive count nor a size.</exception>
    public static long ParsePixels(string text)
    {
        string t = text.Trim();
        var parts = t.Split('x', 'X', '×');
        if (parts.Length == 2 && int.TryParse(parts[0], out int w) && int.TryParse(parts[1], out int h) && w > 0 && h > 0)
            return (long)w * h;
        if (parts.Length == 1 && long.TryParse(t, out long n) && n > 0) return n;
        throw new RedraftInputException($"--max-pixels: \"{text}\" is neither a pixel count nor a size such as 2048x2048.");
    }
}
