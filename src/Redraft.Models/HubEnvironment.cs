namespace Redraft.Models;

/// <summary>
/// The Hugging Face settings Redraft honours, read as <c>huggingface_hub</c> reads them: <c>HF_ENDPOINT</c> (a mirror
/// or a private hub; default <c>https://huggingface.co</c>), <c>HF_TOKEN</c> (else the token file
/// <c>huggingface-cli login</c> writes: <c>$HF_TOKEN_PATH</c>, else <c>$HF_HOME/token</c>), <c>HF_HUB_OFFLINE</c>
/// (no network at all), and the cache <c>$HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else
/// <c>~/.cache/huggingface/hub</c>. Proxies (<c>HTTPS_PROXY</c>, <c>HTTP_PROXY</c>, <c>ALL_PROXY</c>, <c>NO_PROXY</c>)
/// are honoured by .NET's HTTP stack itself.
/// </summary>
public sealed record HubEnvironment
{
    /// <summary>The hub's base URL, without a trailing slash.</summary>
    public required Uri Endpoint { get; init; }

    /// <summary>The access token for gated repositories, or null.</summary>
    public string? Token { get; init; }

    /// <summary>No network access (<c>HF_HUB_OFFLINE=1</c> or <c>--offline</c>).</summary>
    public bool Offline { get; init; }

    /// <summary>The Hugging Face cache folder searched for models already downloaded (it may not exist).</summary>
    public string? HubCache { get; init; }

    /// <summary>The settings of this process's environment.</summary>
    public static HubEnvironment Current => From(Environment.GetEnvironmentVariable);

    /// <summary>The settings <paramref name="env"/> describes.</summary>
    public static HubEnvironment From(Func<string, string?> env)
    {
        ArgumentNullException.ThrowIfNull(env);
        string endpoint = NonEmpty(env("HF_ENDPOINT"))?.TrimEnd('/') ?? "https://huggingface.co";
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new RedraftInputException($"HF_ENDPOINT={endpoint}: not an http(s) URL; unset it or give the hub's address.");
        string? home = NonEmpty(env("HOME")) ?? NonEmpty(env("USERPROFILE"));
        string? hfHome = NonEmpty(env("HF_HOME")) ?? (home is null ? null : Path.Combine(home, ".cache", "huggingface"));
        string? token = NonEmpty(env("HF_TOKEN")) ?? NonEmpty(env("HUGGING_FACE_HUB_TOKEN"));
        if (token is null)
        {
            string? tokenFile = NonEmpty(env("HF_TOKEN_PATH")) ?? (hfHome is null ? null : Path.Combine(hfHome, "token"));
            if (tokenFile is not null && File.Exists(tokenFile)) token = NonEmpty(File.ReadAllText(tokenFile).Trim());
        }
        return new HubEnvironment
        {
            Endpoint = uri,
            Token = token,
            Offline = IsTrue(env("HF_HUB_OFFLINE")),
            HubCache = NonEmpty(env("HF_HUB_CACHE")) ?? (hfHome is null ? null : Path.Combine(hfHome, "hub")),
        };
    }

    /// <summary>The URL of a repository file: <c>{endpoint}/{repo}/resolve/{revision}/{path}</c>.</summary>
    public Uri ResolveUrl(string repo, string revision, string path) =>
        new($"{Endpoint.AbsoluteUri.TrimEnd('/')}/{repo}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', path.Split('/').Select(Uri.EscapeDataString))}");

    /// <summary>True when <paramref name="url"/> is on the hub's own host (scheme, host and port): only there is the token sent.</summary>
    public bool IsHub(Uri url) => Uri.Compare(url, Endpoint, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;

    private static bool IsTrue(string? value) => value?.Trim().ToLowerInvariant() is "1" or "true" or "yes" or "on";

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
