using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Redraft.Broker;

/// <summary>
/// One connection to the broker for the life of a process. The first connection is retried with backoff (the broker
/// may start after us); after that RabbitMQ.Client's automatic recovery reconnects and re-declares channels,
/// consumers and the process's own queues when the broker restarts. <see cref="IsOpen"/> says whether it is up now, so
/// callers refuse work (the server answers 503) instead of losing it.
/// </summary>
public sealed class BrokerConnector : IAsyncDisposable
{
    private readonly ConnectionFactory _factory;
    private readonly TextWriter _log;
    private IConnection? _connection;

    /// <summary>A connector to <paramref name="address"/>; nothing connects until <see cref="ConnectAsync"/>.</summary>
    /// <param name="address">The broker.</param>
    /// <param name="name">The connection's name in the broker's management tools.</param>
    /// <param name="log">Where connection changes are told.</param>
    public BrokerConnector(BrokerAddress address, string name, TextWriter log)
    {
        Address = address;
        _log = log;
        _factory = new ConnectionFactory
        {
            Uri = address.Uri,
            ClientProvidedName = name,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(1),
            RequestedHeartbeat = TimeSpan.FromSeconds(10),
            MaxInboundMessageBodySize = BrokerTopology.MaxInboundBytes,
        };
    }

    /// <summary>The broker.</summary>
    public BrokerAddress Address { get; }

    /// <summary>Whether the connection is up now.</summary>
    public bool IsOpen => _connection?.IsOpen == true;

    /// <summary>The connection (after <see cref="ConnectAsync"/>).</summary>
    public IConnection Connection => _connection ?? throw new InvalidOperationException("not connected yet");

    /// <summary>Connects, retrying with backoff (0.5 s doubling to 5 s) until it succeeds or <paramref name="ct"/> ends.</summary>
    public async Task<IConnection> ConnectAsync(CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(500);
        bool told = false;
        while (true)
        {
            try
            {
                _connection = await _factory.CreateConnectionAsync(ct).ConfigureAwait(false);
                _connection.ConnectionShutdownAsync += (_, e) =>
                {
                    if (e.Initiator != ShutdownInitiator.Application) _log.WriteLine($"redraft: broker connection lost ({e.ReplyText}); reconnecting.");
                    return Task.CompletedTask;
                };
                _connection.RecoverySucceededAsync += (_, _) =>
                {
                    _log.WriteLine($"redraft: reconnected to the broker at {Address}.");
                    return Task.CompletedTask;
                };
                if (told) _log.WriteLine($"redraft: connected to the broker at {Address}.");
                return _connection;
            }
            catch (BrokerUnreachableException e) when (!ct.IsCancellationRequested)
            {
                if (e.InnerException is AuthenticationFailureException auth)
                    throw new RedraftInputException($"--broker {Address}: the broker refused the login ({auth.Message.ReplaceLineEndings(" ")}); check the user and password in the URL.");
                if (Find<System.Security.Authentication.AuthenticationException>(e) is { } tls)
                    throw new RedraftInputException($"--broker {Address}: the TLS connection failed ({tls.Message.ReplaceLineEndings(" ")}); the broker's certificate must be valid for {Address.Uri.Host} and signed by an authority this machine trusts (SSL_CERT_FILE names an extra one).");
                if (!told) _log.WriteLine($"redraft: the broker at {Address} does not answer yet; retrying.");
                told = true;
                await Task.Delay(delay, ct).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    private static T? Find<T>(Exception e) where T : Exception
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is T found) return found;
        return null;
    }

    /// <summary>Closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_connection is null) return;
        try
        {
            if (_connection.IsOpen) await _connection.CloseAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or AlreadyClosedException or IOException)
        {
        }
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
