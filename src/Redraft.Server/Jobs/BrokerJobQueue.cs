using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Redraft.Broker;
using Redraft.Broker.Messages;
using Redraft.Diffusion.Pipelines;
using Redraft.Server.Api;
using Redraft.Studio.Generation;

namespace Redraft.Server.Jobs;

/// <summary>
/// The queue of a server whose workers generate (<c>redraft serve --broker</c>): jobs wait here, interleaved between
/// clients (fair share: a client's batch of 50 does not starve the others), and are published to the broker only as
/// workers can take them, so the interleaving holds. Each job is a persistent message confirmed by the broker; results
/// come back on a durable queue and are committed once per job id (a redelivered job's second result is dropped), then
/// acknowledged. Progress, previews and failed attempts come back as events; interrupt, skip and cancel go to the
/// workers. While the broker is unreachable, <see cref="Submit"/> refuses with 503 and accepted jobs wait.
/// </summary>
public sealed class BrokerJobQueue : IJobQueue
{
    private readonly BrokerConnector _connector;
    private readonly Func<string, string> _sha256;
    private readonly TextWriter _log;
    private readonly object _gate = new();
    private readonly Dictionary<string, GenerationJob> _live = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);   // by job id
    private readonly Dictionary<string, Entry> _wire = new(StringComparer.Ordinal);      // by wire id
    private readonly List<Entry> _pending = [];
    private readonly List<Entry> _published = [];
    private readonly EndedJobs _finished = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly SemaphoreSlim _publish = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private IChannel? _channel;
    private IChannel? _consumers;
    private Task? _dispatcher;
    private long _accepted;
    private string? _lastClient;
    private bool _stopped;

    /// <summary>A job and its message (under its <paramref name="Wire"/> id, unique to this submission), waiting here or published.</summary>
    private sealed record Entry(GenerationJob Job, string Wire, byte[] Body, string ModelSha256)
    {
        public string? LastError { get; set; }
    }

    private readonly int _maxMessageBytes;

    private BrokerJobQueue(BrokerConnector connector, Func<string, string> sha256, TextWriter log, int maxMessageBytes)
    {
        _maxMessageBytes = maxMessageBytes;
        _connector = connector;
        _sha256 = sha256;
        _log = log;
    }

    /// <summary>The workers heard from.</summary>
    public WorkerRegistry Workers { get; } = new();

    /// <summary>The broker.</summary>
    public BrokerAddress Address => _connector.Address;

    /// <summary>Whether the broker is reachable now.</summary>
    public bool Connected => _connector.IsOpen;

    /// <summary>
    /// Connects (retrying until the broker answers or <paramref name="ct"/> ends), declares the topology and starts
    /// consuming results, events, dead letters and heartbeats.
    /// </summary>
    /// <param name="address">The broker.</param>
    /// <param name="sha256">The SHA-256 of a model file on this server (jobs name their files by content).</param>
    /// <param name="log">The server's log.</param>
    /// <param name="maxMessageBytes">Largest job message; a larger job is refused with 413.</param>
    /// <param name="ct">Gives up connecting.</param>
    public static async Task<BrokerJobQueue> StartAsync(BrokerAddress address, Func<string, string> sha256, TextWriter log, int maxMessageBytes, CancellationToken ct)
    {
        var queue = new BrokerJobQueue(new BrokerConnector(address, "redraft-serve", log), sha256, log, maxMessageBytes);
        try
        {
            var connection = await queue._connector.ConnectAsync(ct);
            queue._channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
            await BrokerTopology.DeclareAsync(queue._channel, ct);
            queue._consumers = await connection.CreateChannelAsync(cancellationToken: ct);
            await queue._consumers.BasicQosAsync(0, 16, false, ct);
            var results = new AsyncEventingBasicConsumer(queue._consumers);
            results.ReceivedAsync += (_, e) => queue.OnResult(e);
            await queue._consumers.BasicConsumeAsync(BrokerTopology.ResultsQueue, autoAck: false, results, ct);
            await queue.Listen(BrokerTopology.EventsExchange, "job.#", queue.OnEvent, ct);
            var dead = new AsyncEventingBasicConsumer(queue._consumers);
            dead.ReceivedAsync += (_, e) => queue.OnDead(e);
            await queue._consumers.BasicConsumeAsync(BrokerTopology.DeadNoticesQueue, autoAck: false, dead, ct);
            await queue.Listen(BrokerTopology.WorkersExchange, "", queue.OnHeartbeat, ct);
            queue._dispatcher = Task.Run(queue.DispatchLoop, CancellationToken.None);
            return queue;
        }
        catch
        {
            await queue._connector.DisposeAsync();
            throw;
        }
    }

    /// <summary>A queue of this server's own, bound to <paramref name="exchange"/>, gone with the connection (re-made on recovery).</summary>
    private async Task Listen(string exchange, string key, Func<BasicDeliverEventArgs, Task> handle, CancellationToken ct)
    {
        var q = await _consumers!.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true, cancellationToken: ct);
        await _consumers.QueueBindAsync(q.QueueName, exchange, key, cancellationToken: ct);
        var consumer = new AsyncEventingBasicConsumer(_consumers);
        consumer.ReceivedAsync += (_, e) => handle(e);
        await _consumers.BasicConsumeAsync(q.QueueName, autoAck: true, consumer, ct);
    }

    /// <inheritdoc/>
    public GenerationJob Submit(JobSubmission submission)
    {
        ArgumentNullException.ThrowIfNull(submission);
        if (!_connector.IsOpen)
            throw new ApiException(StatusCodes.Status503ServiceUnavailable,
                $"the job broker at {_connector.Address} is unreachable; nothing was queued. Try again once it is back (workers and the server reconnect by themselves).", "ServiceUnavailable");
        var s = submission.Settings;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            if (submission.Id is { } asked && _live.ContainsKey(asked)) throw new DuplicateJobException(asked);
        }
        string id = submission.Id ?? NewId(submission.Kind);
        string modelSha = _sha256(s.Model);
        // Routed by content: while workers are heard from and none has these bytes, the job could only wait.
        if (Workers.Alive().Count > 0 && Workers.Serving(modelSha) == 0)
            throw new ApiException(StatusCodes.Status503ServiceUnavailable,
                $"no live worker serves the checkpoint {Path.GetFileName(s.Model)} (sha256 {modelSha[..10]}); start a worker with it (redraft worker --models-dir a folder holding it), or ask for one GET /sdapi/v1/sd-models lists.", "ServiceUnavailable");
        string wire = Guid.NewGuid().ToString("N");
        string? config = s.Config ?? Redraft.Diffusion.Checkpoints.LdmYamlConfig.FindBeside(s.Model);
        var message = new JobMessage(wire, id, submission.Kind, s, new ModelReference(Path.GetFileName(s.Model), modelSha),
            config is null ? null : new ModelReference(Path.GetFileName(config), _sha256(config)),
            s.Vae is { } vae && !vae.Equals("taesd", StringComparison.OrdinalIgnoreCase) ? new ModelReference(Path.GetFileName(vae), _sha256(vae)) : null,
            [.. s.Loras.Select(l => new LoraReference(Path.GetFileNameWithoutExtension(l.Path), _sha256(l.Path), l.Weight))],
            WireImages.InitPng(submission.Inputs), WireImages.MaskPng(submission.Inputs), submission.Client);
        byte[] body = BrokerJson.Write(message);
        if (body.Length > _maxMessageBytes)
            throw new ApiException(StatusCodes.Status413PayloadTooLarge,
                $"the job's message is {body.Length / 1048576.0:0.0} MB, over the broker's limit of {_maxMessageBytes / 1048576.0:0.#} MB (--broker-max-message-mb); send a smaller init image or mask.");
        GenerationJob job;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            if (_live.ContainsKey(id)) throw new DuplicateJobException(id);
            job = new GenerationJob(id, ++_accepted, submission);
            job.Remote = action => _ = Control(wire, action);
            var entry = new Entry(job, wire, body, modelSha);
            _live.Add(id, job);
            _entries.Add(id, entry);
            _wire.Add(wire, entry);
            _pending.Add(entry);
            TellPositions();
        }
        _wake.Release();
        return job;
    }

    /// <inheritdoc/>
    public GenerationJob? Find(string id)
    {
        lock (_gate)
        {
            return _live.TryGetValue(id, out var job) ? job : _finished.Latest(id);
        }
    }

    /// <inheritdoc/>
    public bool Cancel(string id, string reason = "cancelled")
    {
        bool published;
        GenerationJob job;
        string wire;
        lock (_gate)
        {
            if (!_entries.TryGetValue(id, out var entry)) return false;
            job = entry.Job;
            wire = entry.Wire;
            job.CancelReason(reason);
            published = _published.Remove(entry);
            _pending.Remove(entry);
            Forget(entry);
            TellPositions();
        }
        // A published job is dropped by the worker that holds or later receives it; its result, if one still comes, is
        // dropped here (the job has ended).
        if (published) _ = Control(wire, "cancel");
        job.End(new OperationCanceledException("cancelled"));
        _wake.Release();
        return true;
    }

    /// <inheritdoc/>
    public QueueSnapshot Snapshot()
    {
        lock (_gate)
        {
            var running = _published.Where(e => e.Job.Status == JobStatus.Running).Select(e => e.Job).OrderBy(j => j.Number).ToList();
            var waiting = _published.Where(e => e.Job.Status == JobStatus.Queued).Select(e => e.Job).OrderBy(j => j.Number)
                .Concat(DispatchOrder().Select(e => e.Job)).ToList();
            return new QueueSnapshot(running.FirstOrDefault(), waiting, _finished.Ids(), [.. running.Skip(1)]);
        }
    }

    /// <summary>Cancels every job and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        List<Entry> all;
        lock (_gate)
        {
            if (_stopped) return;
            _stopped = true;
            all = [.. _pending, .. _published];
            _pending.Clear();
            _published.Clear();
            foreach (var e in all) Forget(e);
        }
        foreach (var e in all)
        {
            e.Job.CancelReason("server-stopping");
            e.Job.End(new OperationCanceledException("the server is stopping"));
        }
        await _stopping.CancelAsync();
        try
        {
            if (_dispatcher is not null) await _dispatcher;
        }
        finally
        {
            await _connector.DisposeAsync();
        }
    }

    private string NewId(string kind)
    {
        lock (_gate)
        {
            string id;
            do id = TaskIds.New(kind);
            while (_live.ContainsKey(id));
            return id;
        }
    }

    /// <summary>
    /// The waiting jobs in the order they will be published: jumped (<see cref="JobSubmission.Ahead"/>) jobs first,
    /// then one job per client in turn, each client's in its own order. Under the lock.
    /// </summary>
    private List<Entry> DispatchOrder()
    {
        var ahead = _pending.Where(e => e.Job.Ahead).OrderBy(e => e.Job.Number).ToList();
        var byClient = _pending.Where(e => !e.Job.Ahead).GroupBy(e => e.Job.Client)
            .Select(g => new Queue<Entry>(g.OrderBy(e => e.Job.Number)))
            .ToList();
        // Clients take turns in the order of their oldest job, starting after the client served last.
        var order = byClient.OrderBy(q => q.Peek().Job.Number).ToList();
        int start = order.FindIndex(q => q.Peek().Job.Client == _lastClient);
        if (start >= 0) order = [.. order.Skip(start + 1), .. order.Take(start + 1)];
        var result = new List<Entry>(ahead);
        while (order.Count > 0)
            foreach (var q in order.ToList())
            {
                result.Add(q.Dequeue());
                if (q.Count == 0) order.Remove(q);
            }
        return result;
    }

    private void TellPositions()
    {
        int position = _published.Count(e => e.Job.Status == JobStatus.Queued);
        foreach (var e in DispatchOrder()) e.Job.Queued(++position);
    }

    private void Forget(Entry entry)
    {
        _live.Remove(entry.Job.Id);
        _entries.Remove(entry.Job.Id);
        _wire.Remove(entry.Wire);
        _finished.Add(entry.Job);
    }

    /// <summary>
    /// Publishes waiting jobs while workers can take them: per checkpoint, as many jobs out as live workers serve it,
    /// and in all no more than live workers (at least one each, so a job waits in the broker for a worker that starts
    /// later): a worker serving several checkpoints is one worker, so jobs do not wait on it while others are idle.
    /// </summary>
    private async Task DispatchLoop()
    {
        var ct = _stopping.Token;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await _wake.WaitAsync(TimeSpan.FromMilliseconds(500), ct);
                while (!ct.IsCancellationRequested && _connector.IsOpen)
                {
                    Entry? next;
                    lock (_gate)
                    {
                        int workers = Math.Max(1, Workers.Alive().Count(w => !w.Beat.Stopping));
                        next = _published.Count >= workers ? null : DispatchOrder().FirstOrDefault(e =>
                            _published.Count(p => p.ModelSha256 == e.ModelSha256) < Math.Max(1, Workers.Serving(e.ModelSha256)));
                        if (next is null) break;
                        _pending.Remove(next);
                        _published.Add(next);
                        if (!next.Job.Ahead) _lastClient = next.Job.Client;
                    }
                    try
                    {
                        await _publish.WaitAsync(ct);
                        try
                        {
                            var channel = await EnsureChannelAsync(ct);
                            await BrokerTopology.DeclareJobQueueAsync(channel, next.ModelSha256, ct);
                            await channel.BasicPublishAsync(BrokerTopology.JobsExchange, BrokerTopology.ModelKey(next.ModelSha256), mandatory: true,
                                BrokerTopology.Persistent(JobMessage.Type, next.Wire), next.Body, ct);
                        }
                        finally
                        {
                            _publish.Release();
                        }
                    }
                    catch (Exception e) when (!ct.IsCancellationRequested)
                    {
                        // Not confirmed: the job waits here again (first in line) until the broker takes it.
                        _log.WriteLine($"redraft serve: publishing {next.Job.Id} failed ({e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}); it waits for the broker.");
                        lock (_gate)
                        {
                            if (_published.Remove(next)) _pending.Insert(0, next);
                        }
                        await Task.Delay(500, ct);
                        break;
                    }
                    lock (_gate) TellPositions();
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The server is stopping.
        }
    }

    /// <summary>The publishing channel, made again when the broker closed it (a channel error) while the connection stays.</summary>
    private async Task<IChannel> EnsureChannelAsync(CancellationToken ct)
    {
        if (_channel is { IsOpen: true } open) return open;
        var channel = await _connector.Connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
        await BrokerTopology.DeclareAsync(channel, ct);
        _channel = channel;
        return channel;
    }

    /// <summary>
    /// Takes the job whose message has <paramref name="wire"/> id out of the published ones, or null when it already
    /// ended (cancelled, dead-lettered, or this is a second result): whoever claims it ends it, exactly once.
    /// </summary>
    private Entry? Claim(string? wire)
    {
        lock (_gate)
        {
            if (wire is null || !_wire.TryGetValue(wire, out var entry) || !_published.Remove(entry)) return null;
            Forget(entry);
            TellPositions();
            return entry;
        }
    }

    private async Task OnResult(BasicDeliverEventArgs delivery)
    {
        try
        {
            var result = BrokerJson.Read<ResultMessage>(delivery.Body);
            if (Claim(result.Job) is { } entry)
            {
                _wake.Release();
                Complete(entry, result);
            }
            else
                _log.WriteLine($"redraft serve: a result from {result.Worker} arrived for a job that has ended (cancelled, or answered before); dropped.");
        }
        catch (BrokerMessageException e)
        {
            _log.WriteLine($"redraft serve: dropped an unreadable result ({e.Message}).");
        }
        // Acknowledged after the commit: a server that dies before it gets the result again.
        await _consumers!.BasicAckAsync(delivery.DeliveryTag, multiple: false);
    }

    /// <summary>Ends a claimed job with its result: the commit runs here, once, then the job ends.</summary>
    private static void Complete(Entry entry, ResultMessage result)
    {
        var job = entry.Job;
        if (result.Cancelled)
        {
            job.End(new OperationCanceledException("cancelled on the worker"));
            return;
        }
        if (result.Error is { } error)
        {
            job.End(new WorkerFailureException($"job {job.Id}: {error}"));
            return;
        }
        try
        {
            if (job.Status == JobStatus.Queued) job.Start();
            var output = Output(job, result);
            JsonObject? committed = null;
            if (job.Commit is { } commit)
            {
                job.Committing();
                committed = commit(output);
            }
            job.End(output, committed);
        }
        catch (Exception e)
        {
            job.End(e);
        }
    }

    /// <summary>
    /// The worker's images as this server's output: its pixels, the server's resolved settings, and the infotext under
    /// the server's file names (a worker's copy of the same bytes may be called otherwise; the names are all that
    /// differs), so the answer is the one this server would make itself.
    /// </summary>
    private static GenerationOutput Output(GenerationJob job, ResultMessage result)
    {
        string modelName = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(job.Settings.Model));
        string? vaeName = job.Settings.Vae is { } vae && !vae.Equals("taesd", StringComparison.OrdinalIgnoreCase) ? Path.GetFileNameWithoutExtension(vae) : null;
        var pictures = result.Images.Select(i =>
        {
            var image = ImageFiles.DecodeRgba(i.Png, $"job {job.Id}'s image").ToRgb();
            var info = GenerationInfo.Parse(i.Infotext);
            var named = info with
            {
                ModelName = info.ModelName is null ? null : modelName,
                Extra = vaeName is not null && info.Extra.ContainsKey("VAE") ? new Dictionary<string, string>(info.Extra) { ["VAE"] = vaeName } : info.Extra,
            };
            byte[] png = named.Equals(info) && named.Format() == i.Infotext ? i.Png
                : ImageFiles.EncodePng(image, new Dictionary<string, string> { ["parameters"] = named.Format() });
            return new GeneratedPicture(image, png, named, i.Seed, i.Subseed, i.Index);
        }).ToList();
        return new GenerationOutput(pictures, job.Settings, result.ModelHash, modelName, result.SamplerName,
            result.StepsRun, result.StepsPlanned, Enum.Parse<StopReason>(result.Stop), result.SkippedRuns,
            TimeSpan.FromMilliseconds(result.DurationMs), TimeSpan.FromMilliseconds(result.LoadMs));
    }

    private Task OnEvent(BasicDeliverEventArgs delivery)
    {
        if (BrokerJson.TryRead<JobEventMessage>(delivery.Body) is not { } e) return Task.CompletedTask;
        Entry? entry;
        lock (_gate) _wire.TryGetValue(e.Job, out entry);
        if (entry is null) return Task.CompletedTask;
        var job = entry.Job;
        switch (e.Kind)
        {
            case "started":
                if (job.Status == JobStatus.Queued)
                {
                    job.Start();
                    lock (_gate) TellPositions();
                }
                break;
            case "progress" when Enum.TryParse<GenerationPhase>(e.Phase, out var phase):
                if (job.Status == JobStatus.Queued) job.Start();
                var preview = e.PreviewPng is { } png ? ImageFiles.DecodeRgba(png, "a preview").ToRgb() : null;
                job.Sink.Report(new GenerationEvent(phase, e.Step, e.Total, e.Iteration, e.Iterations, TimeSpan.FromMilliseconds(e.ElapsedMs),
                    e.EtaMs is { } eta ? TimeSpan.FromMilliseconds(eta) : null, preview, e.DecodeFraction));
                break;
            case "attempt-failed":
                entry.LastError = e.Detail;
                _log.WriteLine($"redraft serve: {e.Job} failed on {e.Worker}: {e.Detail}");
                break;
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// A job was dead-lettered (<see cref="BrokerTopology.DeadNoticesQueue"/>, durable: a notice made while this server
    /// was away is read when it is back); its client gets the last worker's error.
    /// </summary>
    private async Task OnDead(BasicDeliverEventArgs delivery)
    {
        if (Claim(delivery.BasicProperties.MessageId) is { } entry)
        {
            _wake.Release();
            string last = entry.LastError is { } error ? $"; the last error: {error}" : " (its workers stopped while running it)";
            entry.Job.End(new WorkerFailureException(
                $"job {entry.Job.Id} failed on {BrokerTopology.DeliveryLimit + 1} deliveries to workers and was set aside in the broker's {BrokerTopology.DeadJobsQueue} queue{last}"));
        }
        await _consumers!.BasicAckAsync(delivery.DeliveryTag, multiple: false);
    }

    private Task OnHeartbeat(BasicDeliverEventArgs delivery)
    {
        if (BrokerJson.TryRead<WorkerHeartbeat>(delivery.Body) is { } beat)
        {
            Workers.Heard(beat);
            _wake.Release();
        }
        return Task.CompletedTask;
    }


    /// <summary>Tells every worker about the job whose message has <paramref name="wire"/> id (the one that has it acts).</summary>
    private async Task Control(string wire, string action)
    {
        try
        {
            if (!_connector.IsOpen || _channel is null) return;
            await _publish.WaitAsync(_stopping.Token);
            try
            {
                var channel = await EnsureChannelAsync(_stopping.Token);
                await channel.BasicPublishAsync(BrokerTopology.ControlExchange, "", mandatory: false,
                    new BasicProperties { Type = ControlMessage.Type, ContentType = "application/json" }, BrokerJson.Write(new ControlMessage(wire, action)));
            }
            finally
            {
                _publish.Release();
            }
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.PublishException
            or RabbitMQ.Client.Exceptions.OperationInterruptedException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // Lost with the connection, or the server is stopping: the job has ended here either way; a worker still
            // running it only wastes its time.
            _log.WriteLine($"redraft serve: could not send {action} to the workers ({e.Message.ReplaceLineEndings(" ")}).");
        }
    }
}
