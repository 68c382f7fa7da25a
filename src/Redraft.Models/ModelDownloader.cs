using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Redraft.Models;

/// <summary>One file to fetch.</summary>
/// <param name="Url">A hub <c>/resolve/</c> URL or any plain URL.</param>
/// <param name="Folder">Where the file goes (created if missing).</param>
/// <param name="FileName">Its name there; null = the server's <c>Content-Disposition</c>, else the URL's last segment.</param>
/// <param name="Sha256">The expected SHA-256 (hex); null = the hub's announced <c>X-Linked-Etag</c>, if any.</param>
/// <param name="What">How messages name it (<c>stabilityai/sd-turbo/sd_turbo.safetensors</c>).</param>
/// <param name="Repo">The hub repository, for the 401/403 message.</param>
public sealed record DownloadRequest(Uri Url, string Folder, string? FileName, string? Sha256, string What, string? Repo = null);

/// <summary>A finished download.</summary>
/// <param name="Path">The file in place.</param>
/// <param name="Sha256">Its SHA-256 (hex), computed while it arrived.</param>
/// <param name="Size">Its size.</param>
/// <param name="Commit">The hub's <c>X-Repo-Commit</c>, when it sent one.</param>
/// <param name="Downloaded">False when another download had already put it in place.</param>
public sealed record DownloadResult(string Path, string Sha256, long Size, string? Commit, bool Downloaded);

/// <summary>
/// Downloads one file the way Hugging Face's client does, made safe to interrupt: a <c>HEAD</c> on the hub's
/// <c>/resolve/</c> URL without following redirects gives the size (<c>X-Linked-Size</c>), the SHA-256 of an LFS
/// file (<c>X-Linked-Etag</c>), the commit (<c>X-Repo-Commit</c>) and the CDN address; free disk space is checked
/// against the size before any <c>GET</c>; bytes go to <c>NAME.part</c>, resumed with <c>Range</c> after a cut
/// connection or a Ctrl-C (from scratch when the server answers 416 or ignores the range), with retries and backoff
/// for transient failures; the SHA-256 is checked before the file is renamed into place (<see cref="AtomicFile.Promote"/>).
/// The token goes only to the hub's own host, never to a redirect target. One download per target at a time: a
/// second one waits for the first (<see cref="DownloadLock"/>) and then finds the file there.
/// </summary>
public sealed class ModelDownloader : IDisposable
{
    private readonly HttpClient _http;
    private readonly HubEnvironment _hub;

    /// <summary>The hub settings it honours.</summary>
    public HubEnvironment Hub => _hub;

    /// <summary>Attempts after a transient failure before giving up.</summary>
    public int MaxAttempts { get; init; } = 6;

    /// <summary>The first pause after a failure; each next one doubles (capped at 30 s).</summary>
    public TimeSpan Backoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A read that yields nothing for this long counts as a cut connection.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Free space available in a folder (replaceable for tests of the disk check).</summary>
    public Func<string, long> FreeSpace { get; init; } = folder => new DriveInfo(folder).AvailableFreeSpace;

    /// <summary>A downloader for <paramref name="hub"/>'s settings; proxies come from the environment.</summary>
    public ModelDownloader(HubEnvironment hub)
    {
        _hub = hub;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Redraft", "1.0"));
    }

