using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json.Nodes;
using Redraft.Imaging;
using Xunit;

namespace Redraft.Tests.Shared;

/// <summary>
/// The artist's seed loop over the documents API, as one script any server can be driven through (the in-process
/// server's tests and the broker fleet's): a new document from a sketch, four variations at 0.8, pick one, add a
/// layer, a masked generate, harmonize, undo, redo, the history, and a rerun of the first generate that must be
/// identical output by output. Asserts every step; returns the rerun's report.
/// </summary>
public static class SeedLoop
{
    /// <summary>Runs the loop on a new document <paramref name="doc"/> through <paramref name="client"/> (its base address the server's).</summary>
    public static async Task<JsonObject> RunAsync(HttpClient client, string doc)
    {
        var sketch = RgbaImage.Filled(64, 64, 240, 240, 240);
        for (int y = 20; y < 44; y++)
            for (int x = 16; x < 48; x++)
            {
                int i = (y * 64 + x) * 4;
                (sketch.Pixels[i], sketch.Pixels[i + 1], sketch.Pixels[i + 2]) = ((byte)200, (byte)40, (byte)30);
            }
        using (var form = new MultipartFormDataContent())
        {
            form.Add(new StringContent(doc), "name");
            form.Add(new ByteArrayContent(ImageFiles.EncodePng(sketch)), "image", "sketch.png");
            using var created = await client.PostAsync("/api/v1/documents", form);
            Assert.Equal(201, (int)created.StatusCode);
        }
        string Api(string route) => $"/api/v1/documents/{doc}{route}";

        var variations = await Result(client, await Post(client, Api("/generate"),
            """{"prompt": "a red house", "steps": 2, "strength": 0.8, "seed": 11, "variations": 4, "operation_id": "loop-gen"}"""));
        long firstGenerate = variations["entry_id"]!.GetValue<long>();
        var candidates = variations["layers"]!.AsArray().Select(l => l!.GetValue<string>()).ToList();
        Assert.Equal(4, candidates.Count);
        var picked = await Post(client, Api($"/candidates/{candidates[2]}/pick"), """{"operation_id": "loop-pick"}""");
        Assert.Equal("generated", picked["layers"]!.AsArray().First(l => l!["id"]!.GetValue<string>() == candidates[2])!["role"]!.GetValue<string>());
        using (var form = new MultipartFormDataContent())
        {
            form.Add(new ByteArrayContent(ImageFiles.EncodePng(RgbaImage.Filled(16, 16, 20, 20, 220))), "image", "window.png");
            form.Add(new StringContent("30"), "x");
            form.Add(new StringContent("10"), "y");
            using var added = await client.PostAsync(Api("/layers"), form);
            Assert.Equal(200, (int)added.StatusCode);
        }
        var maskedBody = new JsonObject
        {
            ["prompt"] = "a blue window", ["steps"] = 2, ["seed"] = 12, ["mask"] = SquareMask(64, 28, 8, 20), ["operation_id"] = "loop-mask",
        };
        Assert.Single((await Result(client, await Post(client, Api("/generate"), maskedBody.ToJsonString())))["layers"]!.AsArray());
        long harmonizeState = (await Result(client, await Post(client, Api("/harmonize"),
            """{"prompt": "a red house", "steps": 2, "seed": 13, "operation_id": "loop-harmonize"}""")))["state"]!.GetValue<long>();
        var undone = await Post(client, Api("/undo"), """{"operation_id": "loop-undo"}""");
        Assert.NotEqual(harmonizeState, undone["state"]!.GetValue<long>());
        Assert.True(undone["can_redo"]!.GetValue<bool>());
        var redone = await Post(client, Api("/redo"), """{"operation_id": "loop-redo"}""");
        Assert.Equal(harmonizeState, redone["state"]!.GetValue<long>());
        Assert.False(redone["can_redo"]!.GetValue<bool>());
        var kinds = (await client.GetFromJsonAsync<JsonObject>(Api("/history")))!["steps"]!.AsArray().Select(s => s!["kind"]!.GetValue<string>());
        Assert.Equal(["new", "generate", "pick", "add-layer", "generate", "harmonize", "undo", "redo"], kinds);
        // The first generate again, on the queue: identical, output by output; nothing recorded.
        var rerun = await Post(client, Api($"/history/{firstGenerate}/rerun"), "", expect: 202);
        Assert.StartsWith("task(doc-rerun-", rerun["job_id"]!.GetValue<string>());
        var report = await Result(client, rerun);
        Assert.True(report["identical"]!.GetValue<bool>(), report.ToJsonString());
        var outputs = report["outputs"]!.AsArray();
        Assert.Equal(4, outputs.Count);
        Assert.All(outputs, o => Assert.True(o!["identical"]!.GetValue<bool>() && o["hash"]!.GetValue<string>() == o["recorded_hash"]!.GetValue<string>()));
        Assert.Equal([11L, 12L, 13L, 14L], outputs.Select(o => o!["seed"]!.GetValue<long>()));
        Assert.Equal(8, (await client.GetFromJsonAsync<JsonObject>(Api("/history")))!["steps"]!.AsArray().Count);
        return report;
    }

    /// <summary>A square operation mask (white = regenerate) as base64 PNG.</summary>
    public static string SquareMask(int size, int x, int y, int side)
    {
        var mask = new MaskImage(size, size, new byte[size * size]);
        for (int row = y; row < y + side; row++) Array.Fill(mask.Pixels, (byte)255, row * size + x, side);
        return Convert.ToBase64String(ImageFiles.EncodePng(mask));
    }

    /// <summary>Posts JSON text and returns the answer, asserting its status (200, or 202 for a job).</summary>
    private static async Task<JsonObject> Post(HttpClient client, string path, string body, int? expect = null)
    {
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(path, content);
        string text = await response.Content.ReadAsStringAsync();
        if (expect is { } status) Assert.True((int)response.StatusCode == status, $"{path}: {(int)response.StatusCode} {text}");
        else Assert.True((int)response.StatusCode is 200 or 202, $"{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Follows a job's events to its end and returns the <c>result</c> event's data (failing on any other end).</summary>
    public static async Task<JsonObject> Result(HttpClient client, JsonObject accepted)
    {
        string job = accepted["job_id"]!.GetValue<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        using var response = await client.GetAsync($"/api/v1/jobs/{Uri.EscapeDataString(job)}/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
        var seen = new List<(string Type, JsonObject Data)>();
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(timeout.Token))
            seen.Add((item.EventType, JsonNode.Parse(item.Data)!.AsObject()));
        Assert.True(seen[^1].Type == "result", string.Join(",", seen.Select(e => e.Type)) + " " + seen[^1].Data.ToJsonString());
        return seen[^1].Data;
    }
}
