using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Redraft.Server.Api;

/// <summary>
/// <c>/docs</c>: the routes of <c>/openapi.json</c> with their fields, as one self-contained HTML page (no scripts, no
/// fonts or styles from elsewhere: the server works offline). A1111 serves FastAPI's Swagger UI here, which loads
/// from a CDN.
/// </summary>
internal static class DocsPage
{
    /// <summary>The page for <paramref name="openApi"/> (a document of <see cref="OpenApiDocument.Build"/>).</summary>
    public static string Render(JsonObject openApi)
    {
        var schemas = openApi["components"]?["schemas"] as JsonObject ?? [];
        var html = new StringBuilder();
        html.Append("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Redraft API</title>
            <style>
            body{font:15px/1.45 system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
            h2{font-size:1.05em;margin:2em 0 .3em;font-family:ui-monospace,monospace}
            .m{display:inline-block;min-width:4.5em;padding:.1em .4em;margin-right:.5em;border-radius:3px;color:#fff;text-align:center}
            .get{background:#2b7bb9}.post{background:#3a9a4a}.delete{background:#b94a2b}
            table{border-collapse:collapse;margin:.4em 0 1em;width:100%}td,th{border-bottom:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top}
            th{font-weight:600;background:#f5f5f5}td:first-child{font-family:ui-monospace,monospace;white-space:nowrap}
            nav a{margin-right:.8em;font-family:ui-monospace,monospace;font-size:.9em}
            </style></head><body>
            """);
        html.Append($"<h1>{E(openApi["info"]?["title"]?.ToString())}</h1><p>{E(openApi["info"]?["description"]?.ToString())}</p>");
        html.Append("<p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.1).</p><nav>");
        var operations = Operations(openApi).ToList();
        foreach (var (method, path, _) in operations)
            html.Append($"<a href=\"#{Anchor(method, path)}\">{E(method.ToUpperInvariant())} {E(path)}</a> ");
        html.Append("</nav>");
        foreach (var (method, path, operation) in operations)
        {
            html.Append($"<h2 id=\"{Anchor(method, path)}\"><span class=\"m {E(method)}\">{E(method.ToUpperInvariant())}</span>{E(path)}</h2>");
            html.Append($"<p>{E(operation["summary"]?.ToString())}</p>");
            if (operation["parameters"] is JsonArray parameters)
            {
                html.Append("<table><tr><th>parameter</th><th>type</th><th></th></tr>");
                foreach (var p in parameters)
                    html.Append($"<tr><td>{E(p!["name"]?.ToString())} ({E(p["in"]?.ToString())})</td><td>{E(TypeText(p["schema"], schemas))}</td><td>{E(p["description"]?.ToString())}</td></tr>");
                html.Append("</table>");
            }
            if (operation["requestBody"]?["content"] is JsonObject requestContent)
                Body(html, "request field", requestContent, schemas);
            if (operation["responses"]?["200"]?["content"] is JsonObject responseContent)
                Body(html, "response field", responseContent, schemas);
        }
        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static IEnumerable<(string Method, string Path, JsonObject Operation)> Operations(JsonObject openApi)
    {
        foreach (var (path, item) in openApi["paths"]!.AsObject())
            foreach (var (method, operation) in item!.AsObject())
                yield return (method, path, operation!.AsObject());
    }

    /// <summary>A body's fields as a table, or its type when it has no fields.</summary>
    private static void Body(StringBuilder html, string heading, JsonObject content, JsonObject schemas)
    {
        var (mediaType, node) = content.First();
        var schema = node?["schema"];
        var resolved = Resolve(schema, schemas);
        string prefix = "";
        if (resolved?["type"]?.ToString() == "array" && Resolve(resolved["items"], schemas) is JsonObject item)
        {
            html.Append($"<p>A JSON array of {E(TypeText(resolved["items"], schemas))}:</p>");
            resolved = item;
            prefix = "[].";
        }
        if (resolved?["properties"] is JsonObject { Count: > 0 } properties)
        {
            bool defaults = properties.Any(p => p.Value?.AsObject().ContainsKey("default") == true);
            html.Append($"<table><tr><th>{E(heading)}</th><th>type</th>{(defaults ? "<th>default</th>" : "")}</tr>");
            foreach (var (name, property) in properties)
            {
                string @default = defaults ? $"<td>{E(property?["default"]?.ToJsonString() ?? "null")}</td>" : "";
                html.Append($"<tr><td>{E(prefix + name)}</td><td>{E(TypeText(property, schemas))}</td>{@default}</tr>");
            }
            html.Append("</table>");
        }
        else
        {
            html.Append($"<p>{E(heading.Split(' ')[0])}: {E(TypeText(schema, schemas))} ({E(mediaType)})</p>");
        }
    }

    private static JsonObject? Resolve(JsonNode? schema, JsonObject schemas) =>
        schema?["$ref"]?.ToString() is { } reference ? schemas[reference.Split('/')[^1]] as JsonObject : schema as JsonObject;

    /// <summary>A schema as text: <c>string | null</c>, <c>array of SDModelItem</c>, <c>map of string</c>.</summary>
    private static string TypeText(JsonNode? schema, JsonObject schemas)
    {
        if (schema is null) return "any";
        if (schema["$ref"]?.ToString() is { } reference)
        {
            string name = reference.Split('/')[^1];
            return schemas[name]?["properties"] is JsonObject { Count: > 0 } ? $"{name} (object)" : $"{name}: {TypeText(schemas[name], schemas)}";
        }
        if (schema["anyOf"] is JsonArray any) return string.Join(" | ", any.Select(s => TypeText(s, schemas)));
        string type = schema["type"] switch
        {
            JsonArray types => string.Join(" | ", types.Select(t => t!.ToString())),
            JsonValue one => one.ToString(),
            _ => "any",
        };
        if (schema["items"] is { } items) type = type.Replace("array", $"array of {TypeText(items, schemas)}", StringComparison.Ordinal);
        if (schema["additionalProperties"] is JsonObject values) type = type.Replace("object", $"map of {TypeText(values, schemas)}", StringComparison.Ordinal);
        else if (schema["properties"] is JsonObject { Count: > 0 } fields) type += " {" + string.Join(", ", fields.Select(f => f.Key)) + "}";
        return type;
    }

    private static string Anchor(string method, string path) => method + path.Replace('/', '-').Replace('.', '-');

    private static string E(string? text) => WebUtility.HtmlEncode(text ?? "");
}
