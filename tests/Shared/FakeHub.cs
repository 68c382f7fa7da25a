using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Redraft.Tests.Shared;

/// <summary>
/// A real HTTP/1.1 server on 127.0.0.1 (two ports: the hub and its CDN, two different hosts to a client), shaped like
/// Hugging Face's hub: <c>GET|HEAD /{org}/{name}/resolve/{revision}/{path}</c> answers an LFS file with a 302 to the
/// CDN carrying <c>X-Linked-Etag</c> (its SHA-256), <c>X-Linked-Size</c>, <c>X-Repo-Commit</c> and <c>ETag</c>, and a
/// small file (<see cref="HubFile.Lfs"/> false) directly; the CDN serves bytes with <c>Range</c>. Each file can
/// misbehave (cut the connection, ignore ranges, lie about its hash or size, want a token, go slowly). Every request
/// is logged with its host, method, path, Range and Authorization, for tests to assert on.
/// </summary>
public sealed class FakeHub : IDisposable
{
    /// <summary>One file the hub serves, and how it misbehaves.</summary>
    public sealed class HubFile
    {
        public required byte[] Bytes { get; init; }
        public bool Lfs { get; init; } = true;
        /// <summary>The hash announced in X-Linked-Etag (default: the real one).</summary>
        public string? AnnouncedSha256 { get; init; }
        /// <summary>The size announced in X-Linked-Size (default: the real one).</summary>
        public long? AnnouncedSize { get; init; }
        /// <summary>The first this-many GETs of the bytes close the connection after <see cref="CutAfter"/> bytes.</summary>
        public int CutTimes { get; set; }
        public int CutAfter { get; init; }
        /// <summary>Answer range requests with 200 and the whole file.</summary>
        public bool IgnoreRange { get; init; }
        /// <summary>The hub answers 401 without this bearer token (403 with another).</summary>
        public string? RequiredToken { get; init; }
        /// <summary>Pause after each 64 kB sent.</summary>
        public TimeSpan ChunkDelay { get; init; }
        /// <summary>Content-Disposition file name (plain download links).</summary>
        public string? DispositionName { get; init; }

