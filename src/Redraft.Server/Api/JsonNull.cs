using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// The answer of A1111's routes that return nothing (<c>POST options</c>, <c>skip</c>, <c>refresh-*</c>): FastAPI
/// writes the JSON text <c>null</c>. ASP.NET's <c>Results.Json(null)</c> writes an empty body instead, which clients
/// that parse every answer cannot read (webuiapi's <c>set_options()</c> calls <c>response.json()</c>, the Photoshop
/// plug-in's model switch <c>await request.json()</c>).
/// </summary>
internal static class JsonNull
{
    public static IResult Result() => Results.Text("null", "application/json");
}
