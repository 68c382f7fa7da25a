using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// <c>GET /</c> and <c>GET /canvas.js</c>: the browser page (the seed of the canvas), from <c>Page/</c>. The files are
/// embedded in this assembly, so <c>redraft serve</c> and the tests serve the same bytes without a wwwroot folder
/// beside whichever program loads the server.
/// </summary>
internal static class PageEndpoints
{
    public static void Map(WebApplication app)
    {
        byte[] page = Read("index.html"), script = Read("canvas.js");
        app.MapGet("/", () => Results.Bytes(page, "text/html; charset=utf-8"));
        app.MapGet("/canvas.js", () => Results.Bytes(script, "text/javascript; charset=utf-8"));
    }

    private static byte[] Read(string name)
    {
        using var stream = typeof(PageEndpoints).Assembly.GetManifestResourceStream("Redraft.Server.Page." + name)
            ?? throw new InvalidOperationException($"the page file {name} is not embedded in Redraft.Server");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
