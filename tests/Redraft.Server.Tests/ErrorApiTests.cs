using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>Refused requests answer A1111's error shapes with a one-line message and no stack trace.</summary>
[Collection(ServerCollection.Name)]
public sealed class ErrorApiTests(ServerFixture fixture)
{
    [SharedDataFact]
    public async Task WrongFieldType_Is422InFastApisShape()
    {
        var (status, json) = await fixture.Post("/sdapi/v1/txt2img", """{"prompt": "a cat", "steps": "many"}""");
        Assert.Equal(422, status);
        var problem = json!["detail"]![0]!;
        Assert.Equal(["body", "steps"], problem["loc"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal("type_error.integer", problem["type"]!.GetValue<string>());
    }

    [SharedDataFact]
    public async Task MalformedJson_Is422()
    {
        var (status, json) = await fixture.Post("/sdapi/v1/txt2img", """{"prompt": "a cat", """);
        Assert.Equal(422, status);
        Assert.NotNull(json!["detail"]![0]!["loc"]);
    }

    [SharedDataTheory]
    [InlineData("""{"enable_hr": true}""", "enable_hr")]
    [InlineData("""{"restore_faces": true}""", "restore_faces")]
    [InlineData("""{"s_churn": 0.5}""", "s_churn")]
    [InlineData("""{"override_settings": {"CLIP_stop_at_last_layers": 2}}""", "CLIP_stop_at_last_layers")]
    [InlineData("""{"sampler_name": "Restart"}""", "Restart")]
    [InlineData("""{"scheduler": "Align Your Steps"}""", "Align Your Steps")]
    [InlineData("""{"override_settings": {"sd_model_checkpoint": "../../etc/passwd"}}""", "not found")]
    public async Task ValueRedraftCannotHonour_Is422NamingIt(string body, string named)
    {
        var (status, json) = await fixture.Post("/sdapi/v1/txt2img", body);
        Assert.Equal(422, status);
        string detail = json!["detail"]!.GetValue<string>();
        Assert.Contains(named, detail);
        Assert.DoesNotContain("\n", detail);
        Assert.Equal("", json["body"]!.GetValue<string>());
        Assert.NotNull(json["error"]);
    }

    [SharedDataFact]
    public async Task Img2ImgWithoutInit_Is404AsInA1111()
    {
        var (status, json) = await fixture.Post("/sdapi/v1/img2img", """{"prompt": "a cat", "steps": 2}""");
        Assert.Equal(404, status);
        Assert.Equal("Init image not found", json!["detail"]!.GetValue<string>());
    }

    [SharedDataFact]
    public async Task UndecodableImage_Is422WithoutStackTrace()
    {
        var (status, json) = await fixture.Post("/sdapi/v1/img2img", """{"init_images": ["data:image/png;base64,bm90IGFuIGltYWdl"], "steps": 2}""");
        Assert.Equal(422, status);
        Assert.Contains("Invalid encoded image", json!["detail"]!.GetValue<string>());
        Assert.DoesNotContain(" at Redraft", json.ToJsonString());
    }

    [SharedDataFact]
    public async Task EngineRefusal_Is422WithItsMessage()
    {
        // The engine's own check (a size it cannot run) comes back as a 4xx with its one line.
        var (status, json) = await fixture.Post("/sdapi/v1/txt2img", """{"prompt": "a cat", "steps": 2, "width": 4, "height": 64}""");
        Assert.Equal(422, status);
        Assert.Contains("width", json!["detail"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
    }

    [SharedDataFact]
    public async Task UnknownRoute_Is404WithA1111Body()
    {
        var (status, json) = await fixture.Get("/sdapi/v1/no-such-route");
        Assert.Equal(404, status);
        Assert.Equal("Not Found", json!["detail"]!.GetValue<string>());
    }
}
