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
    private readonly List<(IChannel Channel, string Tag)> _consumers = [];
    private IChannel? _publisher;
    private IReadOnlyList<ModelReference> _served = [];
    private volatile Running? _running;
    private long _jobsDone;
    private volatile bool _stopping;
    private readonly bool _hasTaesd;

    private sealed record Running(string Job, GenerationControl Control, CancellationTokenSource Cancel);

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
    /// queue for another worker.
    /// </summary>
    /// <param name="ready">Told once the worker consumes its queues (with the checkpoints it serves).</param>
    /// <param name="ct">Stops everything.</param>
    public async Task RunAsync(Action<IReadOnlyList<ModelReference>>? ready, CancellationToken ct)
    {
        var checkpoints = _models.Checkpoints();
        if (checkpoints.Count == 0)
            throw new RedraftInputException($"redraft worker: no checkpoints in {_models.Root}; put .safetensors files there, or run redraft models pull NAME --models-dir {_models.Root}.");
        _served = [.. checkpoints.Select(c => c.Reference)];
        var connection = await _connector.ConnectAsync(ct).ConfigureAwait(false);
        _publisher = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct).ConfigureAwait(false);
        await BrokerTopology.DeclareAsync(_publisher, ct).ConfigureAwait(false);

        // Control messages reach every worker; this one's queue lives as long as its connection.
        var control = await connection.CreateChannelAsync(cancellationToken: ct).ConfigureAwait(false);
        var controlQueue = await control.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true, cancellationToken: ct).ConfigureAwait(false);
        await control.QueueBindAsync(controlQueue.QueueName, BrokerTopology.ControlExchange, "", cancellationToken: ct).ConfigureAwait(false);
        var controlConsumer = new AsyncEventingBasicConsumer(control);
        controlConsumer.ReceivedAsync += (_, e) => OnControl(e);
        await control.BasicConsumeAsync(controlQueue.QueueName, autoAck: true, controlConsumer, ct).ConfigureAwait(false);

        // One channel per checkpoint queue, prefetch 1: the broker gives this worker one job of each at a time, and the
        // jobs run one after another (the channels' deliveries wait for the generation turn).
        foreach (var model in _served)
        {
            var channel = await connection.CreateChannelAsync(cancellationToken: ct).ConfigureAwait(false);
            await channel.BasicQosAsync(0, 1, false, ct).ConfigureAwait(false);
            string queue = await BrokerTopology.DeclareJobQueueAsync(channel, model.Sha256, ct).ConfigureAwait(false);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += (_, e) => OnJob(channel, e, ct);
            string tag = await channel.BasicConsumeAsync(queue, autoAck: false, consumer, ct).ConfigureAwait(false);
            _consumers.Add((channel, tag));
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
            _running?.Cancel.Cancel();
        }
        await StopConsumingAsync().ConfigureAwait(false);
        // The running job's handler finishes (publishes and acknowledges, or returns it) before the channels close.
        while (_running is not null) await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
        await Heartbeat(CancellationToken.None).ConfigureAwait(false);
        await beats.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(heartbeat, events).ConfigureAwait(false);
    }

    /// <summary>Stops taking jobs (SIGTERM); <see cref="RunAsync"/> returns when the running job has ended.</summary>
    public void StopTaking()
    {
        _stopping = true;
        _idle.TrySetResult();
    }

    /// <summary>Closes the broker connection and frees the models.</summary>
    public async ValueTask DisposeAsync()
    {
        await _connector.DisposeAsync().ConfigureAwait(false);
        _service.Dispose();
    }

    private async Task StopConsumingAsync()
    {
        foreach (var (channel, tag) in _consumers)
        {
            try
            {
                if (channel.IsOpen) await channel.BasicCancelAsync(tag, noWait: false).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or OperationCanceledException or IOException)
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
        if (_stopping)
        {
            // Delivered while the consumers were being cancelled: back to the queue for another worker.
            await channel.BasicRejectAsync(delivery.DeliveryTag, requeue: true, CancellationToken.None).ConfigureAwait(false);
            return;
        }
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var running = new Running(job.Job, new GenerationControl(), cancel);
        _running = running;
        try
        {
            ResultMessage result;
            if (_cancelled.ContainsKey(job.Job))
                result = Cancelled(job.Job);
            else
            {
                _events.Writer.TryWrite(new JobEventMessage(job.Job, "started", _options.Name));
                _log.WriteLine($"redraft worker: {job.Job} ({job.Kind}) started.");
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
                    _log.WriteLine($"redraft worker: {job.Job} returned to the queue (worker stopping).");
                    await channel.BasicRejectAsync(delivery.DeliveryTag, requeue: true, CancellationToken.None).ConfigureAwait(false);
                    return;
                }
                catch (Exception e)
                {
                    string detail = e is RedraftInputException ? e.Message.ReplaceLineEndings(" ") : $"{e.GetType().Name} on worker {_options.Name}: {e.Message.ReplaceLineEndings(" ")}";
                    _log.WriteLine($"redraft worker: {job.Job} failed ({detail}); returned to the queue.");
                    _events.Writer.TryWrite(new JobEventMessage(job.Job, "attempt-failed", _options.Name, Error: e.GetType().Name, Detail: detail));
                    await channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true, CancellationToken.None).ConfigureAwait(false);
                    return;
                }
            }
            byte[] body = BrokerJson.Write(result);
            await _publish.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                // Confirmed by the broker before the job is acknowledged: at least once, never lost.
                await _publisher!.BasicPublishAsync("", BrokerTopology.ResultsQueue, mandatory: true,
                    BrokerTopology.Persistent(ResultMessage.Type, job.Job), body, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                _publish.Release();
            }
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, CancellationToken.None).ConfigureAwait(false);
            Interlocked.Increment(ref _jobsDone);
            _log.WriteLine($"redraft worker: {job.Job} {(result.Cancelled ? "cancelled" : $"done ({result.Images.Count} image(s), {result.DurationMs / 1000:0.0} s)")}.");
        }
        finally
        {
            _running = null;
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
        ControlMessage message;
        try
        {
            message = BrokerJson.Read<ControlMessage>(delivery.Body);
        }
        catch (BrokerMessageException)
        {
            return Task.CompletedTask;
        }
        var running = _running;
        bool mine = running?.Job == message.Job;
        switch (message.Action)
        {
            case "interrupt" when mine: running!.Control.Interrupt(); break;
            case "skip" when mine: running!.Control.Skip(); break;
            case "cancel":
                // Remembered for a while: the job may still be in a queue and reach this worker later.
                _cancelled[message.Job] = DateTimeOffset.UtcNow;
                foreach (var (id, at) in _cancelled)
                    if (DateTimeOffset.UtcNow - at > TimeSpan.FromHours(1)) _cancelled.TryRemove(id, out _);
                if (mine) running!.Cancel.Cancel();
                break;
        }
        return Task.CompletedTask;
    }

    private async Task HeartbeatLoop(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await Heartbeat(ct).ConfigureAwait(false);
            try
            {
                await Task.Delay(WorkerHeartbeat.Interval, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task Heartbeat(CancellationToken ct)
    {
        var beat = new WorkerHeartbeat(_options.Name, Environment.MachineName, "cpu", _options.Threads, _served, _running?.Job, JobsDone, _stopping, DateTimeOffset.UtcNow);
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
            await _publisher.BasicPublishAsync(exchange, key, mandatory: false, new BasicProperties { Type = type, ContentType = "application/json" }, body, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.PublishException or IOException)
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