    /// <summary>Downloads <paramref name="request"/>; see the class summary for the steps.</summary>
    /// <exception cref="ModelAccessException">Offline, 404, 401/403, or not enough free space.</exception>
    /// <exception cref="ModelDownloadException">Wrong SHA-256 (the file is removed), or failures past the retries.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the <c>.part</c> stays for the next run to resume.</exception>
    public async Task<DownloadResult> DownloadAsync(DownloadRequest request, IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        if (_hub.Offline)
            throw new ModelAccessException($"{request.What} is not on disk and downloads are off (HF_HUB_OFFLINE or --offline); run 'redraft models pull' with network access.");
        Directory.CreateDirectory(request.Folder);

        var head = await ProbeAsync(request, ct);
        string name = SafeName(request.FileName ?? head.FileName ?? Path.GetFileName(request.Url.AbsolutePath), request.What);
        string target = Path.Combine(request.Folder, name);
        string part = target + ".part";
        string? expected = (request.Sha256 ?? head.LinkedSha256)?.ToLowerInvariant();

        using var held = await DownloadLock.AcquireAsync(target, () =>
            progress?.Report(new DownloadProgress(name, DownloadPhase.Waiting, 0, head.Size, 0, $"another download of {name} is running; waiting for it")), ct);
        if (File.Exists(target))
        {
            // Only a verified file is ever renamed into place: the other download finished it.
            var info = new FileInfo(target);
            progress?.Report(new DownloadProgress(name, DownloadPhase.Done, info.Length, info.Length, 0));
            return new DownloadResult(target, expected ?? HashFile(target), info.Length, head.Commit, Downloaded: false);
        }

        long have = File.Exists(part) ? new FileInfo(part).Length : 0;
        if (head.Size is { } size)
        {
            long needed = size - Math.Min(have, size);
            long free = FreeSpace(request.Folder);
            if (needed > free)
                throw new ModelAccessException($"{request.What} needs {Bytes(needed)} and {request.Folder} has {Bytes(free)} free; free some space or choose another folder (--models-dir).");
        }

        var (sha, length) = await FetchAsync(request, head, part, name, progress, ct);
        if (expected is not null && sha != expected)
        {
            File.Delete(part);
            throw new ModelDownloadException($"{request.What}: the download's SHA-256 is {sha}, expected {expected} ({(request.Sha256 is null ? "announced by the hub" : "from the catalogue")}); the file was removed. Run the pull again; if it repeats, the source changed.");
        }
        AtomicFile.Promote(part, target);
        progress?.Report(new DownloadProgress(name, DownloadPhase.Done, length, length, 0));
        return new DownloadResult(target, sha, length, head.Commit, Downloaded: true);
    }

    /// <summary>What a <c>HEAD</c> told: for the hub, read from its own answer (the redirect), never the CDN's.</summary>
    private sealed record Probe(Uri Url, long? Size, string? LinkedSha256, string? Commit, string? FileName);

