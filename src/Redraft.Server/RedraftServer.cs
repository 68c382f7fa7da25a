using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Redraft.Diffusion;
using Redraft.Diffusion.Networks;
using Redraft.Server.Api;
using Redraft.Server.Jobs;

namespace Redraft.Server;

/// <summary>
/// The HTTP server that speaks AUTOMATIC1111's API (<c>redraft serve</c>). Start order: options checked, the start
/// model loaded on the generation thread (which sets up libtorch), then Kestrel; the URL is known once
/// <see cref="StartAsync"/> returns. Requests only parse, queue and wait: every generation runs through the one
/// <see cref="Studio.Generation.GenerationService"/> on its own thread.
/// </summary>
public static class RedraftServer
{
    /// <summary>A1111's live-preview interval (<c>show_progress_every_n_steps</c>), used when TAESD weights are found.</summary>
    public const int DefaultPreviewEvery = 10;

    /// <summary>Starts the server; it runs until the returned handle is stopped.</summary>
    /// <exception cref="RedraftInputException">An option is invalid or the start model cannot be loaded.</exception>
    public static async Task<RunningServer> StartAsync(ServerOptions options, TextWriter log, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Port is < 0 or > 65535) throw new RedraftInputException($"--port must be between 0 and 65535, got {options.Port}.");
        if (options.MaxBodyBytes < 1024) throw new RedraftInputException($"the request body limit must be at least 1024 bytes, got {options.MaxBodyBytes}.");
        if (options.MaxPixels < 64) throw new RedraftInputException($"--max-pixels must be at least 64 (8x8), got {options.MaxPixels}.");
        if (options.MaxImages < 1) throw new RedraftInputException($"--max-images must be at least 1, got {options.MaxImages}.");
        if (options.MaxSteps < 1) throw new RedraftInputException($"--max-steps must be at least 1, got {options.MaxSteps}.");
        var credentials = BasicAuthentication.Parse(options.ApiAuth);
        // Every interface means other machines: anyone who reaches the port could generate (and read the models list).
        if (options.Listen && credentials.Count == 0)
            throw new RedraftInputException("--listen opens the server to other machines: add --api-auth user:password (clients then log in with it), or leave out --listen to serve 127.0.0.1 only.");
        Regex? originRegex;
        try
        {
            originRegex = options.CorsAllowOriginsRegex is { Length: > 0 } re ? new Regex($"^(?:{re})$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)) : null;
        }
        catch (ArgumentException e)
        {
            throw new RedraftInputException($"--cors-allow-origins-regex: not a regular expression ({e.Message.ReplaceLineEndings(" ")}).");
        }

        var settings = ServerSettingsStore.Load(options.OptionsFile);
        string? explicitModel = options.Model is { } m && (File.Exists(m) || Directory.Exists(m)) ? Path.GetFullPath(m) : null;
        var library = ApiContext.CreateLibrary(options);   // disposed with the context
        var models = new ModelFolder(options.ModelsDir, explicitModel, library.Library);
        string? startModel = explicitModel;
        if (startModel is null && options.Model is { } name)
        {
            try
            {
                startModel = models.Resolve(name).Path;
            }
            catch (ApiException)
            {
                throw new RedraftInputException($"--model: \"{name}\" is neither a file nor a checkpoint in {models.Root}.");
            }
        }
        // The checkpoint a client chose last time (A1111 starts with its config.json's), unless --model says otherwise.
        if (startModel is null && settings.Snapshot()[A1111Options.Checkpoint] is JsonValue stored && stored.ToString() is { Length: > 0 } storedName)
        {
            try
            {
                startModel = models.Resolve(storedName).Path;
            }
            catch (ApiException)
            {
                log.WriteLine($"redraft serve: note: the saved sd_model_checkpoint \"{storedName}\" is no longer in {models.Root}; starting with the first checkpoint there.");
            }
        }
        startModel ??= models.Checkpoints().FirstOrDefault()?.Path;

        int previewEvery;
        try
        {
            TaesdLocator.Locate(options.Taesd);
            previewEvery = DefaultPreviewEvery;
        }
        catch (RedraftInputException) when (options.Taesd is null)
        {
            previewEvery = 0; // no TAESD weights installed: no live previews
        }

        BrokerJobQueue? brokerQueue = null;
        if (options.Broker is { } broker)
        {
            log.WriteLine($"redraft serve: connecting to the broker at {broker}; workers generate.");
            if (options.BrokerMaxMessageBytes < 1024 || options.BrokerMaxMessageBytes > Redraft.Broker.BrokerTopology.MaxMessageBytes)
                throw new RedraftInputException($"--broker-max-message-mb must be between 0.001 and {Redraft.Broker.BrokerTopology.MaxMessageBytes / 1048576}, got {options.BrokerMaxMessageBytes / 1048576.0}.");
            brokerQueue = await BrokerJobQueue.StartAsync(broker, models.Sha256, log, options.BrokerMaxMessageBytes, ct);
        }
        var context = new ApiContext(options, models, previewEvery, settings, library, brokerQueue);
        try
        {
            context.Styles.Load();
            if (startModel is not null && brokerQueue is not null)
            {
                // The workers load models; this process only describes them (documents choose working sizes).
                TorchRuntime.Initialize(options.Threads);
                context.DefaultModel = startModel;
            }
            else if (startModel is not null)
            {
                // Loads on the generation thread: libtorch and its threads are set up before any request arrives.
                await context.Service.DescribeAsync(context.BaseSettings(startModel), ct);
                context.DefaultModel = startModel;
                _ = Task.Run(() => models.Sha256(startModel), CancellationToken.None);
            }
            else
            {
                TorchRuntime.Initialize(options.Threads);
            }
            var app = Build(options, context, credentials, originRegex, log);
            await app.StartAsync(ct);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var url = new Uri(address);
            return new RunningServer(app, context, url, startModel);
        }
        catch
        {
            await context.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs the server until <paramref name="ct"/> is cancelled (Ctrl-C, SIGTERM), printing its URL once it listens.</summary>
    public static async Task RunAsync(ServerOptions options, TextWriter output, TextWriter log, CancellationToken ct)
    {
        await using var server = await StartAsync(options, log, ct);
        output.WriteLine($"redraft serve: listening on {server.Url} (AUTOMATIC1111 API at {new Uri(server.Url, "/sdapi/v1/")}; model: {(server.Model is null ? "none" : Path.GetFileName(server.Model))}); Ctrl-C stops it.");
        output.Flush();
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
        }
        log.WriteLine("redraft serve: stopping.");
    }

    private static WebApplication Build(ServerOptions options, ApiContext context, IReadOnlyList<byte[]> credentials, Regex? originRegex, TextWriter log)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        // Stopping is the caller's (the command's Ctrl-C/SIGTERM handling, a test's dispose): no signal handlers of the host's own.
        builder.Services.AddSingleton<IHostLifetime, CallerLifetime>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            k.Listen(options.Listen ? IPAddress.Any : IPAddress.Loopback, options.Port);
        });
        var origins = options.CorsAllowOrigins.ToHashSet(StringComparer.Ordinal);
        builder.Services.AddCors(c => c.AddDefaultPolicy(p => p
            .SetIsOriginAllowed(origin => origins.Contains(origin) || (originRegex?.IsMatch(origin) ?? false))
            .AllowAnyHeader().AllowAnyMethod().AllowCredentials()));

        var app = builder.Build();
        app.UseMiddleware<ErrorResponses>(log);
        // A1111 (Starlette) redirects /sdapi/v1/options/ to /sdapi/v1/options; clients post to both.
        app.Use((http, next) =>
        {
            if (http.Request.Path.Value is { Length: > 1 } path && path.EndsWith('/')) http.Request.Path = path.TrimEnd('/');
            return next(http);
        });
        app.UseCors();
        if (credentials.Count > 0) app.UseMiddleware<BasicAuthentication>(credentials);
        app.UseRouting();
        GenerationEndpoints.Map(app, context);
        ProgressEndpoints.Map(app, context);
        TaskEndpoints.Map(app, context);
        OptionsEndpoints.Map(app, context);
        ListEndpoints.Map(app, context);
        CheckpointEndpoints.Map(app, context);
        ModelEndpoints.Map(app, context);
        WorkerEndpoints.Map(app, context);
        DocumentEndpoints.Map(app, context);
        DocumentJobEndpoints.Map(app, context);
        DocumentLiveEndpoints.Map(app, context);
        DocumentEventEndpoints.Map(app, context);
        DocsEndpoints.Map(app, context);
        PageEndpoints.Map(app);
        app.MapFallback(() => Results.Json(new JsonObject { ["detail"] = "Not Found" }, statusCode: StatusCodes.Status404NotFound));
        return app;
    }

    /// <summary>A host lifetime that leaves signals to the caller.</summary>
    private sealed class CallerLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>A started server: its URL, and stopping it (running and queued jobs are cancelled).</summary>
