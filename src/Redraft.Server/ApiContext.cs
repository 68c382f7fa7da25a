using Redraft.Server.Api;
using Redraft.Studio.Generation;

namespace Redraft.Server;

/// <summary>
/// What every endpoint shares: the server's options, its one <see cref="GenerationService"/> (one model cache; jobs
/// run one at a time on the generation thread), the model folder, the running job, and the default checkpoint
/// (A1111's <c>sd_model_checkpoint</c> option).
/// </summary>
internal sealed class ApiContext(ServerOptions options, ModelFolder models, int previewEvery) : IDisposable
{
    private volatile string? _defaultModel;

    public ServerOptions Options { get; } = options;
    public GenerationService Service { get; } = new();
    public ModelFolder Models { get; } = models;
    public JobTracker Jobs { get; } = new();

    /// <summary>The prompt styles (<c>--styles-file</c>).</summary>
    public PromptStyles Styles { get; } = new(options.StylesFile);

    /// <summary>Live previews every this many steps (A1111's <c>show_progress_every_n_steps</c>); 0 when no TAESD weights were found.</summary>
    public int PreviewEvery { get; } = previewEvery;

    /// <summary>Cancelled when the server stops: running and queued jobs end.</summary>
    public CancellationTokenSource Stopping { get; } = new();

    /// <summary>The checkpoint used when a request names none (absolute path), or null when there is none.</summary>
    public string? DefaultModel
    {
        get => _defaultModel;
        set => _defaultModel = value;
    }

    /// <summary>Settings with the server-wide engine options for <paramref name="model"/>; the request fills in the rest.</summary>
    public GenerationSettings BaseSettings(string model) => new()
    {
        Prompt = "",
        Model = model,
        Tokenizer = Options.Tokenizer,
        Taesd = Options.Taesd,
        DType = Options.DType,
        VaeDType = Options.VaeDType,
        Threads = Options.Threads,
        LowMemory = Options.LowMemory,
        PreviewEvery = PreviewEvery,
    };

    public void Dispose()
    {
        Stopping.Dispose();
        Service.Dispose();
    }
}
