using System.Text.Json.Nodes;

namespace Redraft.Server.Api;

/// <summary>
/// <c>/openapi.json</c>: an OpenAPI 3.1 description of every route of <see cref="ApiRoutes"/>, with named schemas
/// (A1111's model names) under <c>components.schemas</c>. A1111 (FastAPI) serves the same at the same address;
/// clients and people use it to discover the routes. Built once per server.
/// </summary>
internal static class OpenApiDocument
{
    /// <summary>The document; <paramref name="basicAuth"/> adds HTTP Basic as the security of every route.</summary>
    public static JsonObject Build(bool basicAuth, string version)
    {
        var schemas = new JsonObject
        {
            ["Error"] = ApiJson.Schema(typeof(ApiError)),
            ["HTTPValidationError"] = ValidationErrorSchema(),
        };
        var paths = new JsonObject();
        foreach (var route in ApiRoutes.All)
        {
            if (paths[route.Path] is not JsonObject item) paths[route.Path] = item = new JsonObject();
            var operation = new JsonObject
            {
                ["summary"] = route.Summary,
                ["operationId"] = OperationId(route),
            };
            var parameters = new JsonArray();
            // A {name} in the path is a required path parameter (a task id).
            foreach (var segment in route.Path.Split('/').Where(s => s.StartsWith('{') && s.EndsWith('}')))
                parameters.Add(new JsonObject
                {
                    ["name"] = segment[1..^1],
                    ["in"] = "path",
                    ["required"] = true,
                    ["schema"] = new JsonObject { ["type"] = "string" },
                });
            foreach (var q in route.Query ?? [])
                parameters.Add(new JsonObject
                {
                    ["name"] = q.Name,
                    ["in"] = "query",
                    ["required"] = false,
                    ["description"] = q.Description,
                    ["schema"] = new JsonObject { ["type"] = q.Type },
                });
            if (parameters.Count > 0) operation["parameters"] = parameters;
            if (route.Request is { } request)
                operation["requestBody"] = new JsonObject
                {
                    ["required"] = true,
                    ["content"] = new JsonObject { [request.MediaType] = new JsonObject { ["schema"] = Reference(request, schemas) } },
                };
            operation["responses"] = new JsonObject
            {
                ["200"] = new JsonObject
                {
                    ["description"] = "Successful Response",
                    ["content"] = new JsonObject { [route.Response.MediaType] = new JsonObject { ["schema"] = Reference(route.Response, schemas) } },
                },
                ["422"] = Described("Validation Error (FastAPI's field list) or a refused value (A1111's error body)",
                    new JsonObject { ["anyOf"] = new JsonArray(Ref("HTTPValidationError"), Ref("Error")) }),
                ["default"] = Described("Error in A1111's shape", Ref("Error")),
            };
            item[route.Method.ToLowerInvariant()] = operation;
        }

        var document = new JsonObject
        {
            ["openapi"] = "3.1.0",
            ["info"] = new JsonObject
            {
                ["title"] = "Redraft — AUTOMATIC1111-compatible API",
                ["version"] = version,
                ["description"] = "AUTOMATIC1111 v1.10's /sdapi/v1 API, answered by Redraft's engine. Every field, default and response "
                    + "shape is A1111's; features Redraft lacks answer as an A1111 without them (empty lists), and request fields it "
                    + "cannot honour are refused with a 422 naming them unless they hold their neutral value. Human-readable: /docs.",
            },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = schemas },
        };
        if (basicAuth)
        {
            document["components"]!["securitySchemes"] = new JsonObject { ["HTTPBasic"] = new JsonObject { ["type"] = "http", ["scheme"] = "basic" } };
            document["security"] = new JsonArray(new JsonObject { ["HTTPBasic"] = new JsonArray() });
        }
        return document;
    }

    /// <summary>The body's schema registered under its name; a list is an array of references.</summary>
    private static JsonNode Reference(ApiBody body, JsonObject schemas)
    {
        if (!schemas.ContainsKey(body.Name)) schemas[body.Name] = body.Schema();
        var reference = Ref(body.Name);
        return body.IsList ? new JsonObject { ["type"] = "array", ["items"] = reference } : reference;
    }

    private static JsonObject Ref(string name) => new() { ["$ref"] = "#/components/schemas/" + name };

    private static JsonObject Described(string description, JsonNode schema) => new()
    {
        ["description"] = description,
        ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = schema } },
    };

    private static string OperationId(ApiRoute route) =>
        route.Method.ToLowerInvariant() + string.Concat(route.Path.Split('/', '-', '.').Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    /// <summary>FastAPI's 422 body: <c>{detail: [{loc, msg, type}]}</c>.</summary>
    private static JsonObject ValidationErrorSchema() => new()
    {
        ["type"] = "object",
        ["properties"] = new JsonObject
        {
            ["detail"] = new JsonObject
            {
                ["type"] = "array",
                ["items"] = new JsonObject
                {
                    ["type"] = "object",
                    ["properties"] = new JsonObject
                    {
                        ["loc"] = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = new JsonArray("string", "integer") } },
                        ["msg"] = new JsonObject { ["type"] = "string" },
                        ["type"] = new JsonObject { ["type"] = "string" },
                    },
                    ["required"] = new JsonArray("loc", "msg", "type"),
                },
            },
        },
    };
}
