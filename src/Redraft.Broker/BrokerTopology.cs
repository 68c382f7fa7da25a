using RabbitMQ.Client;

namespace Redraft.Broker;

/// <summary>
/// The exchanges and queues a Redraft fleet shares on its broker, declared the same way by the server and by every
/// worker (declaring is idempotent; different arguments would be refused by the broker, so they live here only).
/// <list type="bullet">
/// <item><see cref="JobsExchange"/> (direct): jobs, routed by model key to <see cref="JobQueue"/> — a durable quorum
/// queue per checkpoint, consumed by every worker that has it (competing consumers, prefetch 1).</item>
/// <item><see cref="ResultsQueue"/> (durable quorum): results, consumed by the server, which commits each job once.</item>
/// <item><see cref="EventsExchange"/> (topic, key <c>job.ID</c>): progress and previews, transient.</item>
/// <item><see cref="ControlExchange"/> (fanout): interrupt, skip and cancel, to every worker.</item>
/// <item><see cref="WorkersExchange"/> (fanout): workers' heartbeats.</item>
/// <item><see cref="DeadExchange"/> (fanout): jobs that failed <see cref="DeliveryLimit"/> times, kept in
/// <see cref="DeadJobsQueue"/> for an operator and also told to the server so the client gets the error.</item>
/// </list>
/// </summary>
public static class BrokerTopology
{
    /// <summary>Direct exchange the server publishes jobs to, routed by model key.</summary>
    public const string JobsExchange = "redraft.jobs";

    /// <summary>The queue the server consumes results from.</summary>
    public const string ResultsQueue = "redraft.results";

    /// <summary>Topic exchange of job events (progress, previews, failed attempts), routing key <c>job.ID</c>.</summary>
    public const string EventsExchange = "redraft.events";

    /// <summary>Fanout exchange of control messages to every worker.</summary>
    public const string ControlExchange = "redraft.control";

    /// <summary>Fanout exchange of worker heartbeats.</summary>
    public const string WorkersExchange = "redraft.workers";

    /// <summary>Fanout exchange jobs are dead-lettered to.</summary>
    public const string DeadExchange = "redraft.dead";

    /// <summary>Where dead-lettered jobs stay for an operator to read (they are never consumed by Redraft).</summary>
    public const string DeadJobsQueue = "redraft.dead-jobs";

    /// <summary>
    /// The server's copy of every dead-lettered job: durable, so a job that fails its last delivery while the server
    /// is away (or reconnecting) still ends with its error once the server reads it.
    /// </summary>
    public const string DeadNoticesQueue = "redraft.dead-notices";

    /// <summary>
    /// Deliveries of a job that fail (an error, or the worker gone) before it is dead-lettered: a quorum queue's
    /// <c>x-delivery-limit</c> counts returns, so a job runs at most this many + 1 times. A worker killed while it holds
    /// a job uses one, so a job survives two crashed workers and still gets a last try.
    /// </summary>
    public const int DeliveryLimit = 3;

    /// <summary>Largest job or result message, in bytes (RabbitMQ's own limit is 128 MiB; images make messages large).</summary>
    public const int MaxMessageBytes = 64 * 1024 * 1024;

    /// <summary>
    /// Largest message a client accepts: RabbitMQ's own limit (128 MiB) and a margin, so that nothing the broker
    /// accepted can break a consumer's connection (a larger frame closes it, and the redelivery would close it again).
    /// </summary>
    public const int MaxInboundBytes = 129 * 1024 * 1024;

    /// <summary>The job queue of the checkpoint whose SHA-256 is <paramref name="sha256"/>.</summary>
    public static string JobQueue(string sha256) => $"redraft.jobs.{ModelKey(sha256)}";

    /// <summary>The routing key of a checkpoint: the first 16 hex digits of its SHA-256 (lower case).</summary>
    public static string ModelKey(string sha256) => sha256.ToLowerInvariant()[..16];

    /// <summary>The routing key of job <paramref name="jobId"/>'s events (a topic word: dots and wildcards escaped).</summary>
    public static string EventKey(string jobId) => "job." + Convert.ToHexStringLower(System.Text.Encoding.UTF8.GetBytes(jobId));

    /// <summary>Declares the exchanges and the shared queues (idempotent).</summary>
    public static async Task DeclareAsync(IChannel channel, CancellationToken ct = default)
    {
        await channel.ExchangeDeclareAsync(JobsExchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: ct);
        await channel.ExchangeDeclareAsync(EventsExchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: ct);
        await channel.ExchangeDeclareAsync(ControlExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
        await channel.ExchangeDeclareAsync(WorkersExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
        await channel.ExchangeDeclareAsync(DeadExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
        await channel.QueueDeclareAsync(ResultsQueue, durable: true, exclusive: false, autoDelete: false, arguments: Quorum, cancellationToken: ct);
        await channel.QueueDeclareAsync(DeadJobsQueue, durable: true, exclusive: false, autoDelete: false, arguments: Quorum, cancellationToken: ct);
        await channel.QueueBindAsync(DeadJobsQueue, DeadExchange, "", cancellationToken: ct);
        await channel.QueueDeclareAsync(DeadNoticesQueue, durable: true, exclusive: false, autoDelete: false, arguments: Quorum, cancellationToken: ct);
        await channel.QueueBindAsync(DeadNoticesQueue, DeadExchange, "", cancellationToken: ct);
    }

    /// <summary>Declares the job queue of a checkpoint and binds it to <see cref="JobsExchange"/> (idempotent).</summary>
    public static async Task<string> DeclareJobQueueAsync(IChannel channel, string sha256, CancellationToken ct = default)
    {
        string queue = JobQueue(sha256);
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments: new Dictionary<string, object?>
        {
            ["x-queue-type"] = "quorum",
            ["x-delivery-limit"] = DeliveryLimit,
            ["x-dead-letter-exchange"] = DeadExchange,
            // At least once: the broker keeps a failed job until the dead-letter queue has confirmed it (this needs
            // reject-publish on overflow; the queues have no length limit, so it never rejects).
            ["x-dead-letter-strategy"] = "at-least-once",
            ["x-overflow"] = "reject-publish",
        }, cancellationToken: ct);
        await channel.QueueBindAsync(queue, JobsExchange, ModelKey(sha256), cancellationToken: ct);
        return queue;
    }

    private static Dictionary<string, object?> Quorum => new() { ["x-queue-type"] = "quorum" };

    /// <summary>Properties of a message that must survive a broker restart.</summary>
    public static BasicProperties Persistent(string type, string? messageId = null) => new()
    {
        Persistent = true,
        ContentType = "application/json",
        Type = type,
        MessageId = messageId,
    };
}
