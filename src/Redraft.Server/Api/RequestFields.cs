using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Redraft.Server.Api;

/// <summary>
/// Reads the fields of an A1111 request body as loosely as A1111 (pydantic v1) does: a missing field or <c>null</c>
/// takes the default, numbers may come as strings (<c>"seed": "-1"</c>), a float given for an integer is truncated,
/// booleans may be 0/1 or strings. Unknown fields are never looked at. Type errors are collected and thrown together
/// by <see cref="ThrowIfInvalid"/>, in FastAPI's shape. Every value read is also written to <see cref="Echo"/>, the
/// request as the server understood it (A1111's <c>parameters</c>).
/// </summary>
internal sealed class RequestFields(JsonObject body, JsonObject echo)
{
    private readonly List<ApiValidationException.Problem> _problems = [];

    /// <summary>The request echo: A1111's defaults, overwritten by every field read.</summary>
    public JsonObject Echo { get; } = echo;

    /// <summary>True when the client sent <paramref name="field"/> with a non-null value.</summary>
    public bool Has(string field) => body.TryGetPropertyValue(field, out var node) && node is not null;

    /// <summary>The raw value sent for <paramref name="field"/> (null when missing or null).</summary>
    public JsonNode? Raw(string field) => body.TryGetPropertyValue(field, out var node) ? node : null;

    public int Int(string field, int @default) => (int)Math.Clamp(Long(field, @default), int.MinValue, int.MaxValue);

    public long Long(string field, long @default)
    {
        long value = @default;
        if (Value(field) is { } v)
        {
            switch (v.GetValueKind())
            {
                case JsonValueKind.Number when v.TryGetValue(out long l): value = l; break;
                case JsonValueKind.Number when v.TryGetValue(out double d) && double.IsFinite(d) && Math.Abs(d) < 9e18: value = (long)Math.Truncate(d); break;
                case JsonValueKind.True: value = 1; break;
                case JsonValueKind.False: value = 0; break;
                case JsonValueKind.String when v.GetValue<string>().Trim() is var s
                    && (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out value)
                        || (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double ds) && double.IsFinite(ds) && Math.Abs(ds) < 9e18
                            && (value = (long)Math.Truncate(ds)) == value)):
                    break;
                default:
                    Problem(field, "value is not a valid integer", "type_error.integer");
                    return @default;
            }
        }
        Echo[field] = value;
        return value;
    }

    public double Double(string field, double @default) => NullableDouble(field) ?? @default;

    public double? NullableDouble(string field)
    {
        if (Value(field) is not { } v) return null;
        double value;
        switch (v.GetValueKind())
        {
            case JsonValueKind.Number when v.TryGetValue(out double d) && double.IsFinite(d): value = d; break;
            case JsonValueKind.True: value = 1; break;
            case JsonValueKind.False: value = 0; break;
            case JsonValueKind.String when double.TryParse(v.GetValue<string>().Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d):
                value = d; break;
            default:
                Problem(field, "value is not a valid float", "type_error.float");
                return null;
        }
        Echo[field] = value;
        return value;
    }

    public bool Bool(string field, bool @default)
    {
        if (Value(field) is not { } v) return @default;
        bool? value = v.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number when v.TryGetValue(out double d) && (d == 0 || d == 1) => d == 1,
            JsonValueKind.String => v.GetValue<string>().Trim().ToLowerInvariant() switch
            {
                "1" or "true" or "on" or "yes" or "t" or "y" => true,
                "0" or "false" or "off" or "no" or "f" or "n" => false,
                _ => null,
            },
            _ => null,
        };
        if (value is null)
        {
            Problem(field, "value could not be parsed to a boolean", "type_error.bool");
            return @default;
        }
        Echo[field] = value.Value;
        return value.Value;
    }

    /// <summary>A string field; numbers are accepted as their text (pydantic v1's <c>str</c> coercion).</summary>
    public string? String(string field, string? @default = null)
    {
        if (Value(field) is not { } v) return @default;
        string? value = v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.Number => v.ToJsonString(),
            _ => null,
        };
        if (value is null)
        {
            Problem(field, "str type expected", "type_error.str");
            return @default;
        }
        Echo[field] = value;
        return value;
    }

    /// <summary>A list of strings; a single string counts as a list of one.</summary>
    public IReadOnlyList<string>? StringList(string field)
    {
        var node = Raw(field);
        if (node is null) return null;
        if (node is JsonValue single && single.GetValueKind() == JsonValueKind.String) return [single.GetValue<string>()];
        if (node is not JsonArray array || array.Any(n => n is not JsonValue item || item.GetValueKind() != JsonValueKind.String))
        {
            Problem(field, "value is not a valid list of strings", "type_error.list");
            return null;
        }
        return [.. array.Select(n => n!.GetValue<string>())];
    }

    /// <summary>An object field (<c>override_settings</c>, <c>alwayson_scripts</c>); null when missing.</summary>
    public JsonObject? Object(string field)
    {
        var node = Raw(field);
        if (node is null) return null;
        if (node is JsonObject o) return o;
        Problem(field, "value is not a valid dict", "type_error.dict");
        return null;
    }

    /// <summary>Throws the collected type errors as one 422.</summary>
    public void ThrowIfInvalid()
    {
        if (_problems.Count > 0) throw new ApiValidationException(_problems);
    }

    private JsonValue? Value(string field)
    {
        var node = Raw(field);
        if (node is null) return null;
        if (node is JsonValue v)
        {
            // An empty string is "not given" for numbers and seeds (clients clear a text box).
            if (v.GetValueKind() == JsonValueKind.String && v.GetValue<string>().Length == 0) return null;
            return v;
        }
        Problem(field, "value is not a valid scalar", "type_error");
        return null;
    }

    private void Problem(string field, string message, string type) => _problems.Add(new(["body", field], message, type));
}
