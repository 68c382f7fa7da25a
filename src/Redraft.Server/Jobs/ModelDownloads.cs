using System.Collections.Concurrent;
using System.Threading.Channels;
using Redraft.Models;

namespace Redraft.Server.Jobs;

/// <summary>Where a catalogue download is.</summary>
internal enum ModelDownloadState
{
    /// <summary>Waiting for an earlier download.</summary>
    Queued,
    /// <summary>Bytes are arriving (or it waits for another process downloading the same file).</summary>
    Running,
    /// <summary>Verified and in place (or it was installed already).</summary>
    Done,
    /// <summary>Ended with an error.</summary>
    Failed,
    /// <summary>Cancelled (<c>DELETE /api/v1/models/downloads/{id}</c>), or the server stopped before it ended.</summary>
    Cancelled,
}

/// <summary>A catalogue download as <c>GET /api/v1/models/downloads/{id}</c> reports it.</summary>
/// <param name="Id">The download's id.</param>
/// <param name="Name">The catalogue entry.</param>
/// <param name="State">queued, running, done, failed or cancelled.</param>
/// <param name="File">The file arriving now (an entry may have two).</param>
/// <param name="Bytes">Bytes on disk so far, over all of the entry's files.</param>
/// <param name="Total">The entry's size, when known.</param>
/// <param name="BytesPerSecond">The current rate.</param>
/// <param name="Error">Why it failed.</param>
/// <param name="Path">The installed model, once done.</param>
/// <param name="StartedAt">When it began running (UTC).</param>
/// <param name="FinishedAt">When it ended (UTC).</param>
internal sealed record ModelDownloadView(string Id, string Name, string State, string? File, long Bytes, long? Total, double BytesPerSecond,
    string? Error, string? Path, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt);

/// <summary>
/// The server's catalogue downloads: a queue of their own, run one at a time on a task of their own and never through
/// the generation queue (<see cref="IJobQueue"/>), so a multi-GB download never holds up a generation and a
/// generation never holds up a download. Asking for an entry that is queued or downloading answers the same download.
/// Downloads are kept in memory; <see cref="Cancel"/> and the server's stop cancel the running one (its <c>.part</c>
/// file stays, and the next download of the entry resumes it).
/// </summary>
internal sealed class ModelDownloads : IAsyncDisposable
{
    private readonly ModelLibrary _library;
    private readonly Channel<Download> _queue = Channel.CreateUnbounded<Download>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, Download> _all = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _worker;
    private readonly Lock _gate = new();

    public ModelDownloads(ModelLibrary library)
    {
        _library = library;
        _worker = Task.Run(RunAsync);
    }

    /// <summary>Queues a download of <paramref name="entry"/>, or answers the one already queued or running.</summary>
    public ModelDownloadView Start(CatalogueEntry entry, bool acceptLicence)
    {
        lock (_gate)
        {
            var active = _all.Values.FirstOrDefault(d => d.Entry.Name == entry.Name && d.State is ModelDownloadState.Queued or ModelDownloadState.Running);
            if (active is not null) return active.View();
            var download = new Download(Guid.NewGuid().ToString("N")[..12], entry, acceptLicence);
            _all[download.Id] = download;
            _queue.Writer.TryWrite(download);
            return download.View();
        }
    }

    /// <summary>A download by id, or null.</summary>
    public ModelDownloadView? Find(string id) => _all.TryGetValue(id, out var d) ? d.View() : null;

    /// <summary>
    /// Cancels a queued download (it never runs) or the running one (its <c>.part</c> stays to resume); one that has
    /// ended stays as it is. Answers the download as it is then (a running one ends cancelled a moment later), or null.
    /// </summary>
    public ModelDownloadView? Cancel(string id)
    {
        if (!_all.TryGetValue(id, out var download)) return null;
        download.Cancel();
        return download.View();
    }

    private async Task RunAsync()
    {
        try
        {
            await foreach (var download in _queue.Reader.ReadAllAsync(_stop.Token))
                await download.RunAsync(_library, _stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
        foreach (var left in _all.Values) left.CancelIfWaiting();
    }

    /// <summary>Cancels the running download and forgets the queued ones.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync();
        await _worker;
        _stop.Dispose();
    }

    /// <summary>One download and its progress; reported from the downloader's task, read by requests.</summary>
    private sealed class Download(string id, CatalogueEntry entry, bool acceptLicence) : IProgress<DownloadProgress>
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<string, long> _fileBytes = new(StringComparer.Ordinal);
        private readonly CancellationTokenSource _cancel = new();
        private string? _file, _error, _path;
        private double _rate;
        private DateTimeOffset? _started, _finished;

        public string Id => id;
        public CatalogueEntry Entry => entry;
        public ModelDownloadState State { get; private set; } = ModelDownloadState.Queued;

        public ModelDownloadView View()
        {
            lock (_gate)
                return new ModelDownloadView(id, entry.Name, State.ToString().ToLowerInvariant(), _file, _fileBytes.Values.Sum(),
                    entry.Size, _rate, _error, _path, _started, _finished);
        }

        // Reported synchronously on the downloader's task (Progress<T> would post to the thread pool, out of order).
        public void Report(DownloadProgress value)
        {
            lock (_gate)
            {
                _file = value.File;
                _fileBytes[value.File] = value.Bytes;
                _rate = value.BytesPerSecond;
            }
        }

        public async Task RunAsync(ModelLibrary library, CancellationToken ct)
        {
            lock (_gate)
            {
                if (State != ModelDownloadState.Queued) return;   // cancelled while it waited
                State = ModelDownloadState.Running;
                _started = DateTimeOffset.UtcNow;
            }
            using var either = CancellationTokenSource.CreateLinkedTokenSource(ct, _cancel.Token);
            try
            {
                var (model, _) = await library.PullAsync(entry, acceptLicence, ask: null, this, either.Token);
                End(ModelDownloadState.Done, null, model.Path);
            }
            catch (OperationCanceledException) when (_cancel.IsCancellationRequested)
            {
                End(ModelDownloadState.Cancelled, "cancelled; the next download of this model resumes the .part file.", null);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                End(ModelDownloadState.Cancelled, "the server stopped; the next download of this model resumes the .part file.", null);
            }
            catch (Exception e)   // a background job: whatever ended it is its answer
            {
                End(ModelDownloadState.Failed, e.Message.ReplaceLineEndings(" "), null);
            }
        }

        public void CancelIfWaiting()
        {
            lock (_gate)
                if (State == ModelDownloadState.Queued) End(ModelDownloadState.Cancelled, "the server stopped before it began.", null);
        }

        public void Cancel()
        {
            bool running;
            lock (_gate)
            {
                if (State == ModelDownloadState.Queued) End(ModelDownloadState.Cancelled, "cancelled before it began.", null);
                running = State == ModelDownloadState.Running;
            }
            // Outside the lock: cancellation runs the download's callbacks on this thread.
            if (running) _cancel.Cancel();
        }

        private void End(ModelDownloadState state, string? error, string? path)
        {
            lock (_gate)
            {
                State = state;
                _error = error;
                _path = path;
                _finished = DateTimeOffset.UtcNow;
            }
        }
    }
}
