using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Redraft.Broker.Messages;
using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Pipelines;
using Redraft.Studio.Generation;

namespace Redraft.Broker;

/// <summary>
/// <c>redraft worker</c>: takes generation jobs from the broker's queues of the checkpoints it has and runs them on
/// this process's <see cref="GenerationService"/>, one at a time. A job's message is acknowledged only after its result
/// was published and confirmed by the broker, so a worker that dies mid-job leaves the job to another; a job that fails
/// goes back to its queue, and after <see cref="BrokerTopology.DeliveryLimit"/> returns to the dead letters.
/// <see cref="StopTaking"/> (SIGTERM) stops taking jobs and lets the running one finish.
/// </summary>
public sealed class GenerationWorker : IAsyncDisposable
{
    private readonly WorkerOptions _options;
    private readonly WorkerModels _models;
    private readonly TextWriter _log;
    private readonly GenerationService _service = new();
    private readonly BrokerConnector _connector;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _cancelled = new(StringComparer.Ordinal);
    private readonly Channel<JobEventMessage> _events = Channel.CreateUnbounded<JobEventMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _publish = new(1, 1);
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _startup = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _confirmed = new(StringComparer.Ordinal);
    /// <summary>
    /// One job at a time, whatever delivers it: the channel's dispatcher runs one handler at a time, but after a
    /// connection recovery a new dispatcher may deliver while the old one's handler still generates.
    /// </summary>
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<string> _consumerTags = [];
    private IChannel? _jobs;
    private IChannel? _publisher;
    private IReadOnlyList<ModelReference> _served = [];
    private volatile Running? _running;
    private long _jobsDone;
    private volatile bool _stopping;
    private readonly bool _hasTaesd;

    private sealed record Running(string Job, string TaskId, GenerationControl Control, CancellationTokenSource Cancel);

    /// <summary>A worker; it connects in <see cref="RunAsync"/>.</summary>
    public GenerationWorker(WorkerOptions options, TextWriter log)
    {
        _options = options;
        _log = log;
        _models = new WorkerModels(options.ModelsDir, options.ExtraCheckpoints);
        _connector = new BrokerConnector(options.Broker, $"redraft-worker {options.Name}", log);
        try
        {
            Redraft.Diffusion.Networks.TaesdLocator.Locate(options.Taesd);
            _hasTaesd = true;
        }
        catch (RedraftInputException)
        {
            _hasTaesd = false;
        }
    }

    /// <summary>Jobs finished since the worker started.</summary>
    public long JobsDone => Interlocked.Read(ref _jobsDone);

