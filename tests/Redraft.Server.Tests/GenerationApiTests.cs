using System.Text.Json.Nodes;
using Redraft.Cli.Tests;
using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>
/// txt2img and img2img over real HTTP with the request shapes real clients send (webuiapi, openOutpaint,
/// stable-gimpfusion, StabilityMatrix), and the same pictures as the command line.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class GenerationApiTests(ServerFixture fixture)
{
    private const string Prompt = "a lighthouse at dusk, (oil painting:1.2)";

    /// <summary>mix1009/sdwebuiapi's txt2img payload (its newer version: every field, sampler in both fields).</summary>
    private static string WebuiapiTxt2Img(long seed, int nIter) => $$"""
        {"enable_hr": false, "hr_scale": 2, "hr_upscaler": "Latent", "hr_second_pass_steps": 0, "hr_resize_x": 0, "hr_resize_y": 0,
         "denoising_strength": 0.7, "firstphase_width": 0, "firstphase_height": 0, "prompt": "{{Prompt}}", "styles": [],
         "seed": {{seed}}, "subseed": -1, "subseed_strength": 0.0, "seed_resize_from_h": 0, "seed_resize_from_w": 0,
         "batch_size": 1, "n_iter": {{nIter}}, "steps": 3, "cfg_scale": 7.0, "width": 64, "height": 64, "restore_faces": false,
         "tiling": false, "do_not_save_samples": false, "do_not_save_grid": false, "negative_prompt": "blurry", "eta": 1.0,
         "s_churn": 0, "s_tmax": 0, "s_tmin": 0, "s_noise": 1, "override_settings": {}, "override_settings_restore_afterwards": true,
         "sampler_name": "Euler a", "sampler_index": "Euler a", "script_name": null, "script_args": [], "send_images": true,
         "save_images": false, "alwayson_scripts": {}, "scheduler": "automatic"}
        """;

    [SharedDataFact]
    public async Task Txt2Img_WebuiapiPayload_ImagesCarryTheirInfotextAndSeedsCountUp()
    {
        var (status, json) = await fixture.Post("/sdapi/v1/txt2img", WebuiapiTxt2Img(1234, nIter: 2));
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
        var first = await fixture.Post("/sdapi/v1/txt2img", WebuiapiTxt2Img(77, nIter: 1));
        var second = await fixture.Post("/sdapi/v1/txt2img", WebuiapiTxt2Img(77, nIter: 1));
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
    public async Task Img2Img_OpenOutpaintInpaintWithSamplerIndexOnly_SamePictureAsTheCli()
    {
        string folder = fixture.NewFolder();
        string init = Path.Combine(folder, "init.png"), mask = Path.Combine(folder, "mask.png"), output = Path.Combine(folder, "cli.png");
        File.WriteAllBytes(init, TestImages.InitPng());
        File.WriteAllBytes(mask, TestImages.MaskPng());
        // zero01101/openOutpaint's request: its settings object, seed as a string, sampler_index only, data URLs, extra keys.
        var (status, json) = await fixture.Post("/sdapi/v1/img2img", $$"""
            {"prompt": "{{Prompt}}", "negative_prompt": "blurry", "seed": "4242", "cfg_scale": 7, "sampler_index": "Euler",
             "scheduler": "Automatic", "steps": 4, "denoising_strength": 0.6, "mask_blur": 4, "batch_size": 1, "n_iter": 1,
             "width": 64, "height": 64, "init_images": ["{{TestImages.DataUrl(TestImages.InitPng())}}"],
             "mask": "{{TestImages.DataUrl(TestImages.MaskPng())}}", "inpaint_full_res": false, "inpainting_fill": 1,
             "enable_hr": false, "restore_faces": false, "hr_scale": 2, "hr_upscaler": "None", "hr_second_pass_steps": 0,
             "hr_resize_x": 0, "hr_resize_y": 0, "styles": [], "outpainting_fill": 2, "hr_square_aspect": false, "sync_cursor_size": true}
            """);
        Assert.True(status == 200, json?.ToJsonString());
        var cli = RedraftProcess.Run("img2img", "--model", fixture.Model, "--init", init, "--mask", mask, "--prompt", Prompt,
            "--negative", "blurry", "--steps", "4", "--cfg", "7", "--sampler", "Euler", "--seed", "4242", "--strength", "0.6",
            "--mask-blur", "4", "--masked-content", "original", "--inpaint-area", "whole", "--width", "64", "--height", "64",
            "--threads", "1", "--tokenizer", SharedData.ClipDir, "--out", output);
        Assert.True(cli.ExitCode == 0, cli.Stderr);
        var image = TestImages.Images(json!)[0];
        TestImages.AssertSameGeneration(File.ReadAllBytes(output), image);
        Assert.Equal(TestImages.Info(json!)["infotexts"]![0]!.GetValue<string>(), TestImages.Parameters(image));
        // The echo leaves the images out unless include_init_images.
        Assert.Null(json!["parameters"]!["init_images"]);
    }

    [SharedDataFact]
    public async Task Img2Img_GimpOnlyMaskedWithLegacySamplerName_SamePictureAsTheCli()
    {
        string folder = fixture.NewFolder();
        string init = Path.Combine(folder, "init.png"), mask = Path.Combine(folder, "mask.png"), output = Path.Combine(folder, "cli.png");
        File.WriteAllBytes(init, TestImages.InitPng());
        File.WriteAllBytes(mask, TestImages.MaskPng());
        // ArtBIT/stable-gimpfusion's inpainting request: raw base64, an old sampler name with its schedule, only masked.
        var (status, json) = await fixture.Post("/sdapi/v1/img2img", $$"""
            {"prompt": "{{Prompt}}", "negative_prompt": "", "cfg_scale": 7.5, "denoising_strength": 0.8, "steps": 4,
             "width": 64, "height": 64, "sampler_index": "DPM++ 2M Karras", "batch_size": 1, "seed": 99, "resize_mode": 0,
             "init_images": ["{{Convert.ToBase64String(TestImages.InitPng())}}"], "mask": "{{Convert.ToBase64String(TestImages.MaskPng())}}",
             "inpaint_full_res": true, "inpaint_full_res_padding": 10, "inpainting_mask_invert": 0}
            """);
        Assert.True(status == 200, json?.ToJsonString());
        var cli = RedraftProcess.Run("img2img", "--model", fixture.Model, "--init", init, "--mask", mask, "--prompt", Prompt,
            "--steps", "4", "--cfg", "7.5", "--sampler", "DPM++ 2M", "--schedule", "karras", "--seed", "99", "--strength", "0.8",
            "--mask-blur", "4", "--masked-content", "fill", "--inpaint-area", "masked", "--inpaint-padding", "10",
            "--width", "64", "--height", "64", "--threads", "1", "--tokenizer", SharedData.ClipDir, "--out", output);
        Assert.True(cli.ExitCode == 0, cli.Stderr);
        TestImages.AssertSameGeneration(File.ReadAllBytes(output), TestImages.Images(json!)[0]);
        Assert.Equal("DPM++ 2M", TestImages.Info(json!)["sampler_name"]!.GetValue<string>());
    }

    [SharedDataFact]
    public async Task Txt2Img_StabilityMatrixNullsAndTrailingSlash_TakeA1111Defaults()
    {
        // LykosAI/StabilityMatrix serialises unset nullable properties as null.
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
