using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>
/// <c>/openapi.json</c> describes every route the server maps, with the shapes of AUTOMATIC1111's models, and
/// <c>/docs</c> shows them as a self-contained page.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class OpenApiTests(ServerFixture fixture)
{
    [SharedDataFact]
    public async Task OpenApi_IsOpenApi3_AndDescribesEveryMappedRoute()
    {
        var server = await fixture.Server();
        var (status, json) = await fixture.Get("/openapi.json");
        Assert.Equal(200, status);
        var doc = json!.AsObject();
        Assert.StartsWith("3.", (string)doc["openapi"]!);
        Assert.False(string.IsNullOrEmpty((string?)doc["info"]?["title"]));
        var documented = doc["paths"]!.AsObject()
            .SelectMany(p => p.Value!.AsObject().Select(o => (Method: o.Key.ToUpperInvariant(), Path: p.Key)))
            .ToHashSet();
        // The app's own endpoint table: a route mapped without docs, or docs of a route that is gone, fail here. Pages
        // (/docs, the browser page at /) are no exception: see PageRoutes_AreDocumentedWithTheirMediaTypes_AndServeSelfContainedFiles.
        var mapped = server.MappedRoutes().Where(r => !r.Pattern.Contains('*', StringComparison.Ordinal)).ToHashSet();
        Assert.NotEmpty(mapped);
        Assert.Empty(mapped.Except(documented));
        Assert.Empty(documented.Except(mapped));
        foreach (var (path, item) in doc["paths"]!.AsObject())
            foreach (var (method, operation) in item!.AsObject())
            {
                Assert.False(string.IsNullOrWhiteSpace((string?)operation!["summary"]), $"{method} {path}: no summary");
                Assert.NotNull(operation["responses"]?["200"]?["content"]);
            }
    }

    [SharedDataFact]
    public async Task OpenApi_ResponseSchemas_AreA1111sModels()
    {
        var doc = (await fixture.Get("/openapi.json")).Json!.AsObject();
        var problems = new List<string>();
        foreach (var route in A1111Contract.Routes)
        {
            string method = ((string)route["method"]!).ToLowerInvariant(), path = (string)route["path"]!;
            var schema = doc["paths"]?[path]?[method]?["responses"]?["200"]?["content"]?["application/json"]?["schema"];
            if (schema is null)
            {
                problems.Add($"{method} {path}: not documented");
                continue;
            }
            var response = route["response"]!.AsObject();
            switch ((string)response["kind"]!)
            {
                case "null":
                    if (!Types(Resolve(doc, schema)).SetEquals(["null"])) problems.Add($"{method} {path}: documented as {schema.ToJsonString()}, A1111 answers null");
                    break;
                case "list":
                    var array = Resolve(doc, schema);
                    if (!Types(array).Contains("array")) problems.Add($"{method} {path}: not documented as an array");
                    else CompareModel(doc, array!["items"], (string)response["item"]!, $"{method} {path}[]", problems);
                    break;
                case "object" when response["model"] is { } model:
                    CompareModel(doc, schema, (string)model!, $"{method} {path}", problems);
                    break;
                default:
                    if (Resolve(doc, schema)?["properties"] is JsonObject { Count: > 0 } extra) problems.Add($"{method} {path}: documents fields {extra.ToJsonString()}, A1111 answers {{}}");
                    break;
            }
        }
        foreach (var (path, model) in new[] { ("/sdapi/v1/txt2img", "StableDiffusionProcessingTxt2Img"), ("/sdapi/v1/img2img", "StableDiffusionProcessingImg2Img") })
        {
            var request = doc["paths"]![path]!["post"]!["requestBody"]!["content"]!["application/json"]!["schema"];
            CompareModel(doc, request, model, $"{path} request", problems, isRequest: true);
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [SharedDataFact]
    public async Task Docs_IsASelfContainedPageListingEveryRouteAndItsFields()
    {
        await fixture.Server();
        using var response = await fixture.Client.GetAsync("/docs");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        string html = await response.Content.ReadAsStringAsync();
        Assert.StartsWith("<!DOCTYPE html>", html.TrimStart());
        var doc = (await fixture.Get("/openapi.json")).Json!;
        // Each route has its own section (a heading ending in its path), not only a link.
        foreach (var (path, _) in doc["paths"]!.AsObject()) Assert.Contains($"{System.Net.WebUtility.HtmlEncode(path)}</h2>", html);
        // Fields of a response and of a request are on the page.
        Assert.Contains("sha256", html);
        Assert.Contains("inpainting_fill", html);
        // Nothing is loaded from elsewhere: no scripts, no absolute URLs (the server works offline).
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("://", html);
    }

    /// <summary>
    /// The rule for routes that are not API calls: the canvas page and its files are mapped routes like <c>/docs</c>,
    /// so they are listed in <c>/openapi.json</c> too (no exclusion list). Every file the page loads (followed from
    /// <c>index.html</c> through the modules' imports) is served with its media type, under a content security policy
    /// that keeps the page on this server, and names no other host (it works on a closed network). Names outside the
    /// embedded files are 404.
    /// </summary>
    [SharedDataFact]
    public async Task PageRoutes_AreDocumented_AndEveryFileThePageLoadsIsServedSelfContained()
    {
        await fixture.Server();
        var doc = (await fixture.Get("/openapi.json")).Json!;
        Assert.NotNull(doc["paths"]?["/"]?["get"]?["responses"]?["200"]?["content"]?["text/html"]);
        Assert.NotNull(doc["paths"]?["/page/{file}"]?["get"]);

        var pending = new Queue<string>(["/"]);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (pending.TryDequeue(out string? path))
        {
            if (!seen.Add(path)) continue;
            using var response = await fixture.Client.GetAsync(path);
            Assert.True(response.StatusCode == System.Net.HttpStatusCode.OK, $"{path}: {(int)response.StatusCode}");
            string expected = path == "/" ? "text/html" : Path.GetExtension(path) == ".css" ? "text/css" : "text/javascript";
            Assert.Equal(expected, response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("default-src 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
            string text = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("://", text);
            foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(text, "(?:src|href)=\"(/page/[^\"]+)\"|from \"\\./([^\"]+)\""))
                pending.Enqueue(m.Groups[1].Success ? m.Groups[1].Value : "/page/" + m.Groups[2].Value);
        }
        Assert.Contains("/page/app.js", seen);
        Assert.Contains("/page/style.css", seen);
        Assert.True(seen.Count >= 8, "the page's modules: " + string.Join(", ", seen));
        foreach (string missing in new[] { "/page/index.html", "/page/nothing.js", "/page/..%2FRedraft.Server.dll" })
        {
            using var response = await fixture.Client.GetAsync(missing);
            Assert.Equal(404, (int)response.StatusCode);
        }
    }

    /// <summary>
    /// The documented schema's fields against the fixture model: same names (a subset for open models), compatible
    /// types. An answer may be stricter than A1111's model (an integer where A1111 declares a float, never null where
    /// it may be); a request field must take what A1111's takes (a float field documented as integer would keep
    /// clients from sending 0.5), and may take null where A1111's does not.
    /// </summary>
    private static void CompareModel(JsonObject doc, JsonNode? schema, string modelName, string where, List<string> problems, bool isRequest = false)
    {
        var model = A1111Contract.Model(modelName);
        bool open = model["open"]?.GetValue<bool>() == true;
        var fields = model["fields"]!.AsObject();
        var properties = Resolve(doc, schema)?["properties"] as JsonObject ?? [];
        foreach (var (name, property) in properties)
        {
            if (fields[name] is not JsonObject spec)
            {
                problems.Add($"{where}.{name}: documented, not a field of A1111's {modelName}");
                continue;
            }
            CompareField(doc, property, spec, $"{where}.{name}", problems, isRequest);
        }
        foreach (var (name, _) in fields)
            if (!properties.ContainsKey(name) && (!open || model["redraft_required"]!.AsArray().Any(k => (string)k! == name)))
                problems.Add($"{where}.{name}: A1111's field is not documented");
    }

    private static void CompareField(JsonObject doc, JsonNode? property, JsonObject spec, string where, List<string> problems, bool isRequest)
    {
        string type = (string)spec["type"]!;
        var types = Types(Resolve(doc, property));
        if (type == "any" || types.Count == 0) return;
        bool nullable = spec["nullable"]?.GetValue<bool>() == true;
        if (types.Contains("null") && !nullable && !isRequest) problems.Add($"{where}: documented nullable, A1111's is not");
        types.Remove("null");
        bool compatible = type switch
        {
            "number" when !isRequest => types.IsSubsetOf(["number", "integer"]),
            _ => types.SetEquals([type]),
        };
        if (!compatible) problems.Add($"{where}: documented {string.Join("|", types)}, A1111's is {type}");
        if (type == "array" && spec["items"] is JsonObject items && Resolve(doc, property)?["items"] is { } documentedItems)
            CompareField(doc, documentedItems, items, where + "[]", problems, isRequest);
        // A nested model (progress' state, an embedding) documented with its fields: those too.
        if (spec["model"] is { } nested && Resolve(doc, property)?["properties"] is JsonObject { Count: > 0 })
            CompareModel(doc, property, (string)nested!, where, problems, isRequest);
    }

    /// <summary>The schema object, its <c>$ref</c> followed (a boolean schema, "anything", gives null).</summary>
    private static JsonObject? Resolve(JsonObject doc, JsonNode? schema) =>
        schema is JsonObject obj && obj["$ref"] is { } reference ? doc["components"]!["schemas"]![((string)reference!).Split('/')[^1]]?.AsObject() : schema as JsonObject;

    private static HashSet<string> Types(JsonObject? schema) => schema?["type"] switch
    {
        JsonArray many => [.. many.Select(t => (string)t!)],
        JsonValue one => [(string)one!],
        _ => [],
    };
}
