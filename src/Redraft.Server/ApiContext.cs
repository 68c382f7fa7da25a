using Redraft.Models;
using Redraft.Server.Api;
using Redraft.Server.Documents;
using Redraft.Server.Jobs;
using Redraft.Studio.Generation;

namespace Redraft.Server;

/// <summary>
/// What every endpoint shares: the server's options, its one <see cref="GenerationService"/> (one model cache; jobs
/// run one at a time on the generation thread), the model folder, the job queue, the default checkpoint
/// (A1111's <c>sd_model_checkpoint</c> option) and the other options clients set.
/// </summary>
internal sealed class ApiContext : IAsyncDisposable
{
    private volatile string? _defaultModel;
    private readonly ModelDownloader _downloader;

    public ApiContext(ServerOptions options, ModelFolder models, int previewEvery, ServerSettingsStore settings, (ModelLibrary Library, ModelDownloader Downloader)? library = null,
        IJobQueue? queue = null)
    {
        var (lib, downloader) = library ?? CreateLibrary(options);
        Options = options;
        Service = new GenerationService(describeOnly: options.Broker is not null);
        Models = models;
        Library = lib;
        _downloader = downloader;
        Downloads = new ModelDownloads(lib);
        Documents = new DocumentFolder(options.DocumentsDir ?? RedraftHome.Current.Documents);
        PreviewEvery = previewEvery;
        Settings = settings;
        Styles = new PromptStyles(options.StylesFile);
        Queue = queue ?? new InProcessJobQueue(Service);
        Live = new LiveJobs(Queue);
    }

    /// <summary>
    /// The model library of <paramref name="options"/>: its catalogue, the models folder, the A1111 folder and the
    /// Hugging Face cache, with the one downloader (one HTTP client) the server keeps for its life.
    /// </summary>
    public static (ModelLibrary Library, ModelDownloader Downloader) CreateLibrary(ServerOptions options)
    {
        var hub = options.Hub ?? HubEnvironment.Current;
        var places = new ModelPlaces(Path.GetFullPath(options.ModelsDir), RedraftHome.Current,
            options.A1111Dir is { } a1111 ? Path.GetFullPath(a1111) : null, hub.HubCache);
        var downloader = new ModelDownloader(hub);
        return (new ModelLibrary(options.Catalogue ?? ModelCatalogue.Load(), places, downloader), downloader);
    }

    public ServerOptions Options { get; }
    /// <summary>The generation service; with <c>--broker</c> it only describes models (the workers load and run them).</summary>
    public GenerationService Service { get; }
    public ModelFolder Models { get; }

    /// <summary>The catalogue and the models on disk (<c>/api/v1/models</c>).</summary>
    public ModelLibrary Library { get; }

    /// <summary>Catalogue downloads, in a queue of their own (never the generation queue).</summary>
    public ModelDownloads Downloads { get; }

    /// <summary>The studio documents of the documents API (<see cref="ServerOptions.DocumentsDir"/>).</summary>
    public DocumentFolder Documents { get; }

    /// <summary>Where every generation waits its turn; the endpoints submit and await.</summary>
    public IJobQueue Queue { get; }

    /// <summary>The documents' live jobs and their latest results (in memory).</summary>
    public LiveJobs Live { get; }

    /// <summary>The options clients set with <c>POST /sdapi/v1/options</c> (requests run with them).</summary>
    public ServerSettingsStore Settings { get; }

    /// <summary>The prompt styles (<c>--styles-file</c>).</summary>
    public PromptStyles Styles { get; }

    /// <summary>Live previews every this many steps (A1111's <c>show_progress_every_n_steps</c>); 0 when no TAESD weights were found.</summary>
    public int PreviewEvery { get; }

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

    /// <summary>Cancels every job, then frees the models.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!Stopping.IsCancellationRequested) Stopping.Cancel();
        await Downloads.DisposeAsync();
        _downloader.Dispose();
        await Queue.DisposeAsync();
        Stopping.Dispose();
        Service.Dispose();
    }
}
