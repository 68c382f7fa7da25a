using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>
/// Every route of issue 13's list (and A1111's task routes) answers with the fields and JSON types of AUTOMATIC1111 v1.10.1's response models
/// (Fixtures/a1111-api.json, read from its source): the real server, over HTTP.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ContractApiTests(ServerFixture fixture)
{
    /// <summary>Lists the test fills (a LoRA, a VAE file, the two checkpoints): their item shapes are checked on real entries.</summary>
    private static readonly HashSet<string> NonEmpty = ["/sdapi/v1/sd-models", "/sdapi/v1/samplers", "/sdapi/v1/schedulers",
        "/sdapi/v1/sd-vae", "/sdapi/v1/sd-modules", "/sdapi/v1/loras"];

    public static TheoryData<string, string> Routes()
    {
        var data = new TheoryData<string, string>();
        foreach (var r in A1111Contract.Routes) data.Add((string)r["method"]!, (string)r["path"]!);
        return data;
    }

    [SharedDataTheory]
    [MemberData(nameof(Routes))]
    public async Task Route_AnswersWithA1111sFieldsAndTypes(string method, string path)
    {
        await fixture.Server();
        fixture.Lora("style");
        string vae = Path.Combine(fixture.ModelsDir, "VAE", "contract-vae.safetensors");
        Directory.CreateDirectory(Path.GetDirectoryName(vae)!);
        if (!File.Exists(vae)) File.WriteAllBytes(vae, []); // listed by name only; never loaded
        var route = A1111Contract.Route(method, path);

        var (status, answer) = method == "GET" ? await Raw(HttpMethod.Get, path, null) : await Raw(HttpMethod.Post, path, await Body(path));

        Assert.True(status == 200, $"{method} {path}: {status} {answer?.ToJsonString()}");
        var problems = A1111Contract.CheckResponse(route, answer);
        Assert.True(problems.Count == 0, $"{method} {path} differs from A1111 v1.10.1:\n{string.Join("\n", problems)}\n{answer?.ToJsonString()}");
        if (NonEmpty.Contains(path)) Assert.NotEmpty(answer!.AsArray());
        if (path == "/sdapi/v1/reload-checkpoint" || path == "/sdapi/v1/unload-checkpoint")
            await Raw(HttpMethod.Post, "/sdapi/v1/reload-checkpoint", "");
    }

    /// <summary>A body the route accepts: a small generation, a PNG of this server for png-info, nothing else.</summary>
    private async Task<string> Body(string path) => path switch
    {
        "/sdapi/v1/txt2img" => """{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "seed": 3, "batch_size": 2}""",
        "/sdapi/v1/img2img" => $$"""{"prompt": "a cat", "steps": 2, "width": 64, "height": 64, "seed": 3, "init_images": ["{{TestImages.DataUrl(TestImages.InitPng())}}"], "mask": "{{TestImages.DataUrl(TestImages.MaskPng())}}"}""",
        "/sdapi/v1/png-info" => $$"""{"image": "{{(await fixture.Post("/sdapi/v1/txt2img", """{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "seed": 9}""")).Json!["images"]![0]}}"}""",
        "/sdapi/v1/options" => "{}",
        "/internal/progress" => """{"id_task": "task(contract)"}""",
        _ => "",
    };

    /// <summary>Status and body; a body of <c>null</c> parses to null (A1111 answers JSON null on several routes).</summary>
    private async Task<(int Status, JsonNode? Json)> Raw(HttpMethod method, string path, string? body)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using var response = await fixture.Client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        Assert.False(text.Length == 0, $"{method} {path}: empty body (A1111 answers JSON, null included)");
        return ((int)response.StatusCode, JsonNode.Parse(text));
    }
}
