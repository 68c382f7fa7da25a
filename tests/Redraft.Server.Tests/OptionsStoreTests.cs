using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;
using Redraft.Server.Api;

namespace Redraft.Server.Tests;

/// <summary>
/// <c>POST /sdapi/v1/options</c> keeps what it is sent, as A1111's config.json does: read back by GET, kept across a
/// restart in the options file, and the options Redraft acts on apply to the requests that follow. Each test has a
/// server of its own (its own models folder and options file), so nothing leaks into other tests.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class OptionsStoreTests(ServerFixture fixture)
{
    /// <summary>A models folder with the tiny checkpoints and, in <c>VAE/</c>, the other checkpoint's VAE; and the options file beside it.</summary>
    private async Task<(string Models, string OptionsFile)> Folder()
    {
        await fixture.Server();
        string folder = fixture.NewFolder(), models = Path.Combine(folder, "models");
        Directory.CreateDirectory(Path.Combine(models, "VAE"));
        File.Copy(fixture.Model, Path.Combine(models, "tiny.safetensors"));
        File.Copy(fixture.OtherModel, Path.Combine(models, "tiny-other.safetensors"));
        File.Copy(fixture.OtherModel, Path.Combine(models, "VAE", "other.safetensors"));
        return (models, Path.Combine(folder, "server-options.json"));
    }

    private ServerOptions Options(string models, string optionsFile, string? model = "tiny") =>
        fixture.Options() with { ModelsDir = models, OptionsFile = optionsFile, Model = model };

    private async Task<OwnServer> Start(string? model = "tiny")
    {
        var (models, file) = await Folder();
        return await OwnServer.Start(Options(models, file, model));
    }

    private const string Cat = """{"prompt": "a cat", "steps": 2, "sampler_name": "Euler", "seed": 11, "width": 64, "height": 64""";

    private static async Task<byte[]> Image(OwnServer server, string extra = "")
    {
        var (status, json) = await server.Post("/sdapi/v1/txt2img", Cat + extra + "}");
        Assert.True(status == 200, json?.ToJsonString());
        return TestImages.Images(json!)[0];
    }

    [SharedDataFact]
    public async Task PostedOptions_AreReadBack_UnknownOnesAsSent()
    {
        await using var server = await Start();
        var (status, body) = await server.Post("/sdapi/v1/options", """
            {"randn_source": "nv", "show_progress_every_n_steps": "3", "live_previews_enable": 0, "samples_format": "png",
             "eta_noise_seed_delta": 31337, "CLIP_stop_at_last_layers": 1, "sd_vae": "other.safetensors", "eta_ddim": 0,
             "my_extension_option": {"a": [1, 2], "b": null}}
            """);
        Assert.Equal(200, status);
        Assert.Null(body);
        var options = (await server.Get("/sdapi/v1/options")).Json!;
        Assert.Equal("NV", options["randn_source"]!.GetValue<string>());
        Assert.Equal(3, options["show_progress_every_n_steps"]!.GetValue<int>());
        Assert.False(options["live_previews_enable"]!.GetValue<bool>());
        Assert.Equal(31337, options["eta_noise_seed_delta"]!.GetValue<long>());
        Assert.Equal("other.safetensors", options["sd_vae"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"a": [1, 2], "b": null}"""), options["my_extension_option"]));
        // The current checkpoint is still the one loaded, and the whole body can be posted back unchanged.
        Assert.StartsWith("tiny.safetensors", options["sd_model_checkpoint"]!.GetValue<string>());
        Assert.Equal(200, (await server.Post("/sdapi/v1/options", options.ToJsonString())).Status);
        var again = (await server.Get("/sdapi/v1/options")).Json!.AsObject();
        // The checkpoint's hash appears once computed (in the background): it is the server's, not a posted value.
        foreach (var computed in new[] { "sd_checkpoint_hash", "sd_model_checkpoint" })
        {
            options.AsObject().Remove(computed);
            again.Remove(computed);
        }
        Assert.True(JsonNode.DeepEquals(options, again));
    }

    [SharedDataFact]
    public async Task Options_AreKeptAcrossARestart_InTheOptionsFile()
    {
        var (models, file) = await Folder();
        await using (var first = await OwnServer.Start(Options(models, file)))
        {
            var (status, _) = await first.Post("/sdapi/v1/options", """{"randn_source": "NV", "my_extension_option": "kept", "sd_model_checkpoint": "tiny-other"}""");
            Assert.Equal(200, status);
        }
        Assert.Equal("tiny-other.safetensors", JsonNode.Parse(File.ReadAllText(file))!["sd_model_checkpoint"]!.GetValue<string>());
        // Without --model the server starts with the checkpoint chosen last, as A1111 does with its config.json.
        await using (var second = await OwnServer.Start(Options(models, file, model: null)))
        {
            Assert.Equal(Path.Combine(models, "tiny-other.safetensors"), second.Server.Model);
            var options = (await second.Get("/sdapi/v1/options")).Json!;
            Assert.Equal("NV", options["randn_source"]!.GetValue<string>());
            Assert.Equal("kept", options["my_extension_option"]!.GetValue<string>());
            Assert.StartsWith("tiny-other.safetensors", options["sd_model_checkpoint"]!.GetValue<string>());
        }
        // --model wins over the saved choice.
        await using var third = await OwnServer.Start(Options(models, file, model: "tiny"));
        Assert.Equal(Path.Combine(models, "tiny.safetensors"), third.Server.Model);
    }

    [SharedDataFact]
    public async Task RandnSource_Posted_IsUsedByTheRequestsThatFollow()
    {
        await using var server = await Start();
        var cpu = await Image(server);
        var nv = await Image(server, """, "override_settings": {"randn_source": "NV"}""");
        Assert.NotEqual(cpu, nv);
        Assert.Equal(200, (await server.Post("/sdapi/v1/options", """{"randn_source": "NV"}""")).Status);
        Assert.Equal(nv, await Image(server));
        // A request's override_settings still wins.
        Assert.Equal(cpu, await Image(server, """, "override_settings": {"randn_source": "CPU"}"""));
    }

    [SharedDataFact]
    public async Task SdVae_Posted_IsTheDefaultVae()
    {
        await using var server = await Start();
        var own = await Image(server);
        var other = await Image(server, """, "override_settings": {"sd_vae": "other.safetensors"}""");
        Assert.NotEqual(own, other);
        Assert.Equal(200, (await server.Post("/sdapi/v1/options", """{"sd_vae": "other"}""")).Status);
        Assert.Equal(other, await Image(server));
        Assert.Equal(200, (await server.Post("/sdapi/v1/options", """{"sd_vae": "Automatic"}""")).Status);
        Assert.Equal(own, await Image(server));
    }

    [SharedDataFact]
    public async Task NoiseSeedDelta_Posted_IsRefusedOnlyWhereItWouldChangeThePicture()
    {
        await using var server = await Start();
        var before = await Image(server);
        Assert.Equal(200, (await server.Post("/sdapi/v1/options", """{"eta_noise_seed_delta": 31337}""")).Status);
        // Euler draws no noise while sampling: A1111's picture is the same with any delta.
        Assert.Equal(before, await Image(server));
        var (status, json) = await server.Post("/sdapi/v1/txt2img", """{"prompt": "a cat", "steps": 2, "sampler_name": "Euler a", "seed": 11, "width": 64, "height": 64}""");
        Assert.Equal(422, status);
        string detail = json!["detail"]!.GetValue<string>();
        Assert.Contains("eta_noise_seed_delta", detail);
        Assert.Contains("POST /sdapi/v1/options", detail);
        // The request's own value wins over the server's.
        (status, json) = await server.Post("/sdapi/v1/txt2img",
            """{"prompt": "a cat", "steps": 2, "sampler_name": "Euler a", "seed": 11, "width": 64, "height": 64, "override_settings": {"eta_noise_seed_delta": 0}}""");
        Assert.True(status == 200, json?.ToJsonString());
    }

    [SharedDataTheory]
    [InlineData("""{"randn_source": "NV", "CLIP_stop_at_last_layers": 2}""", "CLIP_stop_at_last_layers")]
    [InlineData("""{"randn_source": "NV", "samples_format": "jpg"}""", "samples_format")]
    [InlineData("""{"randn_source": "TPU"}""", "randn_source")]
    [InlineData("""{"randn_source": "NV", "eta_ddim": 0.5}""", "eta_ddim")]
    [InlineData("""{"randn_source": "NV", "s_churn": 1}""", "s_churn")]
    [InlineData("""{"randn_source": "NV", "sd_lora": "style"}""", "sd_lora")]
    [InlineData("""{"randn_source": "NV", "sd_vae": "no-such-vae.safetensors"}""", "sd_vae")]
    [InlineData("""{"randn_source": "NV", "sd_model_checkpoint": "no-such-model"}""", "no-such-model")]
    public async Task ValuesRedraftCannotHonour_Are422NamingThem_AndChangeNothing(string body, string named)
    {
        await using var server = await Start();
        var (status, json) = await server.Post("/sdapi/v1/options", body);
        Assert.Equal(422, status);
        Assert.Contains(named, json!["detail"]!.GetValue<string>());
        Assert.Equal("CPU", (await server.Get("/sdapi/v1/options")).Json!["randn_source"]!.GetValue<string>());
    }

    [SharedDataFact]
    public async Task WrongTypes_Are422InFastApisShape()
    {
        await using var server = await Start();
        var (status, json) = await server.Post("/sdapi/v1/options", """{"show_progress_every_n_steps": "often", "live_previews_enable": "maybe"}""");
        Assert.Equal(422, status);
        var locations = json!["detail"]!.AsArray().Select(p => p!["loc"]![1]!.GetValue<string>());
        Assert.Equal(["show_progress_every_n_steps", "live_previews_enable"], locations.Order(StringComparer.Ordinal).Reverse());
    }

    [Fact]
    public async Task Previews_FollowLivePreviewsEnableAndTheInterval()
    {
        string folder = Directory.CreateTempSubdirectory("redraft-server-previews-").FullName;
        try
        {
            async Task<int> PreviewEvery(int available, JsonObject stored, string request = """{"prompt": "a cat"}""")
            {
                var store = ServerSettingsStore.Load(null);
                store.Set(stored);
                await using var context = new ApiContext(new ServerOptions { ModelsDir = folder }, new ModelFolder(folder, null), available, store)
                {
                    DefaultModel = Path.Combine(folder, "model.safetensors"),
                };
                return GenerationRequestReader.Read(JsonNode.Parse(request)!.AsObject(), img2img: false, context).Settings.PreviewEvery;
            }
            Assert.Equal(10, await PreviewEvery(10, []));
            Assert.Equal(0, await PreviewEvery(10, new JsonObject { ["live_previews_enable"] = false }));
            Assert.Equal(3, await PreviewEvery(10, new JsonObject { ["show_progress_every_n_steps"] = 3 }));
            Assert.Equal(5, await PreviewEvery(10, new JsonObject { ["show_progress_every_n_steps"] = 3 },
                """{"prompt": "a cat", "override_settings": {"show_progress_every_n_steps": 5}}"""));
            Assert.Equal(0, await PreviewEvery(10, new JsonObject { ["show_progress_every_n_steps"] = -1 }));
            // Without TAESD weights there are no previews to make.
            Assert.Equal(0, await PreviewEvery(0, new JsonObject { ["show_progress_every_n_steps"] = 3 }));
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }
}
