using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>Reading request bodies: JSON objects, with A1111's answers for a missing or malformed body.</summary>
internal static class RequestBody
{
    /// <summary>The body as a JSON object.</summary>
    /// <exception cref="ApiValidationException">No body, not JSON, or not an object (FastAPI's 422).</exception>
    public static async Task<JsonObject> ReadObject(HttpContext http)
    {
        JsonNode? node;
        try
        {
            node = await JsonNode.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
        }
        catch (JsonException e)
        {
            throw new ApiValidationException([new(["body", (int)(e.BytePositionInLine ?? 0)], $"Expecting value: {OneLine(e.Message)}", "value_error.jsondecode")]);
        }
        return node as JsonObject ?? throw new ApiValidationException([new(["body"], node is null ? "field required" : "value is not a valid dict", node is null ? "value_error.missing" : "type_error.dict")]);
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
