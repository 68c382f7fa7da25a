using System.Text.Json;
using System.Text.Json.Nodes;

namespace Redraft.Server.Api;

/// <summary>
/// The JSON schema of a <c>txt2img</c>/<c>img2img</c> request, for the docs. Its fields and defaults are those of the
/// request echo (<see cref="RequestDefaults.For"/>, the one list of A1111's request fields the reader fills); a field's
/// type is its default's, except where the default (null, or a whole number for a float field) does not say it:
/// <see cref="Declared"/>. Every field may be null or missing (= its default), as the reader accepts.
/// </summary>
internal static class GenerationRequestSchema
{
    /// <summary>A1111's type of the fields whose default does not tell it.</summary>
    private static readonly Dictionary<string, JsonObject> Declared = new(StringComparer.Ordinal)
    {
        ["styles"] = ArrayOf("string"),
        ["init_images"] = ArrayOf("string"),
        ["override_settings"] = Type("object"),
        ["comments"] = Type("object"),
        ["restore_faces"] = Type("boolean"),
        ["tiling"] = Type("boolean"),
        ["mask_blur"] = Type("integer"),
        ["subseed_strength"] = Type("number"),
        ["eta"] = Type("number"),
        ["denoising_strength"] = Type("number"),
        ["s_min_uncond"] = Type("number"),
        ["s_churn"] = Type("number"),
        ["s_tmax"] = Type("number"),
        ["s_tmin"] = Type("number"),
        ["s_noise"] = Type("number"),
        ["refiner_switch_at"] = Type("number"),
        ["image_cfg_scale"] = Type("number"),
        ["initial_noise_multiplier"] = Type("number"),
    };

    /// <summary>The request schema of <c>img2img</c> (<paramref name="img2img"/>) or <c>txt2img</c>.</summary>
    public static JsonObject For(bool img2img)
    {
        var properties = new JsonObject();
        foreach (var (name, value) in RequestDefaults.For(img2img))
        {
            var schema = Declared.TryGetValue(name, out var declared) ? (JsonObject)declared.DeepClone() : FromDefault(value);
            // Nullable: null (or a missing field) means the default.
            schema["type"] = new JsonArray(schema["type"]!.GetValue<string>(), "null");
            schema["default"] = value?.DeepClone();
            properties[name] = schema;
        }
        return new JsonObject { ["type"] = "object", ["properties"] = properties };
    }

    /// <summary>The type of a field's default; a null default without a declared type is a string (A1111's str fields).</summary>
    private static JsonObject FromDefault(JsonNode? value) => value?.GetValueKind() switch
    {
        JsonValueKind.True or JsonValueKind.False => Type("boolean"),
        JsonValueKind.Number => Type(value.AsValue().TryGetValue(out double _) ? "number" : "integer"),
        JsonValueKind.Array => Type("array"),
        JsonValueKind.Object => Type("object"),
        _ => Type("string"),
    };

    private static JsonObject Type(string type) => new() { ["type"] = type };

    private static JsonObject ArrayOf(string item) => new() { ["type"] = "array", ["items"] = Type(item) };
}
