using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>The lists clients read on connect, options (with a model switch), png-info.</summary>
[Collection(ServerCollection.Name)]
public sealed class ListApiTests(ServerFixture fixture)
{
    [SharedDataFact]
    public async Task SdModels_ListsTheFolderWithTitlesClientsSendBack()
    {
        var (status, json) = await fixture.Get("/sdapi/v1/sd-models");
        Assert.Equal(200, status);
        var models = json!.AsArray();
        Assert.Equal(["tiny-other", "tiny"], models.Select(m => m!["model_name"]!.GetValue<string>()).Order(StringComparer.Ordinal).Reverse());
        var tiny = models.Single(m => m!["model_name"]!.GetValue<string>() == "tiny")!;
        // The loaded model's hash is known: its title carries it, as A1111's do.
        await WaitFor(async () => (await fixture.Get("/sdapi/v1/sd-models")).Json!.AsArray().Any(m => m!["hash"] is not null));
        tiny = (await fixture.Get("/sdapi/v1/sd-models")).Json!.AsArray().Single(m => m!["model_name"]!.GetValue<string>() == "tiny")!;
        Assert.Matches(@"^tiny\.safetensors \[[0-9a-f]{10}\]$", tiny["title"]!.GetValue<string>());
        Assert.Equal(fixture.Model, tiny["filename"]!.GetValue<string>());
        var (_, options) = await fixture.Get("/sdapi/v1/options/");
        Assert.Equal(tiny["title"]!.GetValue<string>(), options!["sd_model_checkpoint"]!.GetValue<string>());
    }

    [SharedDataFact]
    public async Task Options_PostingATitle_SwitchesTheDefaultModel()
    {
        await fixture.Server();
        try
        {
            var (status, body) = await fixture.Post("/sdapi/v1/options/", """{"sd_model_checkpoint": "tiny-other.safetensors"}""");
            Assert.Equal(200, status);
            Assert.Null(body);
            var (_, json) = await fixture.Post("/sdapi/v1/txt2img", """{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "seed": 1}""");
            Assert.Equal("tiny-other", TestImages.Info(json!)["sd_model_name"]!.GetValue<string>());
            // A request may name its own model, by name without extension.
            var (_, own) = await fixture.Post("/sdapi/v1/txt2img", """{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "seed": 1, "override_settings": {"sd_model_checkpoint": "tiny"}}""");
            Assert.Equal("tiny", TestImages.Info(own!)["sd_model_name"]!.GetValue<string>());
            // The whole GET body posted back is accepted.
            var (_, options) = await fixture.Get("/sdapi/v1/options");
            Assert.Equal(200, (await fixture.Post("/sdapi/v1/options", options!.ToJsonString())).Status);
        }
        finally
        {
            await fixture.Post("/sdapi/v1/options", """{"sd_model_checkpoint": "tiny"}""");
        }
    }

    [SharedDataFact]
    public async Task SamplersAndSchedulers_A1111NamesWithDefaults()
    {
        var samplers = (await fixture.Get("/sdapi/v1/samplers")).Json!.AsArray();
        var names = samplers.Select(s => s!["name"]!.GetValue<string>()).ToList();
        Assert.Contains("Euler", names);
        Assert.Contains("Euler a", names);
        Assert.DoesNotContain("DPM++ 2M Karras", names);
        var dpm = samplers.Single(s => s!["name"]!.GetValue<string>() == "DPM++ 2M")!;
        Assert.Equal("karras", dpm["options"]!["scheduler"]!.GetValue<string>());
        var schedulers = (await fixture.Get("/sdapi/v1/schedulers")).Json!.AsArray();
        Assert.Contains(schedulers, s => s!["label"]!.GetValue<string>() == "Karras" && s["name"]!.GetValue<string>() == "karras");
    }

    [SharedDataFact]
    public async Task PngInfo_OfAReturnedImage_GivesItsInfotextAndParsedSeed()
    {
        var (_, json) = await fixture.Post("/sdapi/v1/txt2img", """{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "seed": 31}""");
        string image = json!["images"]![0]!.GetValue<string>();
        // The Photoshop plugin posts each image back as a data URL.
        var (status, info) = await fixture.Post("/sdapi/v1/png-info", $$"""{"image": "data:image/png;base64,{{image}}"}""");
        Assert.Equal(200, status);
        Assert.Equal(TestImages.Info(json)["infotexts"]![0]!.GetValue<string>(), info!["info"]!.GetValue<string>());
        Assert.Equal("31", info["parameters"]!["Seed"]!.GetValue<string>());
        Assert.Equal("64", info["parameters"]!["Size-1"]!.GetValue<string>());
    }

    [SharedDataFact]
    public async Task OtherLists_AnswerWithA1111Shapes()
    {
        // (loras and sd-vae list what other tests put in the models folder; ContractApiTests checks their shapes.)
        foreach (var empty in new[] { "upscalers", "prompt-styles", "hypernetworks" })
        {
            var (status, json) = await fixture.Get($"/sdapi/v1/{empty}");
            Assert.Equal(200, status);
            Assert.Empty(json!.AsArray());
        }
        // The LoRAs other tests of the collection wrote, if they ran first.
        Assert.All((await fixture.Get("/sdapi/v1/loras")).Json!.AsArray(), l => Assert.NotNull(l!["path"]));
        var memory = (await fixture.Get("/sdapi/v1/memory")).Json!;
        Assert.True(memory["ram"]!["used"]!.GetValue<double>() > 0);
        Assert.Empty((await fixture.Get("/sdapi/v1/scripts")).Json!["txt2img"]!.AsArray());
        Assert.True((await fixture.Get("/sdapi/v1/cmd-flags")).Json!["api"]!.GetValue<bool>());
        Assert.Equal(200, (await fixture.Get("/internal/ping")).Status);
    }

    private static async Task WaitFor(Func<Task<bool>> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "condition not met in 30 s");
            await Task.Delay(50);
        }
    }
}
