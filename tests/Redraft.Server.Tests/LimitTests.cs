using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>
/// The per-request limits (pixels per image, images per request, steps): past one a 422 in A1111's shape saying the
/// limit, the value and the option that raises it; exactly at one the request runs. The boundaries are tested on a
/// server with small limits, so the accepted requests stay cheap; the defaults on the shared server.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class LimitTests(ServerFixture fixture)
{
    /// <summary>A server on the shared models with limits of 64 × 64 pixels, 2 images and 3 steps.</summary>
    private async Task<OwnServer> Small()
    {
        await fixture.Server();
        return await OwnServer.Start(fixture.Options() with { MaxPixels = 64 * 64, MaxImages = 2, MaxSteps = 3 });
    }

    private static string Txt2Img(int width, int height, int batchSize = 1, int batches = 1, int steps = 1) => $$"""
        {"prompt": "a cat", "seed": 5, "width": {{width}}, "height": {{height}}, "batch_size": {{batchSize}}, "n_iter": {{batches}}, "steps": {{steps}}}
        """;

    private static string Refusal(int status, System.Text.Json.Nodes.JsonNode? json)
    {
        Assert.Equal(422, status);
        Assert.Equal("HTTPException", json!["error"]!.GetValue<string>());
        string detail = json["detail"]!.GetValue<string>();
        Assert.DoesNotContain("\n", detail);
        return detail;
    }

    [SharedDataFact]
    public async Task Pixels_OverTheLimit_Is422SayingLimitValueAndOption()
    {
        await using var server = await Small();
        var (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img(64, 72));
        string detail = Refusal(status, json);
        Assert.Contains("64 × 72 = 4608 pixels", detail);
        Assert.Contains("allows 4096 (64 × 64) per image", detail);
        Assert.Contains("--max-pixels", detail);
    }

    [SharedDataFact]
    public async Task Pixels_ExactlyAtTheLimit_AreAcceptedInAnyShape()
    {
        await using var server = await Small();
        foreach (var (width, height) in new[] { (64, 64), (128, 32) })
        {
            var (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img(width, height));
            Assert.True(status == 200, json?.ToJsonString());
            Assert.Single(TestImages.Images(json!));
        }
    }

    [SharedDataFact]
    public async Task Images_OverTheLimit_Is422SayingLimitValueAndOption()
    {
        await using var server = await Small();
        var (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img(64, 64, batchSize: 3));
        string detail = Refusal(status, json);
        Assert.Contains("batch_size × n_iter is 3 × 1 = 3 images", detail);
        Assert.Contains("allows 2 per request", detail);
        Assert.Contains("--max-images", detail);
        (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img(64, 64, batchSize: 2, batches: 2));
        Assert.Contains("2 × 2 = 4 images", Refusal(status, json));
    }

    [SharedDataFact]
    public async Task Images_ExactlyAtTheLimit_AreAccepted()
    {
        await using var server = await Small();
        var (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img(64, 64, batches: 2));
        Assert.True(status == 200, json?.ToJsonString());
        Assert.Equal(2, TestImages.Images(json!).Count);
    }

    [SharedDataFact]
    public async Task Steps_OverTheLimit_Is422SayingLimitValueAndOption()
    {
        await using var server = await Small();
        var (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img(64, 64, steps: 4));
        string detail = Refusal(status, json);
        Assert.Contains("steps is 4; this server allows 3", detail);
        Assert.Contains("--max-steps", detail);
    }

    [SharedDataFact]
    public async Task Steps_ExactlyAtTheLimit_AreAccepted()
    {
        await using var server = await Small();
        var (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img(64, 64, steps: 3));
        Assert.True(status == 200, json?.ToJsonString());
        Assert.Contains("Steps: 3,", TestImages.Info(json!)["infotexts"]![0]!.GetValue<string>());
    }

    [SharedDataFact]
    public async Task Limits_AreCheckedBeforeTheInitImageIsDecoded()
    {
        await using var server = await Small();
        var (status, json) = await server.Post("/sdapi/v1/img2img", """{"init_images": ["bm90IGFuIGltYWdl"], "width": 64, "height": 64, "steps": 4}""");
        Assert.Contains("--max-steps", Refusal(status, json));
    }

    [SharedDataFact]
    public async Task LatentUpscale_CountsTheInitImagesPixels()
    {
        // Resize mode 3 encodes the init at its own size: 128 × 64 is over the limit there, and fine when resized first.
        await using var server = await Small();
        string init = TestImages.DataUrl(ImageFiles.EncodePng(RgbImage.Filled(128, 64, 90, 120, 150)));
        string Body(int mode) => $$"""{"init_images": ["{{init}}"], "width": 64, "height": 64, "steps": 2, "resize_mode": {{mode}}, "seed": 1}""";
        var (status, json) = await server.Post("/sdapi/v1/img2img", Body(3));
        string detail = Refusal(status, json);
        Assert.Contains("init_images[0] is 128 × 64 = 8192 pixels", detail);
        Assert.Contains("--max-pixels", detail);
        (status, json) = await server.Post("/sdapi/v1/img2img", Body(0));
        Assert.True(status == 200, json?.ToJsonString());
    }

    [Fact]
    public async Task Defaults_2048By2048Pixels_16Images_150Steps()
    {
        // Refused before a model is needed: a server without one answers them.
        string folder = Directory.CreateTempSubdirectory("redraft-server-limits-").FullName;
        try
        {
            await using var server = await OwnServer.Start(new ServerOptions { ModelsDir = folder, Threads = 1 });
            var (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img(2056, 2048));
            Assert.Contains("allows 4194304 (2048 × 2048) per image", Refusal(status, json));
            (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img(64, 64, batchSize: 4, batches: 5));
            Assert.Contains("allows 16 per request", Refusal(status, json));
            (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img(64, 64, steps: 151));
            Assert.Contains("allows 150", Refusal(status, json));
            // At the defaults the request goes on (and here finds no model).
            (status, json) = await server.Post("/sdapi/v1/txt2img", Txt2Img(2048, 2048, batchSize: 4, batches: 4, steps: 150));
            Assert.Contains("no model is loaded", Refusal(status, json));
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void MaxPixelsOption_TakesACountOrASize()
    {
        Assert.Equal(2048L * 2048, ServerOptions.ParsePixels("2048x2048"));
        Assert.Equal(1536L * 1024, ServerOptions.ParsePixels(" 1536X1024 "));
        Assert.Equal(1_000_000L, ServerOptions.ParsePixels("1000000"));
        foreach (var bad in new[] { "big", "0x512", "-5", "64x" })
            Assert.Contains("--max-pixels", Assert.Throws<RedraftInputException>(() => ServerOptions.ParsePixels(bad)).Message);
    }
}