    private async Task<Probe> ProbeAsync(DownloadRequest request, CancellationToken ct)
    {
        var url = request.Url;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                for (int hop = 0; hop < 10; hop++)
                {
                    using var response = await SendAsync(HttpMethod.Head, url, null, ct);
                    var status = (int)response.StatusCode;
                    if (status is >= 300 and < 400 && response.Headers.Location is { } location)
                    {
                        var next = new Uri(url, location);
                        long? linkedSize = LongHeader(response, "X-Linked-Size");
                        string? linked = Header(response, "X-Linked-Etag") is { } etag && IsSha256(etag.Trim('"')) ? etag.Trim('"') : null;
                        // The hub answers an LFS file with a redirect carrying its facts; a CDN may refuse a HEAD on a
                        // URL signed for GET, so the probe stops there (as huggingface_hub's does).
                        if (linkedSize is not null || linked is not null || !SameServer(next, url))
                            return new Probe(request.Url, linkedSize, linked, Header(response, "X-Repo-Commit"), null);
                        url = next;
                        continue;
                    }
                    if (status == 405) return new Probe(request.Url, null, null, null, null);
                    ThrowForStatus(response, request);
                    if (status >= 500 || status == 429) throw new HttpRequestException($"HTTP {status}", null, response.StatusCode);
                    return new Probe(request.Url, LongHeader(response, "X-Linked-Size") ?? response.Content.Headers.ContentLength,
                        Header(response, "X-Linked-Etag") is { } e && IsSha256(e.Trim('"')) ? e.Trim('"') : null,
                        Header(response, "X-Repo-Commit"), DispositionName(response));
                }
                throw new ModelDownloadException($"{request.What}: too many redirects from {request.Url}.");
            }
            catch (Exception e) when (IsTransient(e, ct) && attempt < MaxAttempts)
            {
                await Task.Delay(Pause(attempt), ct);
            }
            catch (Exception e) when (IsTransient(e, ct))
            {
                throw new ModelDownloadException($"{request.What}: {request.Url.Host} did not answer after {MaxAttempts} attempts ({e.Message}); check the network (and HTTPS_PROXY) and run it again.", e);
            }
        }
    }

    private async Task<(string Sha, long Length)> FetchAsync(DownloadRequest request, Probe head, string part, string name, IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        int failures = 0;
        bool restarted416 = false;
        while (true)
        {
            long offset = File.Exists(part) ? new FileInfo(part).Length : 0;
            if (head.Size is { } total && offset > total) { File.Delete(part); offset = 0; }
            try
            {
                var result = await FetchOnceAsync(request, head, part, name, offset, progress, ct);
                if (result is { } done) return done;
                // 416: the server has nothing past our bytes: they are not a prefix of this file. Start over, once.
                if (restarted416) throw new ModelDownloadException($"{request.What}: the server refused every range (416), even from the start.");
                restarted416 = true;
                File.Delete(part);
            }
            catch (Exception e) when (IsTransient(e, ct))
            {
                failures++;
                if (failures >= MaxAttempts)
                    throw new ModelDownloadException($"{request.What}: the download kept failing ({e.Message}) after {MaxAttempts} attempts; the part downloaded so far is kept: run it again to resume.", e);
                long now = File.Exists(part) ? new FileInfo(part).Length : 0;
                if (now > offset) failures = Math.Min(failures, 1);   // progress was made: a fresh series of attempts
                progress?.Report(new DownloadProgress(name, DownloadPhase.Retrying, now, head.Size, 0, $"{e.Message}; resuming"));
                await Task.Delay(Pause(failures), ct);
            }
        }
    }

    /// <summary>One GET from <paramref name="offset"/>; null on 416. Throws transient errors for the caller to retry.</summary>
    private async Task<(string, long)?> FetchOnceAsync(DownloadRequest request, Probe head, string part, string name, long offset, IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        var url = head.Url;
        HttpResponseMessage? response = null;
        try
        {
            for (int hop = 0; ; hop++)
            {
                response = await SendAsync(HttpMethod.Get, url, offset > 0 ? offset : null, ct);
                if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } location && hop < 10)
                {
                    url = new Uri(url, location);
                    response.Dispose();
                    continue;
                }
                break;
            }
            int status = (int)response.StatusCode;
            if (status == 416) return null;
            ThrowForStatus(response, request);
            if (status >= 500 || status == 429 || status is >= 300 and < 400)
                throw new HttpRequestException($"HTTP {status} from {url.Host}", null, response.StatusCode);

            bool partial = status == 206 && response.Content.Headers.ContentRange is { From: { } from } && from == offset;
            if (status == 206 && !partial)
            {
                // A range we did not ask for: nothing to append it to. Start again from the first byte.
                File.Delete(part);
                throw new IOException($"{url.Host} answered another range than bytes={offset}-");
            }
            long? total = head.Size ?? (partial ? response.Content.Headers.ContentRange?.Length : response.Content.Headers.ContentLength);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using var file = AtomicFile.OpenPartial(part);
            if (partial)
            {
                // Resume: the bytes already on disk enter the hash first, so the file is read once in all.
                file.Position = 0;
                var buffer = new byte[1 << 20];
                long left = offset;
                while (left > 0)
                {
                    int n = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), ct);
                    if (n == 0) throw new IOException($"{part} shrank while resuming");
                    hash.AppendData(buffer, 0, n);
                    left -= n;
                }
            }
            else
            {
                // A 200 to a range request: the server ignored the range and sends the whole file.
                offset = 0;
                file.SetLength(0);
                if (total is { } size && size > FreeSpace(request.Folder))
                    throw new ModelAccessException($"{request.What} needs {Bytes(size)} and {request.Folder} has {Bytes(FreeSpace(request.Folder))} free; free some space or choose another folder (--models-dir).");
            }
            file.Position = offset;

            await using var body = await response.Content.ReadAsStreamAsync(ct);
            var chunk = new byte[1 << 20];
            long have = offset;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var window = new Queue<(double Seconds, long Bytes)>();
            double lastReport = -1;
            while (true)
            {
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
                stall.CancelAfter(StallTimeout);
                int n;
                try
                {
                    n = await body.ReadAsync(chunk, stall.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new IOException($"no data from {url.Host} for {StallTimeout.TotalSeconds:F0} s");
                }
                if (n == 0) break;
                await file.WriteAsync(chunk.AsMemory(0, n), ct);
                hash.AppendData(chunk, 0, n);
                have += n;
                double now = clock.Elapsed.TotalSeconds;
                window.Enqueue((now, have));
                while (window.Count > 1 && now - window.Peek().Seconds > 5) window.Dequeue();
                if (progress is not null && (now - lastReport >= 0.1 || have == total))
                {
                    var (t0, b0) = window.Peek();
                    double rate = now > t0 ? (have - b0) / (now - t0) : 0;
                    progress.Report(new DownloadProgress(name, DownloadPhase.Downloading, have, total, rate));
                    lastReport = now;
                }
            }
            await file.FlushAsync(ct);
            if (total is { } expectedLength && have < expectedLength)
                throw new IOException($"the connection closed at {have} of {expectedLength} bytes");
            if (total is { } longest && have > longest)
            {
                file.SetLength(0);
                throw new IOException($"the server sent {have} bytes, more than the {longest} announced");
            }
            return (Convert.ToHexStringLower(hash.GetHashAndReset()), have);
        }
        finally
        {
            response?.Dispose();
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, long? from, CancellationToken ct)
    {
        var message = new HttpRequestMessage(method, url);
        if (from is { } offset) message.Headers.Range = new RangeHeaderValue(offset, null);
        // The token is for the hub: a CDN, a mirror's storage or any other redirect target never sees it.
        if (_hub.Token is { } token && _hub.IsHub(url)) message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var connect = CancellationTokenSource.CreateLinkedTokenSource(ct);
        connect.CancelAfter(StallTimeout);
        try
        {
            return await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, connect.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new IOException($"{url.Host} did not answer in {StallTimeout.TotalSeconds:F0} s");
        }
    }

    private void ThrowForStatus(HttpResponseMessage response, DownloadRequest request)
    {
        int status = (int)response.StatusCode;
        string repo = request.Repo ?? request.Url.Host;
        if (status is 401 or 403)
        {
            string how = request.Repo is null
                ? "the server wants credentials; use a download link that includes them"
                : _hub.Token is null
                    ? $"accept its terms at {_hub.Endpoint.AbsoluteUri.TrimEnd('/')}/{request.Repo} and set HF_TOKEN to a read token (https://huggingface.co/settings/tokens)"
                    : $"the token in HF_TOKEN has no access to it: accept its terms at {_hub.Endpoint.AbsoluteUri.TrimEnd('/')}/{request.Repo} with that account";
            throw new ModelAccessException($"{repo} needs access (HTTP {status}) for {request.What}: {how}.");
        }
        if (status == 404)
            throw new ModelAccessException($"{request.What} not found (HTTP 404 from {response.RequestMessage?.RequestUri?.Host}); check the name, or the repository may have moved.");
        if (status is >= 400 and < 500 and not 408 and not 429 and not 416)
            throw new ModelDownloadException($"{request.What}: HTTP {status} from {response.RequestMessage?.RequestUri?.Host}.");
    }

    private static bool IsTransient(Exception e, CancellationToken ct) =>
        !ct.IsCancellationRequested && e is HttpRequestException or IOException && e is not ModelAccessException;

    private TimeSpan Pause(int attempt) => TimeSpan.FromMilliseconds(Math.Min(30_000, Backoff.TotalMilliseconds * Math.Pow(2, attempt - 1)));

    private static bool SameServer(Uri a, Uri b) => Uri.Compare(a, b, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;

    private static string? Header(HttpResponseMessage r, string name) =>
        r.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault() : r.Content.Headers.TryGetValues(name, out var c) ? c.FirstOrDefault() : null;

    private static long? LongHeader(HttpResponseMessage r, string name) => long.TryParse(Header(r, name), out var v) ? v : null;

    private static bool IsSha256(string s) => s.Length == 64 && s.All(Uri.IsHexDigit);

    private static string? DispositionName(HttpResponseMessage r)
    {
        var d = r.Content.Headers.ContentDisposition;
        return (d?.FileNameStar ?? d?.FileName)?.Trim('"');
    }

    /// <summary>A file name from a server kept to one plain name in the folder: no separators, no dot-names.</summary>
    private static string SafeName(string name, string what)
    {
        string plain = Path.GetFileName(name.Replace('\\', '/').Split('/').Last()).Trim();
        if (plain.Length == 0 || plain.StartsWith('.') || plain.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            throw new ModelDownloadException($"{what}: the server named the file \"{name}\", which is not a usable file name.");
        return plain;
    }

    /// <summary>SHA-256 (hex) of a file.</summary>
    public static string HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>A byte count for people: 4.27 GB, 335 MB, 2.4 kB.</summary>
    public static string Bytes(long n) => n switch
    {
        >= 1_000_000_000 => $"{n / 1e9:F2} GB",
        >= 1_000_000 => $"{n / 1e6:F0} MB",
        >= 1_000 => $"{n / 1e3:F1} kB",
        _ => $"{n} B",
    };

    public void Dispose() => _http.Dispose();
}
