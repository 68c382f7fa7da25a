using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Redraft.Tests.Shared;

/// <summary>
/// A private RabbitMQ node for tests: Debian's <c>rabbitmq-server</c> package run as a child process of the test, on
/// free ports of its own (AMQP, Erlang distribution and a private epmd, all on 127.0.0.1), under a unique node name,
/// with every file (database, logs, configuration, Erlang cookie, HOME) in a temporary folder. It shares nothing with
/// a system broker or another test's node, and can be stopped and started again on the same ports and data, so
/// durable queues and persistent messages survive as they would on a real broker restart.
/// </summary>
/// <remarks>
/// The package's <c>/usr/sbin</c> wrappers switch to the <c>rabbitmq</c> user and its <c>/var/lib</c> folders, so the
/// node is started through the scripts in <see cref="ScriptsDir"/>, which take their settings from the environment
/// only. Readiness is an AMQP connection that succeeds, never a fixed sleep.
/// </remarks>
public sealed class RabbitBroker : IAsyncDisposable
{
    /// <summary>Where Debian's package puts the server's command; its presence means RabbitMQ is installed.</summary>
    public const string InstalledServer = "/usr/sbin/rabbitmq-server";

    /// <summary>The package's own scripts, which run as the calling user and read their settings from the environment.</summary>
    public const string ScriptsDir = "/usr/lib/rabbitmq/bin";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PollDelay = TimeSpan.FromMilliseconds(100);

    // Nodes still running when the test host exits (a crashed or aborted run) are killed rather than left behind.
    private static readonly ConcurrentDictionary<RabbitBroker, byte> Live = new();

