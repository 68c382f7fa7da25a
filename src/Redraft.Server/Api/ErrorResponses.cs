using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// Turns every failure of a request into A1111's JSON error shape, never a stack trace: refused values and user
/// errors (<see cref="RedraftInputException"/>) are 4xx with their one-line message; field type errors are
/// FastAPI's 422 list; a body over the size limit is 413; anything else is 500 with the exception's one-line
/// message, its stack trace going to the server's log only.
/// </summary>
internal sealed class ErrorResponses(RequestDelegate next, TextWriter log)
{
    public async Task InvokeAsync(HttpContext http)
    {
        try
        {
            await next(http);
        }
        catch (Exception e) when (!http.Response.HasStarted)
        {
            if (e is OperationCanceledException && http.RequestAborted.IsCancellationRequested) return; // nobody to answer
            var (status, body) = Describe(e);
            if (status >= 500) log.WriteLine($"redraft serve: {http.Request.Method} {http.Request.Path}: {e}");
            http.Response.Clear();
            http.Response.StatusCode = status;
            await http.Response.WriteAsJsonAsync(body);
        }
    }

    private static (int Status, JsonObject Body) Describe(Exception e) => e switch
    {
        ApiValidationException v => (StatusCodes.Status422UnprocessableEntity, new JsonObject
        {
            ["detail"] = new JsonArray([.. v.Problems.Select(p => (JsonNode)new JsonObject
            {
                ["loc"] = new JsonArray([.. p.Location.Select(l => l is int i ? (JsonNode)i : (JsonNode)l.ToString()!)]),
                ["msg"] = p.Message,
                ["type"] = p.Type,
            })]),
        }),
        ApiException a => (a.Status, Shape(a.Error, a.Message, "")),
        // A job every worker failed: the workers' error, but not the client's fault.
        Jobs.WorkerFailureException w => (StatusCodes.Status500InternalServerError, Shape(nameof(Jobs.WorkerFailureException), OneLine(w.Message), OneLine(w.Message))),
        RedraftInputException r => (StatusCodes.Status422UnprocessableEntity, Shape(r.GetType().Name, OneLine(r.Message), OneLine(r.Message))),
        BadHttpRequestException b => (b.StatusCode, Shape("HTTPException", b.StatusCode == StatusCodes.Status413PayloadTooLarge
            ? "request body too large; send smaller images or start the server with a larger body limit" : OneLine(b.Message), "")),
        OperationCanceledException => (StatusCodes.Status503ServiceUnavailable, Shape("Cancelled", "the server is stopping; the job was cancelled", "")),
        _ => (StatusCodes.Status500InternalServerError, Shape(e.GetType().Name, "internal error; the server's log has the details", OneLine(e.Message))),
    };

    /// <summary>A1111's error body.</summary>
    public static JsonObject Shape(string error, string detail, string errors) => new()
    {
        ["error"] = error,
        ["detail"] = detail,
        ["body"] = "",
        ["errors"] = errors,
    };

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
