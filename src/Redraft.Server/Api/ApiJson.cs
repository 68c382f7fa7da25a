using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// How the server writes its response models (<c>ApiModels.cs</c>, <see cref="OptionsModel"/>, <see cref="CmdFlags"/>):
/// A1111's snake_case names, nulls written (A1111 answers every field of a model), and nullability taken from the C#
/// annotations, so the JSON schema of a type (<see cref="Schema"/>) says exactly which fields may be null.
/// </summary>
internal static class ApiJson
{
    /// <summary>The serializer options of every response model.</summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        RespectNullableAnnotations = true,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    /// <summary>A 200 answer with <paramref name="value"/> written as A1111 writes its model.</summary>
    public static IResult Ok<T>(T value) => Results.Json(value, Options);

    /// <summary>
    /// A 200 answer of JSON <c>null</c>, what A1111 answers where its handler returns nothing (<c>skip</c>,
    /// <c>options</c> POST, the refresh routes). <c>Results.Json(null)</c> would send an empty body instead.
    /// </summary>
    public static IResult Null { get; } = Results.Content("null", "application/json");

    /// <summary>The JSON schema (2020-12, as OpenAPI 3.1 uses) of <paramref name="type"/> as <see cref="Options"/> writes it.</summary>
    public static JsonNode Schema(Type type) => JsonSchemaExporter.GetJsonSchemaAsNode(Options, type,
        new JsonSchemaExporterOptions { TreatNullObliviousAsNonNullable = true });
}