    static RabbitBroker()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var broker in Live.Keys) broker.KillEverything();
        };
    }

    /// <summary>Why RabbitMQ cannot be started here (null when the package is installed).</summary>
    public static string? MissingReason => File.Exists(InstalledServer)
        ? null
        : $"{InstalledServer} not found: install Debian's rabbitmq-server (apt-get install rabbitmq-server; .ci/run does) to run the broker tests";

    /// <summary>
    /// Why a broker test is skipped on this machine: RabbitMQ is missing. Null when it is there, and also under CI
    /// (<c>CI=true</c>), where <c>.ci/run</c> installs it, so a missing broker is a broken set-up: the tests run and fail.
    /// </summary>
    public static string? SkipReason => Environment.GetEnvironmentVariable("CI") == "true" ? null : MissingReason;

    private readonly Dictionary<string, string> _environment;
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _epmd;
    private Process? _node;
    private bool _disposed;

    private RabbitBroker(bool tls)
    {
        Folder = Directory.CreateTempSubdirectory("redraft-rabbit-").FullName;
        NodeName = $"redraft-test-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}@localhost";
        (AmqpPort, DistPort, EpmdPort) = FreePorts();
        if (tls)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            TlsPort = ((IPEndPoint)listener.LocalEndpoint).Port;
            WriteCertificates();
        }
        _environment = WriteConfiguration();
    }

    /// <summary>The TLS (AMQPS) listener's port on 127.0.0.1, or 0 when the node was started without TLS.</summary>
    public int TlsPort { get; }

    /// <summary>
    /// The certificate authority (PEM) that signed the TLS listener's certificate (for <c>localhost</c>); a client trusts
    /// it through <c>SSL_CERT_FILE</c>. Null without TLS.
    /// </summary>
    public string? CaFile => TlsPort == 0 ? null : Path.Combine(Folder, "tls", "ca.pem");

    /// <summary>The broker's TLS address (<c>amqps://…@localhost:port/</c>), or null without TLS.</summary>
    public Uri? Amqps => TlsPort == 0 ? null : new($"amqps://guest:guest@localhost:{TlsPort}/");

    /// <summary>A throwaway certificate authority and a <c>localhost</c> server certificate signed by it, as PEM files.</summary>
    private void WriteCertificates()
    {
        string dir = Directory.CreateDirectory(Path.Combine(Folder, "tls")).FullName;
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=Redraft test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
        using var serverKey = RSA.Create(2048);
        var serverRequest = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var server = serverRequest.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(8));
        File.WriteAllText(Path.Combine(dir, "ca.pem"), ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, "server.pem"), server.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, "server-key.pem"), serverKey.ExportRSAPrivateKeyPem());
    }

    /// <summary>The node's name, e.g. <c>redraft-test-1a2b3c4d@localhost</c>.</summary>
    public string NodeName { get; }

    /// <summary>The AMQP listener's port on 127.0.0.1.</summary>
    public int AmqpPort { get; }

    /// <summary>The node's Erlang distribution port (what <c>rabbitmqctl</c> talks to).</summary>
    public int DistPort { get; }

    /// <summary>The private epmd's port (Erlang's port mapper, one per broker here, never the system's 4369).</summary>
    public int EpmdPort { get; }

    /// <summary>The temporary folder that holds everything the node writes; deleted by <see cref="DisposeAsync"/>.</summary>
    public string Folder { get; }

    /// <summary>
    /// The broker's address. <c>guest</c> may log in from loopback only, which is where every test client connects from.
    /// </summary>
    public Uri Amqp => new($"amqp://guest:guest@127.0.0.1:{AmqpPort}/");

    /// <summary>How long the last start took, from launching the node to its first successful AMQP connection.</summary>
    public TimeSpan LastStartDuration { get; private set; }

    /// <summary>The environment the node runs with; give it to <c>rabbitmqctl</c> or <c>rabbitmq-diagnostics</c> too.</summary>
    public IReadOnlyDictionary<string, string> NodeEnvironment => _environment;

    /// <summary>Starts a new node (fresh folder, free ports) and returns once it accepts AMQP connections.</summary>
    /// <param name="tls">Also listen for AMQPS on <see cref="TlsPort"/>, with a certificate signed by <see cref="CaFile"/>.</param>
    public static async Task<RabbitBroker> StartAsync(bool tls = false)
    {
        if (MissingReason is { } missing) throw new InvalidOperationException(missing);
        var broker = new RabbitBroker(tls);
        Live[broker] = 0;
        try
        {
            await broker.StartEpmdAsync();
            await broker.StartNodeAsync();
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Stops the node gracefully (<c>rabbitmqctl stop</c>, as an operator would) and waits for its process to exit.
    /// The private epmd keeps running, so <see cref="StartAgainAsync"/> can follow.
    /// </summary>
    public async Task StopAsync()
    {
        var node = _node ?? throw new InvalidOperationException($"RabbitMQ node {NodeName} is not running");
        var stop = await RunToolAsync("rabbitmqctl", "-n", NodeName, "stop");
        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await node.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            KillNode();
            throw new TimeoutException(
                $"RabbitMQ node {NodeName} did not exit within {StopTimeout.TotalSeconds:0} s of 'rabbitmqctl stop' " +
                $"(exit {stop.ExitCode}: {stop.Output.Trim()}); it was killed.\n{Tail()}");
        }
        node.Dispose();
        _node = null;
    }

    /// <summary>
    /// Starts the node again after <see cref="StopAsync"/> or <see cref="Kill"/>: same name, ports and data folder, so
    /// durable queues, their persistent messages and the exchanges come back.
    /// </summary>
    public Task StartAgainAsync()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_node is not null) throw new InvalidOperationException($"RabbitMQ node {NodeName} is still running; stop or kill it first");
        return StartNodeAsync();
    }

    /// <summary>Kills the node at once (SIGKILL to its whole process tree), as a crash or power loss would.</summary>
    public void Kill() => KillNode();

    /// <summary>
    /// Runs one of the package's command-line tools (<c>rabbitmqctl</c>, <c>rabbitmq-diagnostics</c>,
    /// <c>rabbitmq-queues</c>) against this node; returns its exit code and its output (stdout then stderr).
    /// </summary>
    public async Task<(int ExitCode, string Output)> RunToolAsync(string tool, params string[] args)
    {
        var start = StartInfo(Path.Combine(ScriptsDir, tool));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} {string.Join(' ', args)} did not finish within {StopTimeout.TotalSeconds:0} s");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Kills the node and the private epmd and deletes <see cref="Folder"/>. Safe to call more than once.</summary>
    public ValueTask DisposeAsync()
    {
        if (_disposed) return ValueTask.CompletedTask;
        _disposed = true;
        KillEverything();
        Live.TryRemove(this, out _);
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>The last lines the node printed and the tail of its log file, for error messages.</summary>
    public string Tail()
    {
        var log = Path.Combine(Folder, "log", $"{NodeName}.log");
        var logTail = "";
        if (File.Exists(log))
        {
            using var reader = new StreamReader(new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
            var lines = reader.ReadToEnd().Split('\n');
            logTail = string.Join('\n', lines.TakeLast(40));
        }
        return $"--- node output (last lines) ---\n{string.Join('\n', _output)}\n--- {log} (last 40 lines) ---\n{logTail}";
    }

    /// <summary>
    /// Writes the node's configuration into <see cref="Folder"/> and returns the environment that points the
    /// package's scripts at it and nowhere else (not <c>/etc/rabbitmq</c>, <c>/var/lib/rabbitmq</c> or <c>~</c>).
    /// </summary>
    private Dictionary<string, string> WriteConfiguration()
    {
        string home = Directory.CreateDirectory(Path.Combine(Folder, "home")).FullName;
        // Erlang refuses a cookie others can read; the node and rabbitmqctl find it through HOME.
        string cookie = Path.Combine(home, ".erlang.cookie");
        File.WriteAllText(cookie, Convert.ToHexString(RandomNumberGenerator.GetBytes(20)));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(cookie, UnixFileMode.UserRead);

        string config = Path.Combine(Folder, "rabbitmq.conf");
        File.WriteAllText(config, $"""
            # Loopback only, on this node's own port.
            listeners.tcp.1 = 127.0.0.1:{AmqpPort}
            # The log file is enough (Tail reads it); printing it too would only fill the pipe.
            log.console = false
            # A small temp disk must not block publishers in tests.
            disk_free_limit.absolute = 10MB
            """ + (TlsPort == 0 ? "" : $"""

            listeners.ssl.1 = 127.0.0.1:{TlsPort}
            ssl_options.cacertfile = {Path.Combine(Folder, "tls", "ca.pem")}
            ssl_options.certfile = {Path.Combine(Folder, "tls", "server.pem")}
            ssl_options.keyfile = {Path.Combine(Folder, "tls", "server-key.pem")}
            ssl_options.verify = verify_none
            ssl_options.fail_if_no_peer_cert = false
            """));
        string plugins = Path.Combine(Folder, "enabled_plugins");
        File.WriteAllText(plugins, "[].\n"); // no management plugin, no web ports
        string envFile = Path.Combine(Folder, "rabbitmq-env.conf");
        File.WriteAllText(envFile, ""); // instead of /etc/rabbitmq/rabbitmq-env.conf

        return new Dictionary<string, string>
        {
            ["HOME"] = home,
            ["LC_ALL"] = "C.UTF-8", // the CLI tools (Elixir) warn without a UTF-8 locale
            ["RABBITMQ_NODENAME"] = NodeName,
            ["RABBITMQ_USE_LONGNAME"] = "false",
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = AmqpPort.ToString(),
            ["RABBITMQ_DIST_PORT"] = DistPort.ToString(),
            ["ERL_EPMD_PORT"] = EpmdPort.ToString(),
            ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
            // The distribution listener binds every interface unless told otherwise.
            ["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}",
            ["RABBITMQ_CONF_ENV_FILE"] = envFile,
            ["RABBITMQ_CONFIG_FILE"] = config,
            ["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(Folder, "advanced.config"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = plugins,
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(Folder, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(Folder, "log"),
            ["RABBITMQ_PLUGINS_EXPAND_DIR"] = Path.Combine(Folder, "plugins-expand"),
            ["RABBITMQ_PID_FILE"] = Path.Combine(Folder, "node.pid"),
        };
    }

    private ProcessStartInfo StartInfo(string program)
    {
        var start = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Folder,
        };
        // Settings inherited from the test's own environment (or a systemd socket) must not reach the node.
        foreach (var key in start.Environment.Keys.ToList())
        {
            if (key.StartsWith("RABBITMQ_", StringComparison.Ordinal) || key.StartsWith("ERL_", StringComparison.Ordinal) || key == "NOTIFY_SOCKET")
                start.Environment.Remove(key);
        }
        foreach (var (key, value) in _environment) start.Environment[key] = value;
        return start;
    }

    /// <summary>
    /// Starts epmd in the foreground as this broker's own child on its private port, before the node, so the node
    /// registers with it instead of daemonizing an epmd that would outlive the test.
    /// </summary>
    private async Task StartEpmdAsync()
    {
        string epmd = File.Exists("/usr/bin/epmd") ? "/usr/bin/epmd" : "epmd";
        var start = StartInfo(epmd);
        start.ArgumentList.Add("-port");
        start.ArgumentList.Add(EpmdPort.ToString());
        start.ArgumentList.Add("-address");
        start.ArgumentList.Add("127.0.0.1");
        _epmd = Launch(start, "epmd");
        var clock = Stopwatch.StartNew();
        while (!PortAnswers(EpmdPort))
        {
            if (_epmd.HasExited)
                throw new InvalidOperationException($"epmd on port {EpmdPort} exited with code {_epmd.ExitCode}.\n{Tail()}");
            if (clock.Elapsed > StartTimeout)
                throw new TimeoutException($"epmd did not listen on 127.0.0.1:{EpmdPort} within {StartTimeout.TotalSeconds:0} s.\n{Tail()}");
            await Task.Delay(PollDelay);
        }
    }

    private async Task StartNodeAsync()
    {
        var clock = Stopwatch.StartNew();
        _node = Launch(StartInfo(Path.Combine(ScriptsDir, "rabbitmq-server")), "node");
        var factory = new ConnectionFactory
        {
            Uri = Amqp,
            AutomaticRecoveryEnabled = false,
            RequestedConnectionTimeout = TimeSpan.FromSeconds(5),
        };
        Exception? last = null;
        while (clock.Elapsed < StartTimeout)
        {
            if (_node.HasExited)
            {
                int code = _node.ExitCode;
                _node.Dispose();
                _node = null;
                throw new InvalidOperationException($"RabbitMQ node {NodeName} exited with code {code} while starting.\n{Tail()}");
            }
            try
            {
                await using var connection = await factory.CreateConnectionAsync();
                await connection.CloseAsync();
                LastStartDuration = clock.Elapsed;
                return;
            }
            catch (Exception e) when (e is BrokerUnreachableException or OperationInterruptedException)
            {
                last = e;
            }
            await Task.Delay(PollDelay);
        }
        KillNode();
        throw new TimeoutException(
            $"RabbitMQ node {NodeName} did not accept an AMQP connection on {Amqp} within {StartTimeout.TotalSeconds:0} s " +
            $"(last error: {last?.GetBaseException().Message}); it was killed.\n{Tail()}");
    }

    private Process Launch(ProcessStartInfo start, string label)
    {
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Remember(label, e.Data);
        process.ErrorDataReceived += (_, e) => Remember(label, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Remember(string label, string? line)
    {
        if (string.IsNullOrWhiteSpace(line)) return;
        _output.Enqueue($"[{label}] {line}");
        while (_output.Count > 40) _output.TryDequeue(out _);
    }

    private void KillNode()
    {
        if (_node is null) return;
        // The package's start script runs erl as a child (to turn signals into a clean stop), and the VM has helper
        // children of its own: the whole tree goes.
        try
        {
            _node.Kill(entireProcessTree: true);
            _node.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // already exited
        }
        _node.Dispose();
        _node = null;
        // The script that was waited for is not the VM that listens: its SIGKILLed children are reaped a moment later.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((PortAnswers(AmqpPort) || (TlsPort != 0 && PortAnswers(TlsPort))) && DateTime.UtcNow < deadline) Thread.Sleep(20);
    }

    private void KillEverything()
    {
        KillNode();
        if (_epmd is not null)
        {
            try
            {
                _epmd.Kill(entireProcessTree: true);
                _epmd.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
            }
            _epmd.Dispose();
            _epmd = null;
        }
        // Should an epmd of the VM's own have taken the port after all, it is told to quit too.
        if (PortAnswers(EpmdPort))
        {
            try
            {
                using var kill = Process.Start(new ProcessStartInfo("epmd", ["-port", EpmdPort.ToString(), "-kill"])
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                });
                kill?.WaitForExit(10_000);
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }
    }

    /// <summary>Whether something accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public static bool PortAnswers(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Three distinct free ports: all three are held open while they are picked, so they cannot repeat.</summary>
    private static (int, int, int) FreePorts()
    {
        var listeners = Enumerable.Range(0, 3).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToList();
            return (ports[0], ports[1], ports[2]);
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }
}
