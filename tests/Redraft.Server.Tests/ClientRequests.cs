using System.Text;
using System.Text.Json.Nodes;

namespace Redraft.Server.Tests;

/// <summary>
/// The requests public A1111 clients send, one per file in <c>Fixtures/Clients</c>, each read from the client's
/// repository at a named commit (see the folder's README.md for the format). Bodies hold placeholders for what a
/// client fills in at run time: pictures (<c>$INIT_PNG_DATA_URL</c>, ...) and values it read from the server first
/// (<c>$CURRENT_MODEL_TITLE</c>, <c>$FIRST_SAMPLER_NAME</c>).
/// </summary>
internal static class ClientRequests
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Clients");

    /// <summary>The fixture names (file names without .json), in order.</summary>
    public static IEnumerable<object[]> Names() =>
        Directory.GetFiles(Folder, "*.json").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal).Select(n => new object[] { n! });

    public static JsonObject Load(string name) => JsonNode.Parse(File.ReadAllText(Path.Combine(Folder, name + ".json")))!.AsObject();

    /// <summary>The fixture's body with its placeholders filled (null when the client sends no body).</summary>
    public static async Task<JsonNode?> Body(JsonObject request, ServerFixture server)
    {
        var body = request["body"]?.DeepClone();
        if (body is null) return null;
        var values = await Values(server, body.ToJsonString());
        return Fill(body, values);
    }

    /// <summary>The picture placeholders, and the values read from the server that the body names.</summary>
    private static async Task<Dictionary<string, string>> Values(ServerFixture server, string bodyText)
    {
        byte[] initRgba = ImageFiles.EncodePng(ImageFiles.DecodeRgba(TestImages.InitPng(), "init"));
        byte[] maskRgba = ImageFiles.EncodePng(ImageFiles.DecodeRgba(TestImages.MaskPng(), "mask"));
        byte[] maskGray = ImageFiles.EncodePng(MaskImage.FromOperationImage(ImageFiles.DecodeRgba(TestImages.MaskPng(), "mask")));
        var values = new Dictionary<string, string>
        {
            ["$INIT_PNG_BASE64"] = Convert.ToBase64String(TestImages.InitPng()),
            ["$INIT_PNG_DATA_URL"] = TestImages.DataUrl(TestImages.InitPng()),
            ["$INIT_RGBA_PNG_BASE64"] = Convert.ToBase64String(initRgba),
            ["$INIT_RGBA_PNG_DATA_URL"] = TestImages.DataUrl(initRgba),
            ["$MASK_PNG_BASE64"] = Convert.ToBase64String(TestImages.MaskPng()),
            ["$MASK_PNG_DATA_URL"] = TestImages.DataUrl(TestImages.MaskPng()),
            ["$MASK_RGBA_PNG_BASE64"] = Convert.ToBase64String(maskRgba),
            ["$MASK_RGBA_PNG_DATA_URL"] = TestImages.DataUrl(maskRgba),
            ["$MASK_GRAY_PNG_BASE64"] = Convert.ToBase64String(maskGray),
        };
        if (bodyText.Contains("$CURRENT_MODEL_TITLE", StringComparison.Ordinal))
        {
            var (_, options) = await server.Get("/sdapi/v1/options");
            values["$CURRENT_MODEL_TITLE"] = options!["sd_model_checkpoint"]!.GetValue<string>();
        }
        if (bodyText.Contains("$FIRST_SAMPLER_NAME", StringComparison.Ordinal))
        {
            var (_, samplers) = await server.Get("/sdapi/v1/samplers");
            values["$FIRST_SAMPLER_NAME"] = samplers![0]!["name"]!.GetValue<string>();
        }
        return values;
    }

    /// <summary>Replaces every string value that is a placeholder; a placeholder without a value is a fixture error.</summary>
    private static JsonNode Fill(JsonNode node, IReadOnlyDictionary<string, string> values)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var key in o.Select(p => p.Key).ToList())
                    if (o[key] is JsonValue v && Placeholder(v, values) is { } filled) o[key] = filled;
                    else if (o[key] is { } child) Fill(child, values);
                return o;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                    if (a[i] is JsonValue v && Placeholder(v, values) is { } filled) a[i] = filled;
                    else if (a[i] is { } child) Fill(child, values);
                return a;
            case JsonValue v:
                return Placeholder(v, values) ?? v;
            default:
                return node;
        }
    }

    private static JsonValue? Placeholder(JsonValue v, IReadOnlyDictionary<string, string> values) =>
        v.TryGetValue(out string? s) && s.StartsWith('$')
            ? values.TryGetValue(s, out var value) ? JsonValue.Create(value) : throw new InvalidOperationException($"fixture placeholder {s} has no value")
            : null;

    /// <summary>The request as the client sends it: method, route, its headers, the body as JSON (or none).</summary>
    public static HttpRequestMessage Message(JsonObject request, JsonNode? body)
    {
        var message = new HttpRequestMessage(new HttpMethod(request["method"]!.GetValue<string>()), request["route"]!.GetValue<string>());
        var headers = request["headers"]?.AsObject() ?? [];
        string? contentType = headers.FirstOrDefault(h => h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)).Value?.GetValue<string>();
        if (body is not null)
            message.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        else if (contentType is not null)
            message.Content = new ByteArrayContent([]); // a client that sets JSON headers on a request without a body
        if (message.Content is not null && contentType is not null)
            message.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        foreach (var (name, value) in headers)
            if (!name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
                message.Headers.TryAddWithoutValidation(name, value!.GetValue<string>());
        return message;
    }
}
