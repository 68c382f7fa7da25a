using System.Collections.Frozen;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// The canvas: <c>GET /</c> (the page) and <c>GET /page/{file}</c> (its ES modules and style sheet), from
/// <c>Page/</c>. The files are embedded in this assembly, so <c>redraft serve</c> and the tests serve the same bytes,
/// with no build step and no wwwroot folder beside whichever program loads the server. Only embedded names are
/// served (a name is looked up, never joined to a path). The content security policy keeps the page on this server:
/// it loads and sends nothing anywhere else.
/// </summary>
internal static class PageEndpoints
{
    private const string Prefix = "Redraft.Server.Page.";

    /// <summary>The policy of the page: its own scripts, styles, images and API only (data/blob URLs for pictures it builds).</summary>
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static void Map(WebApplication app)
    {
        var files = Files();
        app.MapGet("/", (HttpContext http) => Serve(http, files["index.html"], "index.html"));
        app.MapGet("/page/{file}", (HttpContext http, string file) =>
            files.TryGetValue(file, out var bytes) && file != "index.html" ? Serve(http, bytes, file) : Results.NotFound());
    }

    private static IResult Serve(HttpContext http, byte[] bytes, string name)
    {
        http.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        http.Response.Headers.XContentTypeOptions = "nosniff";
        // The page's files change with the server binary: a browser asks again each time (a 304 costs nothing here).
        http.Response.Headers.CacheControl = "no-cache";
        return Results.Bytes(bytes, ContentType(name));
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".json" => "application/json",
        _ => "application/octet-stream",
    };

    private static FrozenDictionary<string, byte[]> Files()
    {
        var assembly = typeof(PageEndpoints).Assembly;
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[resource[Prefix.Length..]] = copy.ToArray();
        }
        if (!files.ContainsKey("index.html")) throw new InvalidOperationException("the page (index.html) is not embedded in Redraft.Server");
        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