    /// <summary>
    /// Connects, takes jobs until <see cref="StopTaking"/> or <paramref name="ct"/>, and returns once the job it runs
    /// (if any) has ended. Cancelling <paramref name="ct"/> stops the running job at its next step and returns it to its
    /// queue for another worker. <see cref="StopTaking"/> before the worker is ready ends the start.
    /// </summary>
    /// <param name="ready">Told once the worker consumes its queues (with the checkpoints it serves).</param>
    /// <param name="ct">Stops everything.</param>
    public async Task RunAsync(Action<IReadOnlyList<ModelReference>>? ready, CancellationToken ct)
    {
        using var starting = CancellationTokenSource.CreateLinkedTokenSource(ct, _startup.Token);
        try
        {
            await StartAsync(ct, starting.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_startup.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            return;   // stopped while starting: nothing taken, nothing to finish
        }
        using var beats = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var heartbeat = Task.Run(() => HeartbeatLoop(beats.Token), CancellationToken.None);
        var events = Task.Run(() => EventLoop(beats.Token), CancellationToken.None);
        ready?.Invoke(_served);
        try
        {
            await _idle.Task.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // A hard stop: the running job's token is linked to ct, so it stops at its next step and is returned.
        }
        _stopping = true;
        await StopConsumingAsync().ConfigureAwait(false);
        // The running job's handler finishes (publishes and acknowledges, or returns it) before the channels close; a
        // handler that gets the gate after this sees _stopping and returns its job.
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        _gate.Release();
        await Heartbeat(CancellationToken.None).ConfigureAwait(false);
        await beats.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(heartbeat, events).ConfigureAwait(false);
    }

    /// <param name="stop">The hard stop: a running job's token.</param>
    /// <param name="ct">Ends the start (also <see cref="StopTaking"/>).</param>
    private async Task StartAsync(CancellationToken stop, CancellationToken ct)
    {
        var checkpoints = await Task.Run(_models.Checkpoints, ct).ConfigureAwait(false);
        if (checkpoints.Count == 0)
            throw new RedraftInputException($"redraft worker: no checkpoints in {_models.Root}; put .safetensors files there, or run redraft models pull NAME --models-dir {_models.Root}.");
        _served = [.. checkpoints.Select(c => c.Reference)];
        var connection = await _connector.ConnectAsync(ct).ConfigureAwait(false);
        await EnsurePublisherAsync(ct).ConfigureAwait(false);

        // Control messages reach every worker; this one's queue lives as long as its connection.
        var control = await connection.CreateChannelAsync(cancellationToken: ct).ConfigureAwait(false);
        var controlQueue = await control.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true, cancellationToken: ct).ConfigureAwait(false);
        await control.QueueBindAsync(controlQueue.QueueName, BrokerTopology.ControlExchange, "", cancellationToken: ct).ConfigureAwait(false);
        var controlConsumer = new AsyncEventingBasicConsumer(control);
        controlConsumer.ReceivedAsync += (_, e) => OnControl(e);
        await control.BasicConsumeAsync(controlQueue.QueueName, autoAck: true, controlConsumer, ct).ConfigureAwait(false);

        // Every checkpoint's queue on one channel, prefetch 1 per queue: the channel's dispatcher hands over one
        // delivery at a time, so jobs run one after another. (A channel-wide prefetch would hold fewer, but quorum
        // queues refuse it; the server publishes only as many jobs as workers can take, so few wait here.)
        _jobs = await connection.CreateChannelAsync(cancellationToken: ct).ConfigureAwait(false);
        await _jobs.BasicQosAsync(0, 1, false, ct).ConfigureAwait(false);
        var consumer = new AsyncEventingBasicConsumer(_jobs);
        var jobs = _jobs;
        consumer.ReceivedAsync += (_, e) => OnJob(jobs, e, stop);
        foreach (var model in _served)
        {
            string queue = await BrokerTopology.DeclareJobQueueAsync(_jobs, model.Sha256, ct).ConfigureAwait(false);
            _consumerTags.Add(await _jobs.BasicConsumeAsync(queue, autoAck: false, consumer, ct).ConfigureAwait(false));
        }
    }

    /// <summary>Stops taking jobs (SIGTERM); <see cref="RunAsync"/> returns when the running job has ended.</summary>
    public void StopTaking()
    {
        _stopping = true;
        _startup.Cancel();
        _idle.TrySetResult();
    }

    /// <summary>Closes the broker connection and frees the models.</summary>
    public async ValueTask DisposeAsync()
    {
        await _connector.DisposeAsync().ConfigureAwait(false);
        _service.Dispose();
        _startup.Dispose();
    }

