using System.Text;
using System.Text.Json;

namespace Redraft.Studio;

/// <summary>
/// The JSON form of a <see cref="Document"/>, used both for <c>document.json</c> and for the states kept in
/// <c>history.db</c>:
/// <code>
/// { "format": "redraft-document", "version": 1, "state": 7, "width": 512, "height": 512,
///   "layers": [ { "id": "L1", "name": "sketch", "image": "&lt;sha256&gt;", "x": 0, "y": 0, "scale": 1,
///                 "opacity": 1, "visible": true, "hidden": false, "mask": null, "blend": "normal" } ] }
/// </code>
/// <c>state</c> (the history state the file mirrors) is present only in <c>document.json</c>.
/// </summary>
public static class DocumentJson
{
    /// <summary>The value of the <c>format</c> field.</summary>
    public const string Format = "redraft-document";

    /// <summary>The format version written and the newest one read.</summary>
    public const int Version = 1;

    /// <summary>Serializes a document (indented, UTF-8); <paramref name="state"/> is included when given.</summary>
    public static byte[] Serialize(Document document, long? state = null)
    {
        ArgumentNullException.ThrowIfNull(document);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("format", Format);
            w.WriteNumber("version", Version);
            if (state is long s) w.WriteNumber("state", s);
            w.WriteNumber("width", document.Width);
            w.WriteNumber("height", document.Height);
            w.WriteStartArray("layers");
            foreach (var l in document.Layers)
            {
                w.WriteStartObject();
                w.WriteString("id", l.Id);
                w.WriteString("name", l.Name);
                w.WriteString("image", l.Image);
                w.WriteNumber("x", l.X);
                w.WriteNumber("y", l.Y);
                w.WriteNumber("scale", l.Scale);
                w.WriteNumber("opacity", l.Opacity);
                w.WriteBoolean("visible", l.Visible);
                w.WriteBoolean("hidden", l.Hidden);
                if (l.Mask is null) w.WriteNull("mask"); else w.WriteString("mask", l.Mask);
                w.WriteString("blend", l.Blend.ToString().ToLowerInvariant());
                if (l.Role != LayerRole.User) w.WriteString("role", l.Role.ToString().ToLowerInvariant());
                if (l.Generation is { } g)
                {
                    w.WriteStartObject("generation");
                    w.WriteNumber("step", g.Step);
                    w.WriteNumber("seed", g.Seed);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>Serializes to a string (see <see cref="Serialize"/>).</summary>
    public static string SerializeToString(Document document, long? state = null) =>
        Encoding.UTF8.GetString(Serialize(document, state));

    /// <summary>
    /// Parses and validates (<see cref="Document.Validate"/>) a document; returns it with the <c>state</c> field
    /// (null when absent). <paramref name="name"/> (a path) starts the error messages.
    /// </summary>
    /// <exception cref="StudioInputException">Not JSON, not a Redraft document, a newer version, a missing or
    /// mistyped field, or a rule broken.</exception>
    public static (Document Document, long? State) Parse(ReadOnlySpan<byte> json, string name)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new FormatException("not a JSON object");
            string format = String(root, "format");
            if (format != Format)
                throw new FormatException($"format is '{format}', expected '{Format}'");
            int version = Int(root, "version");
            if (version > Version)
                throw new FormatException($"format version {version} is newer than this Redraft reads ({Version}); upgrade Redraft");
            if (version < 1)
                throw new FormatException($"format version {version} is invalid");
            long? state = root.TryGetProperty("state", out var st) && st.ValueKind != JsonValueKind.Null ? Long(root, "state") : null;
            int width = Int(root, "width"), height = Int(root, "height");
            if (!root.TryGetProperty("layers", out var layersElement) || layersElement.ValueKind != JsonValueKind.Array)
                throw new FormatException("'layers' is missing or not an array");
            var layers = new List<Layer>();
            int index = 0;
            foreach (var e in layersElement.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object)
                    throw new FormatException($"layers[{index}] is not an object");
                try
                {
                    string blend = OptString(e, "blend") ?? "normal";
                    string layerName = OptString(e, "name") ?? "";
                    bool hidden = OptBool(e, "hidden") ?? false;
                    layers.Add(new Layer
                    {
                        Role = OptString(e, "role") switch
                        {
                            // Documents written before roles: candidates and harmonized bases are known by their names.
                            null => hidden && layerName.StartsWith("candidate ", StringComparison.Ordinal) ? LayerRole.Candidate
                                : layerName.StartsWith("harmonized ", StringComparison.Ordinal) ? LayerRole.Generated : LayerRole.User,
                            "user" => LayerRole.User,
                            "candidate" => LayerRole.Candidate,
                            "generated" => LayerRole.Generated,
                            var other => throw new FormatException($"unknown role '{other}' (user, candidate, generated)"),
                        },
                        Generation = e.TryGetProperty("generation", out var g) && g.ValueKind == JsonValueKind.Object
                            ? new LayerGeneration(Long(g, "step"), Long(g, "seed")) : null,
                        Id = String(e, "id"),
                        Name = layerName,
                        Image = String(e, "image"),
                        X = OptInt(e, "x") ?? 0,
                        Y = OptInt(e, "y") ?? 0,
                        Scale = OptDouble(e, "scale") ?? 1,
                        Opacity = OptDouble(e, "opacity") ?? 1,
                        Visible = OptBool(e, "visible") ?? true,
                        Hidden = hidden,
                        Mask = OptString(e, "mask"),
                        Blend = blend == "normal" ? BlendMode.Normal
                            : throw new FormatException($"unknown blend mode '{blend}' (only 'normal')"),
                    });
                }
                catch (FormatException ex)
                {
                    throw new FormatException($"layers[{index}]: {ex.Message}");
                }
                index++;
            }
            var document = new Document(width, height, layers);
            document.Validate();
            return (document, state);
        }
        catch (JsonException ex)
        {
            throw new StudioInputException($"{name}: not valid JSON ({OneLine(ex.Message)}).", ex);
        }
        catch (FormatException ex)
        {
            throw new StudioInputException($"{name}: {ex.Message}.", ex);
        }
        catch (StudioInputException ex)
        {
            throw new StudioInputException($"{name}: {ex.Message}", ex);
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").TrimEnd('.');

    private static JsonElement Required(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) ? v : throw new FormatException($"'{key}' is missing");

    private static string String(JsonElement o, string key)
    {
        var v = Required(o, key);
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new FormatException($"'{key}' must be a string");
    }

    private static string? OptString(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? String(o, key) : null;

    private static long Long(JsonElement o, string key)
    {
        var v = Required(o, key);
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) ? n : throw new FormatException($"'{key}' must be an integer");
    }

    private static int Int(JsonElement o, string key)
    {
        var v = Required(o, key);
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) ? n : throw new FormatException($"'{key}' must be a 32-bit integer");
    }

    private static int? OptInt(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? Int(o, key) : null;

    private static double? OptDouble(JsonElement o, string key)
    {
        if (!o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw new FormatException($"'{key}' must be a number");
    }

    private static bool? OptBool(JsonElement o, string key)
    {
        if (!o.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw new FormatException($"'{key}' must be true or false");
    }
}
