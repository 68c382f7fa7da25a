using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// <c>GET /openapi.json</c> (<see cref="OpenApiDocument"/>) and <c>GET /docs</c> (<see cref="DocsPage"/>), built once
/// per server from <see cref="ApiRoutes"/>. With <c>--api-auth</c> they need the credentials like every other route.
/// </summary>
internal static class DocsEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        string version = typeof(DocsEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
        var document = new Lazy<string>(() => OpenApiDocument.Build(context.Options.ApiAuth.Count > 0, version).ToJsonString());
        var page = new Lazy<string>(() => DocsPage.Render(OpenApiDocument.Build(context.Options.ApiAuth.Count > 0, version)));
        app.MapGet("/openapi.json", () => Results.Content(document.Value, "application/json"));
        app.MapGet("/docs", () => Results.Content(page.Value, "text/html; charset=utf-8"));
    }
}
