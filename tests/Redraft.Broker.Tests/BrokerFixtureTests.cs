using System.Net.Sockets;
using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using Redraft.Tests.Shared;
using Xunit.Abstractions;

namespace Redraft.Broker.Tests;

/// <summary>
/// The test broker (<see cref="RabbitBroker"/>) is a real RabbitMQ: durable quorum queues keep persistent, confirmed
/// messages across a graceful restart, the node can be killed and started again, disposing leaves nothing behind, and
/// Debian's RabbitMQ (3.10) dead-letters a message that went back to its queue (a nack with requeue, or a consumer that
/// died holding it) more often than the queue's delivery limit — the behaviours the broker-backed job queue and its
/// tests rely on.
/// </summary>
public sealed class BrokerFixtureTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, object?> Quorum = new() { ["x-queue-type"] = "quorum" };

    private static readonly CreateChannelOptions Confirmed = new(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true);

    [BrokerFact]
    public async Task A_persistent_message_in_a_durable_quorum_queue_survives_a_broker_restart()
    {
        await using var broker = await RabbitBroker.StartAsync();
        output.WriteLine($"node {broker.NodeName} on {broker.Amqp}: started in {broker.LastStartDuration.TotalSeconds:0.00} s");
        var body = Encoding.UTF8.GetBytes("job 1: a cosy cottage");

        await using (var connection = await Connect(broker))
        await using (var channel = await connection.CreateChannelAsync(Confirmed))
        {
            await channel.QueueDeclareAsync("jobs", durable: true, exclusive: false, autoDelete: false, arguments: Quorum);
            // A control that does not survive: a restart that did not happen would keep it.
            await channel.QueueDeclareAsync("transient", durable: false, exclusive: false, autoDelete: false);
            // With confirmation tracking on, the publish returns once the broker has confirmed it (and throws on a nack).
            await channel.BasicPublishAsync("", "jobs", mandatory: true, new BasicProperties { Persistent = true, MessageId = "job-1" }, body);
        }

        await broker.StopAsync();
        Assert.False(PortAnswers(broker.AmqpPort), "the AMQP port still answers after StopAsync");
        await broker.StartAgainAsync();
        output.WriteLine($"started again in {broker.LastStartDuration.TotalSeconds:0.00} s");

        await using (var connection = await Connect(broker))
        {
            await using (var probe = await connection.CreateChannelAsync())
            {
                var gone = await Assert.ThrowsAsync<OperationInterruptedException>(() => probe.QueueDeclarePassiveAsync("transient"));
                Assert.Equal<int?>(404, gone.ShutdownReason?.ReplyCode);
            }
            await using var channel = await connection.CreateChannelAsync();
            Assert.Equal(1u, (await channel.QueueDeclarePassiveAsync("jobs")).MessageCount);

            await channel.BasicQosAsync(0, 1, false);
            var received = new TaskCompletionSource<(string? Id, byte[] Body, bool Redelivered)>(TaskCreationOptions.RunContinuationsAsynchronously);
            var consumer = new AsyncEventingBasicConsumer(channel);
            consumer.ReceivedAsync += async (_, delivery) =>
            {
                await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
                received.TrySetResult((delivery.BasicProperties.MessageId, delivery.Body.ToArray(), delivery.Redelivered));
            };
            await channel.BasicConsumeAsync("jobs", autoAck: false, consumer);
            var (id, got, _) = await received.Task.WaitAsync(TimeSpan.FromSeconds(30));

            Assert.Equal("job-1", id);
            Assert.Equal(body, got);
            await channel.BasicCancelAsync(consumer.ConsumerTags.Single());
            Assert.Equal(0u, (await channel.QueueDeclarePassiveAsync("jobs")).MessageCount);
        }
    }

    [BrokerFact]
    public async Task A_message_returned_past_the_delivery_limit_lands_in_the_dead_letter_queue()
    {
        const int deliveryLimit = 2;
        await using var broker = await RabbitBroker.StartAsync();
        output.WriteLine($"node {broker.NodeName}: started in {broker.LastStartDuration.TotalSeconds:0.00} s");
        await using var connection = await Connect(broker);
        await using var channel = await connection.CreateChannelAsync(Confirmed);

        await channel.ExchangeDeclareAsync("dead", ExchangeType.Direct, durable: true, autoDelete: false);
        await channel.QueueDeclareAsync("dead-jobs", durable: true, exclusive: false, autoDelete: false, arguments: Quorum);
        await channel.QueueBindAsync("dead-jobs", "dead", "failed");
        await channel.QueueDeclareAsync("jobs", durable: true, exclusive: false, autoDelete: false, arguments: new Dictionary<string, object?>
        {
            ["x-queue-type"] = "quorum",
            ["x-delivery-limit"] = deliveryLimit,
            ["x-dead-letter-exchange"] = "dead",
            ["x-dead-letter-routing-key"] = "failed",
            // At-least-once dead-lettering (3.10+, quorum queues only; needs reject-publish overflow): the message is
            // removed from "jobs" only once "dead-jobs" has confirmed it, so a crash in between cannot lose it.
            ["x-dead-letter-strategy"] = "at-least-once",
            ["x-overflow"] = "reject-publish",
        });
        var body = Encoding.UTF8.GetBytes("job 2: always fails");
        await channel.BasicPublishAsync("", "jobs", mandatory: true, new BasicProperties { Persistent = true, MessageId = "job-2" }, body);

        // A worker that dies holding the job: its channel closes without an ack, and the job goes back to the queue.
        await using (var crashing = await connection.CreateChannelAsync())
        {
            var held = await crashing.BasicGetAsync("jobs", autoAck: false);
            Assert.NotNull(held);
            await crashing.CloseAsync();
        }

        // A worker that fails the job every time and hands it back.
        var deliveries = new List<string>();
        await channel.BasicQosAsync(0, 1, false);
        var worker = new AsyncEventingBasicConsumer(channel);
        worker.ReceivedAsync += async (_, delivery) =>
        {
            object? count = null;
            delivery.BasicProperties.Headers?.TryGetValue("x-delivery-count", out count);
            lock (deliveries) deliveries.Add($"redelivered={delivery.Redelivered} x-delivery-count={count ?? "(none)"}");
            await channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true);
        };
        await channel.BasicConsumeAsync("jobs", autoAck: false, worker);

        BasicGetResult? dead = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (dead is null && DateTime.UtcNow < deadline)
        {
            dead = await channel.BasicGetAsync("dead-jobs", autoAck: true);
            if (dead is null) await Task.Delay(50);
        }
        await channel.BasicCancelAsync(worker.ConsumerTags.Single());
        lock (deliveries) deliveries.ForEach(d => output.WriteLine(d));

        // The at-least-once strategy is in force (not silently at-most-once): the queue runs a dead-letter worker.
        var workers = await broker.RunToolAsync("rabbitmqctl", "eval", "supervisor:which_children(rabbit_fifo_dlx_sup).");
        Assert.Contains("rabbit_fifo_dlx_worker", workers.Output);
        Assert.NotNull(dead);
        Assert.Equal(body, dead.Body.ToArray());
        Assert.Equal("job-2", dead.BasicProperties.MessageId);
        var death = DescribeDeath(dead.BasicProperties.Headers);
        output.WriteLine($"dead-lettered headers: {death}");
        Assert.Contains("reason=delivery_limit", death);
        Assert.Contains("queue=jobs", death);
        // Every return counts against the limit, the crashed worker's too: one crash and two nacks (limit 2) make the
        // third return, which dead-letters the job. The broker numbers the attempts in x-delivery-count.
        lock (deliveries) Assert.Equal(["redelivered=True x-delivery-count=1", "redelivered=True x-delivery-count=2"], deliveries);
        Assert.Equal(0u, (await channel.QueueDeclarePassiveAsync("jobs")).MessageCount);
    }

    [BrokerFact]
    public async Task A_killed_node_starts_again_and_disposing_leaves_no_process_port_or_folder()
    {
        var broker = await RabbitBroker.StartAsync();
        try
        {
            output.WriteLine($"node {broker.NodeName}: started in {broker.LastStartDuration.TotalSeconds:0.00} s");
            broker.Kill();
            Assert.False(PortAnswers(broker.AmqpPort), "the AMQP port still answers after Kill");
            await broker.StartAgainAsync();
            output.WriteLine($"started again after a kill in {broker.LastStartDuration.TotalSeconds:0.00} s");
            await using (await Connect(broker))
            {
            }
            var ping = await broker.RunToolAsync("rabbitmq-diagnostics", "-q", "ping");
            Assert.True(ping.ExitCode == 0, ping.Output);
        }
        finally
        {
            await broker.DisposeAsync();
        }

        Assert.False(PortAnswers(broker.AmqpPort), "the AMQP port still answers after DisposeAsync");
        Assert.False(PortAnswers(broker.DistPort), "the distribution port still answers after DisposeAsync");
        Assert.False(PortAnswers(broker.EpmdPort), "the private epmd still answers after DisposeAsync");
        Assert.False(Directory.Exists(broker.Folder), $"{broker.Folder} is still there after DisposeAsync");
        string nodeShortName = broker.NodeName.Split('@')[0];
        var left = Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "cmdline"))
            .Select(f => { try { return File.ReadAllText(f).Replace('\0', ' '); } catch (IOException) { return ""; } catch (UnauthorizedAccessException) { return ""; } })
            .Where(cmd => cmd.Contains(nodeShortName) || cmd.Contains(broker.Folder))
            .ToList();
        Assert.True(left.Count == 0, "processes left behind: " + string.Join(" | ", left));
    }

    private static Task<IConnection> Connect(RabbitBroker broker) =>
        new ConnectionFactory { Uri = broker.Amqp, AutomaticRecoveryEnabled = false }.CreateConnectionAsync();

    private static bool PortAnswers(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The <c>x-death</c> (and <c>x-first-death-*</c>) headers as <c>key=value</c> text; AMQP strings arrive as bytes.</summary>
    private static string DescribeDeath(IDictionary<string, object?>? headers)
    {
        if (headers is null) return "(no headers)";
        static string Text(object? value) => value switch
        {
            byte[] bytes => Encoding.UTF8.GetString(bytes),
            IDictionary<string, object?> table => "{" + string.Join(", ", table.Select(p => $"{p.Key}={Text(p.Value)}")) + "}",
            IEnumerable<object?> list => "[" + string.Join(", ", list.Select(Text)) + "]",
            _ => value?.ToString() ?? "null",
        };
        return string.Join("; ", headers.Select(p => $"{p.Key}: {Text(p.Value)}"));
    }
}