        public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Bytes));
    }

    /// <summary>A logged request.</summary>
    public sealed record Request(string Host, string Method, string Path, string? Range, string? Authorization, int Status);

    public const string Commit = "0123456789abcdef0123456789abcdef01234567";

    private readonly TcpListener _hub = new(IPAddress.Loopback, 0);
    private readonly TcpListener _cdn = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, HubFile> _files = new();
    private readonly ConcurrentDictionary<string, HubFile> _downloads = new();
    private readonly ConcurrentQueue<Request> _log = new();
    private readonly List<Task> _loops = [];

    public FakeHub()
    {
        _hub.Start();
        _cdn.Start();
        _loops.Add(AcceptLoop(_hub, "hub"));
        _loops.Add(AcceptLoop(_cdn, "cdn"));
    }

    /// <summary>The hub's address (what HF_ENDPOINT names).</summary>
    public Uri Endpoint => new($"http://127.0.0.1:{((IPEndPoint)_hub.LocalEndpoint).Port}");

    /// <summary>The CDN's address (a second host: another port).</summary>
    public Uri Cdn => new($"http://127.0.0.1:{((IPEndPoint)_cdn.LocalEndpoint).Port}");

    /// <summary>Every request so far, in arrival order.</summary>
    public IReadOnlyList<Request> Log => [.. _log];

    /// <summary>The GETs so far (any host).</summary>
    public IReadOnlyList<Request> Gets => [.. _log.Where(r => r.Method == "GET")];

    /// <summary>Serves <paramref name="file"/> as <c>{repo}/resolve/{any revision}/{path}</c>.</summary>
    public HubFile Add(string repo, string path, HubFile file)
    {
        _files[$"{repo}/{path}"] = file;
        return file;
    }

    /// <summary>Serves <paramref name="file"/> as a plain download link on the CDN host; returns its URL.</summary>
    public Uri AddDownload(string id, HubFile file)
    {
        _downloads[id] = file;
        return new Uri(Cdn, $"/api/download/{id}");
    }

    private async Task AcceptLoop(TcpListener listener, string host)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try { await Serve(client, host); }
                    catch (Exception) { /* the client went away: as a real server, carry on */ }
                }
            });
        }
    }

    private async Task Serve(TcpClient client, string host)
    {
        var stream = client.GetStream();
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one, _stop.Token) == 0) return;
            head.Append((char)one[0]);
        }
        var lines = head.ToString().Split("\r\n");
        var parts = lines[0].Split(' ');
        string method = parts[0], path = Uri.UnescapeDataString(parts[1]);
        var headers = lines.Skip(1).Where(l => l.Contains(':'))
            .ToDictionary(l => l[..l.IndexOf(':')].Trim().ToLowerInvariant(), l => l[(l.IndexOf(':') + 1)..].Trim());
        headers.TryGetValue("range", out var range);
        headers.TryGetValue("authorization", out var auth);

        async Task Answer(int status, IDictionary<string, string> extra, byte[]? body, long? length = null, Func<Task>? writeBody = null)
        {
            _log.Enqueue(new Request(host, method, path, range, auth, status));
            var text = new StringBuilder($"HTTP/1.1 {status} {(HttpStatusCode)status}\r\nConnection: close\r\n");
            foreach (var (k, v) in extra) text.Append($"{k}: {v}\r\n");
            text.Append($"Content-Length: {length ?? body?.Length ?? 0}\r\n\r\n");
            await stream.WriteAsync(Encoding.ASCII.GetBytes(text.ToString()));
            if (method == "HEAD") return;
            if (writeBody is not null) await writeBody();
            else if (body is not null) await stream.WriteAsync(body);
        }

        if (host == "hub")
        {
            // /{org}/{name}/resolve/{revision}/{path}
            var segments = path.TrimStart('/').Split('/', 5);
            if (segments.Length < 5 || segments[2] != "resolve" || !_files.TryGetValue($"{segments[0]}/{segments[1]}/{segments[4]}", out var file))
            {
                await Answer(404, new Dictionary<string, string> { ["X-Error-Code"] = "EntryNotFound" }, Encoding.UTF8.GetBytes("Entry not found"));
                return;
            }
            if (file.RequiredToken is { } token && auth != $"Bearer {token}")
            {
                await Answer(auth is null ? 401 : 403, new Dictionary<string, string> { ["X-Error-Code"] = "GatedRepo" }, Encoding.UTF8.GetBytes("Access to model is restricted"));
                return;
            }
            var common = new Dictionary<string, string> { ["X-Repo-Commit"] = Commit };
            if (file.Lfs)
            {
                common["X-Linked-Etag"] = $"\"{file.AnnouncedSha256 ?? file.Sha256}\"";
                common["X-Linked-Size"] = (file.AnnouncedSize ?? file.Bytes.Length).ToString();
                common["ETag"] = $"\"{file.AnnouncedSha256 ?? file.Sha256}\"";
                common["Location"] = new Uri(Cdn, $"/repos/{file.Sha256}").AbsoluteUri;
                _downloads.TryAdd($"lfs-{file.Sha256}", file);
                await Answer(302, common, null);
                return;
            }
            common["ETag"] = $"\"{Convert.ToHexStringLower(SHA1.HashData(file.Bytes))}\"";
            await ServeBytes(file, common);
            return;
        }

        HubFile? served = path.StartsWith("/repos/", StringComparison.Ordinal) && _downloads.TryGetValue($"lfs-{path["/repos/".Length..]}", out var lfs) ? lfs
            : path.StartsWith("/api/download/", StringComparison.Ordinal) && _downloads.TryGetValue(path["/api/download/".Length..], out var d) ? d : null;
        if (served is null)
        {
            await Answer(404, new Dictionary<string, string>(), Encoding.UTF8.GetBytes("no such object"));
            return;
        }
        var extra = new Dictionary<string, string>();
        if (served.DispositionName is { } name) extra["Content-Disposition"] = $"attachment; filename=\"{name}\"";
        await ServeBytes(served, extra);

        async Task ServeBytes(HubFile file, Dictionary<string, string> extra)
        {
            long from = 0;
            int status = 200;
            if (range is not null && !file.IgnoreRange && range.StartsWith("bytes=", StringComparison.Ordinal))
            {
                from = long.Parse(range["bytes=".Length..].TrimEnd('-'));
                if (from >= file.Bytes.Length)
                {
                    extra["Content-Range"] = $"bytes */{file.Bytes.Length}";
                    await Answer(416, extra, null);
                    return;
                }
                status = 206;
                extra["Content-Range"] = $"bytes {from}-{file.Bytes.Length - 1}/{file.Bytes.Length}";
            }
            extra["Accept-Ranges"] = "bytes";
            bool cut = method == "GET" && file.CutTimes > 0;
            if (cut) file.CutTimes--;
            await Answer(status, extra, null, file.Bytes.Length - from, async () =>
            {
                long end = cut ? Math.Min(file.Bytes.Length, from + file.CutAfter) : file.Bytes.Length;
                for (long at = from; at < end; at += 65536)
                {
                    int n = (int)Math.Min(65536, end - at);
                    await stream.WriteAsync(file.Bytes.AsMemory((int)at, n));
                    await stream.FlushAsync();
                    if (file.ChunkDelay > TimeSpan.Zero) await Task.Delay(file.ChunkDelay);
                }
                if (cut) client.Client.LingerState = new LingerOption(true, 0);   // a reset, as a dropped connection
            });
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _hub.Stop();
        _cdn.Stop();
        try { Task.WaitAll([.. _loops], TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}
