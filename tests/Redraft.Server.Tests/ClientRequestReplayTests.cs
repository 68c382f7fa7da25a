using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>
/// Replays every request of <c>Fixtures/Clients</c> (webuiapi, openOutpaint, the Photoshop plug-in, stable-gimpfusion,
/// aiyabot, StabilityMatrix: bodies and headers as each sends them, read from its repository at the commit the
/// fixture names) against the real server, and reads the answer the way that client does (a browser client's with
/// the CORS checks its browser makes): images decoded as PNGs of the asked size, <c>info</c> parsed as JSON with the keys the client uses and one seed per image, the Photoshop
/// plug-in's and aiyabot's png-info round trip, the list fields clients show.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ClientRequestReplayTests(ServerFixture fixture)
{
    public static IEnumerable<object[]> Fixtures() => ClientRequests.Names();

    [SharedDataTheory]
    [MemberData(nameof(Fixtures))]
    public async Task Replay_ClientRequest_AnsweredAsTheClientReadsIt(string name)
    {
        var request = ClientRequests.Load(name);
        var expect = request["expect"]!.AsObject();
        await fixture.Server();
        var body = await ClientRequests.Body(request, fixture);
        using var message = ClientRequests.Message(request, body);
        string? origin = request["origin"]?.GetValue<string>();
        if (origin is not null) await Preflight(message, origin);
        using var response = await fixture.Client.SendAsync(message);
        string text = await response.Content.ReadAsStringAsync();
        string context = $"{name}: {(int)response.StatusCode} {Shorten(text)}";

        Assert.True(expect["status"]!.GetValue<int>() == (int)response.StatusCode, context);
        if (origin is not null)
            Assert.True(AllowedOrigin(response) == origin, $"{context}: a browser page at {origin} may not read this answer");
        JsonElement? root = text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.Clone();

        if (expect["json"] is { } kind)
            Assert.True(root is { } r && Is(r, kind.GetValue<string>()), $"{context}: expected JSON {kind}");
        if (expect["error_names"] is { } field)
        {
            string detail = root!.Value.GetProperty("detail").ToString();
            Assert.Contains(field.GetValue<string>(), detail, StringComparison.Ordinal);
        }
        if (expect["keys"] is JsonObject keys)
            foreach (var (path, want) in keys)
                Assert.True(Find(root!.Value, path) is { } v && Is(v, want!.GetValue<string>()), $"{context}: {path} is not {want}");
        if (expect["kinds_if_present"] is JsonObject typed)
            foreach (var (key, want) in typed)
                Assert.True(Find(root!.Value, key) is not { } v || Is(v, want!.GetValue<string>()), $"{context}: {key} is not {want}");
        if (expect["absent"] is JsonArray absent)
            foreach (var path in absent)
                Assert.True(Find(root!.Value, path!.GetValue<string>()) is null, $"{context}: {path} should be absent");
        if (expect["equals"] is JsonObject equals)
            foreach (var (path, want) in equals)
                Assert.True(Find(root!.Value, path) is { } v && SameValue(v, want!), $"{context}: {path} is not {want!.ToJsonString()}");
        if (expect["min_items"] is { } minItems)
            Assert.True(root!.Value.GetArrayLength() >= minItems.GetValue<int>(), $"{context}: fewer than {minItems} items");
        if (expect["item_keys"] is JsonObject itemKeys)
            foreach (var item in root!.Value.EnumerateArray())
                foreach (var (key, want) in itemKeys)
                    Assert.True(Find(item, key) is { } v && Is(v, want!.GetValue<string>()), $"{context}: an item's {key} is not {want}");
        if (expect["checkpoint_listed"]?.GetValue<bool>() == true)
        {
            var (_, models) = await fixture.Get("/sdapi/v1/sd-models");
            var titles = models!.AsArray().Select(m => m!["title"]!.GetValue<string>()).ToList();
            Assert.Contains(root!.Value.GetProperty("sd_model_checkpoint").GetString(), titles);
        }
        if (expect["images"] is JsonObject images)
            await CheckGeneration(name, root!.Value, images, expect);
    }

    /// <summary>
    /// What a browser does for a page at <paramref name="origin"/> (openOutpaint): the request carries an Origin
    /// header, and one with a JSON Content-Type (not a CORS-safelisted header) is first announced by an OPTIONS
    /// preflight, which must allow the origin, the method and that header.
    /// </summary>
    private async Task Preflight(HttpRequestMessage message, string origin)
    {
        message.Headers.Add("Origin", origin);
        string? contentType = message.Content?.Headers.ContentType?.MediaType;
        bool simple = (message.Method == HttpMethod.Get || message.Method == HttpMethod.Post || message.Method == HttpMethod.Head)
            && contentType is null or "text/plain" or "application/x-www-form-urlencoded" or "multipart/form-data";
        if (simple) return;
        using var preflight = new HttpRequestMessage(HttpMethod.Options, message.RequestUri);
        preflight.Headers.Add("Origin", origin);
        preflight.Headers.Add("Access-Control-Request-Method", message.Method.Method);
        preflight.Headers.Add("Access-Control-Request-Headers", "content-type");
        using var answer = await fixture.Client.SendAsync(preflight);
        Assert.True(answer.IsSuccessStatusCode, $"preflight: {(int)answer.StatusCode}");
        Assert.Equal(origin, AllowedOrigin(answer));
        Assert.Contains("content-type", string.Join(",", answer.Headers.TryGetValues("Access-Control-Allow-Headers", out var h) ? h : []), StringComparison.OrdinalIgnoreCase);
    }

    private static string? AllowedOrigin(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) ? values.Single() : null;

    /// <summary>The images, <c>info</c> and seeds of a txt2img/img2img answer, read as the client reads them.</summary>
    private async Task CheckGeneration(string name, JsonElement root, JsonObject images, JsonObject expect)
    {
        var pngs = root.GetProperty("images").EnumerateArray().Select(i => Convert.FromBase64String(i.GetString()!)).ToList();
        Assert.Equal(images["count"]!.GetValue<int>(), pngs.Count);
        foreach (var png in pngs)
        {
            var image = ImageFiles.DecodeRgba(png, name);
            Assert.Equal((images["width"]!.GetValue<int>(), images["height"]!.GetValue<int>()), (image.Width, image.Height));
        }

        // Every client that reads info parses it as JSON (webuiapi, openOutpaint, GIMP, StabilityMatrix's string).
        var info = JsonDocument.Parse(root.GetProperty("info").GetString()!).RootElement;
        var seeds = info.GetProperty("all_seeds").EnumerateArray().Select(s => s.GetInt64()).ToList();
        // openOutpaint takes all_seeds[i] as image i's seed; GIMP treats images past all_seeds as annotator layers.
        Assert.Equal(pngs.Count, seeds.Count);
        Assert.Equal(pngs.Count, info.GetProperty("infotexts").GetArrayLength());
        for (int i = 1; i < seeds.Count; i++) Assert.Equal(seeds[0] + i, seeds[i]);
        if (expect["info"] is JsonObject infoKeys)
            foreach (var (key, want) in infoKeys)
                Assert.True(Find(info, key) is { } v && Is(v, want!.GetValue<string>()), $"{name}: info.{key} is not {want}");
        if (expect["seed"] is { } seed)
            Assert.Equal(seed.GetValue<long>(), seeds[0]);

        if (expect["png_info_seed"]?.GetValue<bool>() == true)
            for (int i = 0; i < pngs.Count; i++)
            {
                // The Photoshop plug-in and aiyabot send each image back to png-info as a data URL; the plug-in then
                // reads Seed from the infotext's last line, split on ',' and ':' (its convertMetadataToJson).
                var (status, answer) = await fixture.Post("/sdapi/v1/png-info", new JsonObject { ["image"] = TestImages.DataUrl(pngs[i]) }.ToJsonString());
                Assert.Equal(200, status);
                string infotext = answer!["info"]!.GetValue<string>();
                Assert.Equal(info.GetProperty("infotexts")[i].GetString(), infotext);
                Assert.Equal(seeds[i].ToString(CultureInfo.InvariantCulture), PhotoshopPluginSettings(infotext)["Seed"]);
            }
    }

    /// <summary>The Photoshop plug-in's reading of an infotext: the last line without its last character, split on ',' then ':'.</summary>
    private static Dictionary<string, string?> PhotoshopPluginSettings(string infotext)
    {
        string last = infotext[(infotext.LastIndexOf('\n') + 1)..^1];
        var settings = new Dictionary<string, string?>();
        foreach (var setting in last.Split(','))
        {
            var parts = setting.Split(':').Select(s => s.TrimStart()).ToArray();
            settings[parts[0]] = parts.Length > 1 ? parts[1] : null;
        }
        return settings;
    }

    /// <summary>The value at a dotted path (<c>state.job_count</c>), or null when a step is missing.</summary>
    private static JsonElement? Find(JsonElement root, string path)
    {
        var current = root;
        foreach (var step in path.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(step, out var next)) return null;
            current = next;
        }
        return current;
    }

    /// <summary>Whether a value has one of the JSON kinds named ("string|null", "integer", "number", ...).</summary>
    private static bool Is(JsonElement value, string kinds) => kinds.Split('|').Any(kind => kind switch
    {
        "string" => value.ValueKind == JsonValueKind.String,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "array" => value.ValueKind == JsonValueKind.Array,
        "object" => value.ValueKind == JsonValueKind.Object,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => throw new InvalidOperationException($"unknown JSON kind {kind} in a fixture"),
    });

    private static bool SameValue(JsonElement value, JsonNode want) => want.GetValueKind() switch
    {
        JsonValueKind.Number => value.ValueKind == JsonValueKind.Number && value.GetDouble() == want.GetValue<double>(),
        JsonValueKind.True or JsonValueKind.False => value.ValueKind == want.GetValueKind(),
        JsonValueKind.String => value.ValueKind == JsonValueKind.String && value.GetString() == want.GetValue<string>(),
        _ => throw new InvalidOperationException($"unsupported expected value {want.ToJsonString()}"),
    };

    private static string Shorten(string text) => text.Length <= 400 ? text : text[..400] + "…";
}