    /// <summary>The channel results, events and heartbeats go out on; made again if the broker closed it (a channel error).</summary>
    private async Task<IChannel> EnsurePublisherAsync(CancellationToken ct)
    {
        if (_publisher is { IsOpen: true } open) return open;
        var channel = await _connector.Connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct).ConfigureAwait(false);
        await BrokerTopology.DeclareAsync(channel, ct).ConfigureAwait(false);
        _publisher = channel;
        return channel;
    }

    private async Task StopConsumingAsync()
    {
        if (_jobs is null) return;
        foreach (var tag in _consumerTags)
        {
            try
            {
                if (_jobs.IsOpen) await _jobs.BasicCancelAsync(tag, noWait: false).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.OperationInterruptedException or OperationCanceledException or IOException)
            {
            }
        }
    }

    private async Task OnJob(IChannel channel, BasicDeliverEventArgs delivery, CancellationToken stop)
    {
        JobMessage job;
        try
        {
            job = BrokerJson.Read<JobMessage>(delivery.Body);
        }
        catch (BrokerMessageException e)
        {
            // Nobody can run it: straight to the dead letters, where an operator sees it.
            _log.WriteLine($"redraft worker: dropped an unreadable job message ({e.Message}).");
            await channel.BasicRejectAsync(delivery.DeliveryTag, requeue: false, CancellationToken.None).ConfigureAwait(false);
            return;
        }
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_stopping)
            {
                // Delivered while the consumers were being cancelled: back to the queue for another worker.
                await channel.BasicRejectAsync(delivery.DeliveryTag, requeue: true, CancellationToken.None).ConfigureAwait(false);
                return;
            }
            if (_confirmed.ContainsKey(job.Job))
            {
                // Its result is already with the broker (the acknowledgement was lost with a connection): done.
                await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, CancellationToken.None).ConfigureAwait(false);
                return;
            }
            await RunJob(channel, delivery, job, stop).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.OperationInterruptedException or IOException)
        {
            // The connection went away: the broker returns the job to its queue by itself.
            _log.WriteLine($"redraft worker: {job.TaskId}: the broker connection was lost ({e.Message.ReplaceLineEndings(" ")}); the broker gives the job out again.");
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task RunJob(IChannel channel, BasicDeliverEventArgs delivery, JobMessage job, CancellationToken stop)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var running = new Running(job.Job, job.TaskId, new GenerationControl(), cancel);
        _running = running;
        try
        {
            ResultMessage result;
            if (_cancelled.ContainsKey(job.Job))
                result = Cancelled(job.Job);
            else
            {
                _events.Writer.TryWrite(new JobEventMessage(job.Job, "started", _options.Name));
                _log.WriteLine($"redraft worker: {job.TaskId} ({job.Kind}) started.");
                // The fleet's view (GET /api/v1/workers) shows the new job now, not at the next beat.
                await Heartbeat(CancellationToken.None).ConfigureAwait(false);
                try
                {
                    result = await Run(job, running).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_cancelled.ContainsKey(job.Job))
                {
                    result = Cancelled(job.Job);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    // The worker is stopping hard: the job goes back to its queue for another worker.
                    _log.WriteLine($"redraft worker: {job.TaskId} returned to the queue (worker stopping).");
                    await channel.BasicRejectAsync(delivery.DeliveryTag, requeue: true, CancellationToken.None).ConfigureAwait(false);
                    return;
                }
                catch (Exception e)
                {
                    string detail = e is RedraftInputException ? e.Message.ReplaceLineEndings(" ") : $"{e.GetType().Name} on worker {_options.Name}: {e.Message.ReplaceLineEndings(" ")}";
                    _log.WriteLine($"redraft worker: {job.TaskId} failed ({detail}); returned to the queue.");
                    _events.Writer.TryWrite(new JobEventMessage(job.Job, "attempt-failed", _options.Name, Error: e.GetType().Name, Detail: detail));
                    await channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true, CancellationToken.None).ConfigureAwait(false);
                    return;
                }
            }
            byte[] body = BrokerJson.Write(result);
            if (body.Length > BrokerTopology.MaxMessageBytes)
            {
                // No worker could send it: the job fails now, in one line, instead of going round the fleet.
                result = Cancelled(job.Job) with
                {
                    Cancelled = false,
                    Error = $"the job's result is {body.Length / 1048576.0:0.0} MB, over the {BrokerTopology.MaxMessageBytes / 1048576} MB a message may have; ask for fewer or smaller images per request.",
                };
                body = BrokerJson.Write(result);
            }
            try
            {
                await PublishResult(job.Job, body).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RabbitMQ.Client.Exceptions.PublishException or RabbitMQ.Client.Exceptions.AlreadyClosedException)
            {
                // Not confirmed: the job goes back to its queue (if the connection itself is gone, the broker does that).
                _log.WriteLine($"redraft worker: {job.TaskId}: its result was not confirmed ({e.Message.ReplaceLineEndings(" ")}); returned to the queue.");
                if (channel.IsOpen) await channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true, CancellationToken.None).ConfigureAwait(false);
                return;
            }
            _confirmed[job.Job] = DateTimeOffset.UtcNow;
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, CancellationToken.None).ConfigureAwait(false);
            Interlocked.Increment(ref _jobsDone);
            _log.WriteLine($"redraft worker: {job.TaskId} {(result.Cancelled ? "cancelled" : result.Error is { } error ? $"failed: {error}" : $"done ({result.Images.Count} image(s), {result.DurationMs / 1000:0.0} s)")}.");
        }
        finally
        {
            _running = null;
            Forget(_confirmed);
        }
    }

    /// <summary>Publishes a result and waits for the broker's confirm (throws when it is not confirmed).</summary>
    private async Task PublishResult(string job, byte[] body)
    {
        await _publish.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            var publisher = await EnsurePublisherAsync(CancellationToken.None).ConfigureAwait(false);
            await publisher.BasicPublishAsync("", BrokerTopology.ResultsQueue, mandatory: true,
                BrokerTopology.Persistent(ResultMessage.Type, job), body, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _publish.Release();
        }
    }

    private async Task<ResultMessage> Run(JobMessage job, Running running)
    {
        var settings = Localize(job);
        var inputs = WireImages.Inputs(job.InitPng, job.MaskPng);
        var progress = new InlineProgress(e => _events.Writer.TryWrite(new JobEventMessage(job.Job, "progress", _options.Name,
            e.Phase.ToString(), e.Step, e.Total, e.Iteration, e.Iterations, e.Elapsed.TotalMilliseconds, e.Eta?.TotalMilliseconds, e.DecodeFraction,
            e.Preview is { } preview ? ImageFiles.EncodePng(preview) : null)));
        var output = await _service.GenerateAsync(settings, inputs, progress, running.Control, running.Cancel.Token).ConfigureAwait(false);
        return new ResultMessage(job.Job, _options.Name,
            [.. output.Images.Select(i => new ResultImage(i.Png, i.Info.Format(), i.Seed, i.Subseed, i.Index))],
            output.ModelHash, output.ModelName, output.SamplerName, output.StepsRun, output.StepsPlanned, output.Stop.ToString(), output.SkippedRuns,
            output.Duration.TotalMilliseconds, output.LoadDuration.TotalMilliseconds);
    }
    /// <summary>The job's settings with this worker's copies of its files and its own tokenizer, TAESD and threads.</summary>
    private GenerationSettings Localize(JobMessage job)
    {
        string Need(string? path, ModelReference reference, string what) => path ?? throw new RedraftInputException(
            $"worker {_options.Name} has no {what} {reference.Name} (sha256 {reference.Sha256[..12]}…) in {_models.Root}.");
        var s = job.Settings;
        if (job.Loras.Count != s.Loras.Count) throw new BrokerMessageException("the job's LoRA list does not match its settings");
        string model = Need(_models.Checkpoint(job.Model.Sha256), job.Model, "checkpoint");
        string? config = job.Config is { } c ? Need(_models.Config(model, c.Sha256), c, "config") : null;
        // A config beside this copy that the server's has not would describe the model otherwise: other pictures.
        if (config is null && Redraft.Diffusion.Checkpoints.LdmYamlConfig.FindBeside(model) is { } stray)
            throw new RedraftInputException($"worker {_options.Name}: {stray} is beside its copy of {job.Model.Name}, but the server's has no config; remove it or give the server the same one.");
        return s with
        {
            Model = model,
            Vae = job.Vae is { } vae ? Need(_models.Vae(vae.Sha256), vae, "VAE") : s.Vae,
            Loras = [.. job.Loras.Select(l => new LoraSpec(Need(_models.Lora(l.Sha256), new ModelReference(l.Name, l.Sha256), "LoRA"), l.Weight))],
            Config = config,
            Tokenizer = _options.Tokenizer,
            Taesd = _options.Taesd,
            Threads = _options.Threads ?? s.Threads,
            // Previews need TAESD; without it the job runs without them (they never change the images).
            PreviewEvery = _hasTaesd ? s.PreviewEvery : 0,
        };
    }

    private ResultMessage Cancelled(string job) => new(job, _options.Name, [], "", "", "", 0, 0, "Completed", 0, 0, 0, Cancelled: true);

    private Task OnControl(BasicDeliverEventArgs delivery)
    {
        if (BrokerJson.TryRead<ControlMessage>(delivery.Body) is not { } message) return Task.CompletedTask;
        // A cancel is remembered before the running job is looked at (the job may still be in a queue and reach this
        // worker later; and a job starting now checks the list after it became the running one, so one side sees it).
        if (message.Action == "cancel")
        {
            _cancelled[message.Job] = DateTimeOffset.UtcNow;
            Forget(_cancelled);
        }
        var running = _running;
        if (running?.Job != message.Job) return Task.CompletedTask;
        try
        {
            switch (message.Action)
            {
                case "interrupt": running.Control.Interrupt(); break;
                case "skip": running.Control.Skip(); break;
                case "cancel": running.Cancel.Cancel(); break;
            }
        }
        catch (ObjectDisposedException)
        {
            // The job ended meanwhile.
        }
        return Task.CompletedTask;
    }

    /// <summary>Drops entries older than an hour from a list of job ids.</summary>
    private static void Forget(ConcurrentDictionary<string, DateTimeOffset> ids)
    {
        foreach (var (id, at) in ids)
            if (DateTimeOffset.UtcNow - at > TimeSpan.FromHours(1)) ids.TryRemove(id, out _);
    }

    private async Task HeartbeatLoop(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Heartbeat(ct).ConfigureAwait(false);
                await Task.Delay(WorkerHeartbeat.Interval, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task Heartbeat(CancellationToken ct)
    {
        var beat = new WorkerHeartbeat(_options.Name, Environment.MachineName, "cpu", _options.Threads, _served, _running?.TaskId, JobsDone, _stopping, DateTimeOffset.UtcNow);
        await Publish(BrokerTopology.WorkersExchange, "", WorkerHeartbeat.Type, BrokerJson.Write(beat), ct).ConfigureAwait(false);
    }

    private async Task EventLoop(CancellationToken ct)
    {
        try
        {
            await foreach (var e in _events.Reader.ReadAllAsync(ct).ConfigureAwait(false))
                await Publish(BrokerTopology.EventsExchange, BrokerTopology.EventKey(e.Job), JobEventMessage.Type, BrokerJson.Write(e), ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A transient message (events, heartbeats): lost while the broker is away, and that is fine.</summary>
    private async Task Publish(string exchange, string key, string type, byte[] body, CancellationToken ct)
    {
        if (!_connector.IsOpen || _publisher is null) return;
        await _publish.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var publisher = await EnsurePublisherAsync(ct).ConfigureAwait(false);
            await publisher.BasicPublishAsync(exchange, key, mandatory: false, new BasicProperties { Type = type, ContentType = "application/json" }, body, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.PublishException
            or RabbitMQ.Client.Exceptions.OperationInterruptedException or IOException)
        {
        }
        finally
        {
            _publish.Release();
        }
    }

    private sealed class InlineProgress(Action<GenerationEvent> report) : IProgress<GenerationEvent>
    {
        public void Report(GenerationEvent value) => report(value);
    }
}
