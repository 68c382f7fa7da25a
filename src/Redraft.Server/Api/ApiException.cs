using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// A request the server refuses, answered in AUTOMATIC1111's error shape
/// <c>{"error", "detail", "body", "errors"}</c> with <see cref="Status"/>. The message is one line saying what to change.
/// </summary>
public sealed class ApiException(int status, string detail, string error = "HTTPException") : Exception(detail)
{
    /// <summary>HTTP status code.</summary>
    public int Status { get; } = status;

    /// <summary>A1111's <c>error</c> field: the kind of failure.</summary>
    public string Error { get; } = error;

    /// <summary>A field's value is refused (422), the message names the field.</summary>
    public static ApiException Unprocessable(string detail) => new(StatusCodes.Status422UnprocessableEntity, detail);
}

/// <summary>
/// Request fields of the wrong type, answered as FastAPI's validation error (what A1111 answers):
/// 422 <c>{"detail": [{"loc": ["body", FIELD], "msg", "type"}]}</c>.
/// </summary>
public sealed class ApiValidationException(IReadOnlyList<ApiValidationException.Problem> problems)
    : Exception(string.Join("; ", problems.Select(p => $"{string.Join('.', p.Location)}: {p.Message}")))
{
    /// <summary>One field's problem.</summary>
    /// <param name="Location">Where: <c>["body", "steps"]</c>.</param>
    /// <param name="Message">pydantic's message, e.g. <c>value is not a valid integer</c>.</param>
    /// <param name="Type">pydantic's error type, e.g. <c>type_error.integer</c>.</param>
    public sealed record Problem(IReadOnlyList<object> Location, string Message, string Type);

    /// <summary>The problems, in field order.</summary>
    public IReadOnlyList<Problem> Problems { get; } = problems;
}