public sealed class RunningServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ApiContext _context;
    private int _stopped;

    internal RunningServer(WebApplication app, ApiContext context, Uri url, string? model)
    {
        _app = app;
        _context = context;
        Url = url;
        Model = model;
    }

    /// <summary>The base URL, e.g. <c>http://127.0.0.1:7860/</c>.</summary>
    public Uri Url { get; }

    /// <summary>The port it listens on (the one chosen when 0 was asked).</summary>
    public int Port => Url.Port;

    /// <summary>The checkpoint loaded at start (absolute path), or null.</summary>
    public string? Model { get; }

    /// <summary>The routes the app maps (method, pattern), from its endpoint data sources: what <c>/openapi.json</c> must describe.</summary>
    internal IReadOnlyList<(string Method, string Pattern)> MappedRoutes() =>
        ((Microsoft.AspNetCore.Routing.IEndpointRouteBuilder)_app).DataSources
            .SelectMany(source => source.Endpoints)
            .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["*"])
                .Select(method => (method, "/" + e.RoutePattern.RawText!.TrimStart('/'))))
            .ToList();

    /// <summary>The server's shared state (tests look at the model cache through it).</summary>
    internal ApiContext Context => _context;

    /// <summary>Stops listening, cancels the jobs and waits for their requests to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        _context.Stopping.Cancel();
        // Jobs first: their requests end (503) while Kestrel still answers them, then Kestrel drains.
        await _context.Queue.DisposeAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _context.DisposeAsync();
    }
}
