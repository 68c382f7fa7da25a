using System.Text.Json.Nodes;
using Redraft.Cli.Tests;
using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>
/// txt2img and img2img over real HTTP with the request bodies real clients send (from <c>Fixtures/Clients</c>:
/// webuiapi, openOutpaint, stable-gimpfusion), and the same pictures as the command line.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class GenerationApiTests(ServerFixture fixture)
{
    private const string Prompt = "a lighthouse at dusk, (oil painting:1.2)";

    /// <summary>A client request's body from <c>Fixtures/Clients</c>, placeholders filled.</summary>
    private async Task<JsonObject> ClientBody(string name) => (await ClientRequests.Body(ClientRequests.Load(name), fixture))!.AsObject();

    /// <summary>mix1009/sdwebuiapi's txt2img payload (every field it sends, sampler in both fields) with this seed and n_iter.</summary>
    private async Task<string> WebuiapiTxt2Img(long seed, int nIter)
    {
        var body = await ClientBody("webuiapi-06-txt2img");
        Assert.Equal(Prompt, body["prompt"]!.GetValue<string>());
        body["seed"] = seed;
        body["n_iter"] = nIter;
        return body.ToJsonString();
    }

    [SharedDataFact]
    public async Task Txt2Img_WebuiapiPayload_ImagesCarryTheirInfotextAndSeedsCountUp()
    {
        var (status, json) = await fixture.Post("/sdapi/v1/txt2img", await WebuiapiTxt2Img(1234, nIter: 2));
        Assert.True(status == 200, json?.ToJsonString());
        var images = TestImages.Images(json!);
        var info = TestImages.Info(json!);
        Assert.Equal(2, images.Count);
        Assert.Equal([1234L, 1235L], info["all_seeds"]!.AsArray().Select(s => s!.GetValue<long>()));
        Assert.Equal(1234, info["seed"]!.GetValue<long>());
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(info["infotexts"]![i]!.GetValue<string>(), TestImages.Parameters(images[i]));
            Assert.Contains($"Seed: {1234 + i},", TestImages.Parameters(images[i]));
        }
        Assert.Equal("Euler a", info["sampler_name"]!.GetValue<string>());
        Assert.Equal(Prompt, info["prompt"]!.GetValue<string>());
        Assert.Equal(0, info["index_of_first_image"]!.GetValue<int>());
        Assert.Equal("tiny", info["sd_model_name"]!.GetValue<string>());
        Assert.Matches("^[0-9a-f]{10}$", info["sd_model_hash"]!.GetValue<string>());
        Assert.Matches("^[0-9]{14}$", info["job_timestamp"]!.GetValue<string>());
        // The echo is the request as understood, with A1111's keys.
        Assert.Equal("Euler a", json!["parameters"]!["sampler_index"]!.GetValue<string>());
        Assert.Equal(1234, json["parameters"]!["seed"]!.GetValue<long>());
    }

    [SharedDataFact]
    public async Task Txt2Img_SameSeedAndParametersTwice_SameBytes()
    {
        var first = await fixture.Post("/sdapi/v1/txt2img", await WebuiapiTxt2Img(77, nIter: 1));
        var second = await fixture.Post("/sdapi/v1/txt2img", await WebuiapiTxt2Img(77, nIter: 1));
        Assert.Equal(200, first.Status);
        Assert.Equal(TestImages.Images(first.Json!)[0], TestImages.Images(second.Json!)[0]);
    }

    [SharedDataFact]
    public async Task Txt2Img_SameValuesAsTheCli_SamePicture()
    {
        var (status, json) = await fixture.Post("/sdapi/v1/txt2img", $$"""
            {"prompt": "{{Prompt}}", "negative_prompt": "blurry", "steps": 3, "cfg_scale": 7.5, "sampler_name": "DPM++ 2M",
             "scheduler": "Karras", "seed": 42, "width": 64, "height": 64}
            """);
        Assert.True(status == 200, json?.ToJsonString());
        string output = Path.Combine(fixture.NewFolder(), "cli.png");
        var cli = RedraftProcess.Run("txt2img", "--model", fixture.Model, "--prompt", Prompt, "--negative", "blurry", "--steps", "3",
            "--cfg", "7.5", "--sampler", "DPM++ 2M", "--schedule", "karras", "--seed", "42", "--width", "64", "--height", "64",
            "--threads", "1", "--tokenizer", SharedData.ClipDir, "--out", output);
        Assert.True(cli.ExitCode == 0, cli.Stderr);
        TestImages.AssertSameGeneration(File.ReadAllBytes(output), TestImages.Images(json!)[0]);
    }

    [SharedDataFact]
    public async Task Img2Img_OpenOutpaintImg2ImgTool_SamePictureAsTheCli()
    {
        // zero01101/openOutpaint's Img2Img tool: its settings object, seed as a string, sampler_index only, a scheduler
        // label, RGBA data URLs, batch 2 x 2, extra keys (outpainting_fill, upscale_x, ...).
        var body = await ClientBody("openoutpaint-13-img2img-tool");
        var (status, json) = await fixture.Post("/sdapi/v1/img2img", body.ToJsonString());
        Assert.True(status == 200, json?.ToJsonString());

        string folder = fixture.NewFolder();
        string init = Path.Combine(folder, "init.png"), mask = Path.Combine(folder, "mask.png"), output = Path.Combine(folder, "cli.png");
        File.WriteAllBytes(init, DataUrlBytes(body["init_images"]![0]!));
        File.WriteAllBytes(mask, DataUrlBytes(body["mask"]!));
        string Text(string key) => body[key]!.ToString();
        var cli = RedraftProcess.Run("img2img", "--model", fixture.Model, "--init", init, "--mask", mask, "--prompt", Text("prompt"),
            "--negative", Text("negative_prompt"), "--steps", Text("steps"), "--cfg", Text("cfg_scale"), "--sampler", Text("sampler_index"),
            "--schedule", "karras", "--seed", Text("seed"), "--strength", Text("denoising_strength"), "--mask-blur", Text("mask_blur"),
            "--masked-content", "original", "--inpaint-area", "whole", "--width", Text("width"), "--height", Text("height"),
            "--batch", Text("batch_size"), "--batch-count", Text("n_iter"), "--threads", "1", "--tokenizer", SharedData.ClipDir, "--out", output);
        Assert.True(cli.ExitCode == 0, cli.Stderr);
        var images = TestImages.Images(json!);
        Assert.Equal(4, images.Count);
        for (int i = 0; i < images.Count; i++)
        {
            TestImages.AssertSameGeneration(File.ReadAllBytes(Path.Combine(folder, $"cli-{i}.png")), images[i]);
            Assert.Equal(TestImages.Info(json!)["infotexts"]![i]!.GetValue<string>(), TestImages.Parameters(images[i]));
        }
        Assert.Equal("Euler", Text("sampler_index"));
        Assert.Equal("Karras", Text("scheduler"));
        // The echo leaves the images out unless include_init_images.
        Assert.Null(json!["parameters"]!["init_images"]);
    }

    [SharedDataFact]
    public async Task Img2Img_GimpInpaintingOnlyMaskedWithLegacySamplerName_SamePictureAsTheCli()
    {
        // ArtBIT/stable-gimpfusion's inpainting request: raw base64 (an RGBA layer, a grayscale selection mask), width and
        // height as floats, an old sampler name with its schedule, only masked with padding 10, no mask_blur (A1111's 4).
        var body = await ClientBody("gimp-07-inpainting");
        var (status, json) = await fixture.Post("/sdapi/v1/img2img", body.ToJsonString());
        Assert.True(status == 200, json?.ToJsonString());

        string folder = fixture.NewFolder();
        string init = Path.Combine(folder, "init.png"), mask = Path.Combine(folder, "mask.png"), output = Path.Combine(folder, "cli.png");
        File.WriteAllBytes(init, Convert.FromBase64String(body["init_images"]![0]!.GetValue<string>()));
        File.WriteAllBytes(mask, Convert.FromBase64String(body["mask"]!.GetValue<string>()));
        Assert.Equal("DPM++ 2M Karras", body["sampler_index"]!.GetValue<string>());
        Assert.Equal("64.0", body["width"]!.ToJsonString());
        var cli = RedraftProcess.Run("img2img", "--model", fixture.Model, "--init", init, "--mask", mask, "--prompt", Prompt,
            "--steps", "3", "--cfg", "7.5", "--sampler", "DPM++ 2M", "--schedule", "karras", "--seed", "99", "--strength", "0.8",
            "--mask-blur", "4", "--masked-content", "fill", "--inpaint-area", "masked", "--inpaint-padding", "10",
            "--width", "64", "--height", "64", "--threads", "1", "--tokenizer", SharedData.ClipDir, "--out", output);
        Assert.True(cli.ExitCode == 0, cli.Stderr);
        TestImages.AssertSameGeneration(File.ReadAllBytes(output), TestImages.Images(json!)[0]);
        Assert.Equal("DPM++ 2M", TestImages.Info(json!)["sampler_name"]!.GetValue<string>());
    }

    private static byte[] DataUrlBytes(JsonNode dataUrl)
    {
        string text = dataUrl.GetValue<string>();
        Assert.StartsWith("data:image/png;base64,", text);
        return Convert.FromBase64String(text[(text.IndexOf(',') + 1)..]);
    }

    [SharedDataFact]
    public async Task Txt2Img_NullsAndTrailingSlash_TakeA1111Defaults()
    {
        // Clients that serialise unset nullable properties send null (pydantic: null = the field's default).
        var (status, json) = await fixture.Post("/sdapi/v1/txt2img/", """
            {"prompt": "a cat", "negative_prompt": null, "steps": 2, "cfg_scale": null, "sampler_name": null, "seed": null,
             "width": 64, "height": 64, "batch_size": null, "n_iter": null, "override_settings": null, "alwayson_scripts": null,
             "denoising_strength": null, "restore_faces": null, "styles": null, "subseed_strength": null}
            """);
        Assert.True(status == 200, json?.ToJsonString());
        var info = TestImages.Info(json!);
        Assert.Equal(7.0, info["cfg_scale"]!.GetValue<double>());
        Assert.Equal("Euler", info["sampler_name"]!.GetValue<string>());
        Assert.Null(info["denoising_strength"]);
        Assert.Equal(1, info["batch_size"]!.GetValue<int>());
        Assert.Single(TestImages.Images(json!));
        Assert.InRange(info["seed"]!.GetValue<long>(), 0, uint.MaxValue - 1);
    }

    [SharedDataFact]
    public async Task Txt2Img_SendImagesFalse_InfoWithoutImages()
    {
        var (status, json) = await fixture.Post("/sdapi/v1/txt2img", """{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "seed": 5, "send_images": false}""");
        Assert.Equal(200, status);
        Assert.Empty(json!["images"]!.AsArray());
        Assert.Single(TestImages.Info(json)["infotexts"]!.AsArray());
    }

    [SharedDataFact]
    public async Task Txt2Img_LoraTagInThePrompt_SamePixelsAsTheCliLoraOption()
    {
        string lora = fixture.Lora("style");
        string body(string prompt) => $$"""
            {"prompt": "{{prompt}}", "steps": 3, "cfg_scale": 7.5, "sampler_name": "Euler a", "seed": 8, "width": 64, "height": 64}
            """;
        var (status, json) = await fixture.Post("/sdapi/v1/txt2img", body("a cat <lora:style:0.8>"));
        Assert.True(status == 200, json?.ToJsonString());
        string output = Path.Combine(fixture.NewFolder(), "cli.png");
        var cli = RedraftProcess.Run("txt2img", "--model", fixture.Model, "--prompt", "a cat ", "--lora", lora + ":0.8", "--steps", "3",
            "--cfg", "7.5", "--sampler", "Euler a", "--seed", "8", "--width", "64", "--height", "64",
            "--threads", "1", "--tokenizer", SharedData.ClipDir, "--out", output);
        Assert.True(cli.ExitCode == 0, cli.Stderr);
        var image = TestImages.Images(json!)[0];
        // The same pixels. A1111 reports the prompt with its tag and "Lora hashes"; the command line the prompt it was
        // given and "Lora: "style:0.8"".
        Assert.Equal(ImageFiles.DecodeRgba(File.ReadAllBytes(output), "cli").Pixels, ImageFiles.DecodeRgba(image, "api").Pixels);
        Assert.StartsWith("a cat <lora:style:0.8>\n", TestImages.Parameters(image));
        Assert.Matches("Lora hashes: \"style: [0-9a-f]{12}\"", TestImages.Parameters(image));
        Assert.Contains("Lora: \"style:0.8\"", TestImages.Parameters(File.ReadAllBytes(output)));
        // The LoRA changes the picture: without the tag (or with extra networks disabled) it is another one.
        static byte[] Pixels(JsonNode answer) => ImageFiles.DecodeRgba(TestImages.Images(answer)[0], "api").Pixels;
        var (_, plain) = await fixture.Post("/sdapi/v1/txt2img", body("a cat "));
        Assert.NotEqual(Pixels(plain!), Pixels(json!));
        var (_, missing) = await fixture.Post("/sdapi/v1/txt2img", body("a cat <lora:not-there:0.8>"));
        Assert.Equal(Pixels(plain!), Pixels(missing!));
    }
}
