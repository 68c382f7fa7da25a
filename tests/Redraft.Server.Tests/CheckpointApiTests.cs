using System.Security.Cryptography;
using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>
/// Checkpoints named as A1111 names them (options POST and override_settings), and the routes that manage the one
/// in memory: unload-checkpoint frees it, reload-checkpoint loads it, refresh-checkpoints unloads a rewritten file.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class CheckpointApiTests(ServerFixture fixture)
{
    /// <summary>Every form of A1111's aliases (sd_models.CheckpointInfo.ids) and of get_closet_checkpoint_match.</summary>
    public static TheoryData<string> NamesOfTheOtherModel() =>
    [
        "tiny-other.safetensors",                // the relative name
        "tiny-other",                            // model name / file name without extension
        "{title}",                               // name [short sha256], what sd-models lists
        "{sha10}",                               // short hash
        "{sha256}",                              // full hash
        "{legacy}",                              // A1111's old 8-digit hash (64 KB at 1 MB)
        "tiny-other.safetensors [{legacy}]",     // name [old hash], old infotexts' form
        "tiny-other [{sha10}]",                  // short title
        "other",                                 // part of a title: the shortest title containing it
        "tiny-other.safetensors [0123456789]",   // a stale checksum: matched without it
    ];

    [SharedDataTheory]
    [MemberData(nameof(NamesOfTheOtherModel))]
    public async Task Resolve_TakesEveryNameA1111Takes(string form)
    {
        var server = await fixture.Server();
        var models = server.Context.Models;
        string sha = models.Sha256(fixture.OtherModel);
        string name = form.Replace("{title}", $"tiny-other.safetensors [{sha[..10]}]").Replace("{sha10}", sha[..10])
            .Replace("{sha256}", sha).Replace("{legacy}", LegacyHash(fixture.OtherModel));
        Assert.Equal(fixture.OtherModel, models.Resolve(name).Path);
    }

    [SharedDataFact]
    public async Task OptionsAndOverrideSettings_TakeOldHashAndPartialNames_AndRefuseUnknownOnes()
    {
        await fixture.Server();
        try
        {
            var (status, _) = await fixture.Post("/sdapi/v1/options", $$"""{"sd_model_checkpoint": "{{LegacyHash(fixture.OtherModel)}}"}""");
            Assert.Equal(200, status);
            var (_, options) = await fixture.Get("/sdapi/v1/options");
            Assert.StartsWith("tiny-other.safetensors", options!["sd_model_checkpoint"]!.GetValue<string>());
            var (_, json) = await fixture.Post("/sdapi/v1/txt2img", """{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "seed": 1, "override_settings": {"sd_model_checkpoint": "tiny.safetensors [0000000000]"}}""");
            Assert.Equal("tiny", TestImages.Info(json!)["sd_model_name"]!.GetValue<string>());
            var (unknown, error) = await fixture.Post("/sdapi/v1/options", """{"sd_model_checkpoint": "no-such-model"}""");
            Assert.Equal(422, unknown);
            Assert.Contains("no-such-model", error!["detail"]!.GetValue<string>());
        }
        finally
        {
            await fixture.Post("/sdapi/v1/options", """{"sd_model_checkpoint": "tiny"}""");
        }
    }

    [SharedDataFact]
    public async Task UnloadCheckpoint_FreesTheModel_ReloadAndTheNextJobLoadItAgain()
    {
        var server = await fixture.Server();
        var service = server.Context.Service;
        Assert.Equal(200, (await fixture.Post("/sdapi/v1/txt2img", """{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "seed": 1}""")).Status);
        Assert.Equal(fixture.Model, service.LoadedModel?.Path);

        var (status, body) = await fixture.Post("/sdapi/v1/unload-checkpoint", "");
        Assert.Equal(200, status);
        Assert.Empty(body!.AsObject());
        Assert.Null(service.LoadedModel);

        Assert.Equal(200, (await fixture.Post("/sdapi/v1/reload-checkpoint", "")).Status);
        Assert.Equal(fixture.Model, service.LoadedModel?.Path);

        await fixture.Post("/sdapi/v1/unload-checkpoint", "");
        var (generated, json) = await fixture.Post("/sdapi/v1/txt2img", """{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "seed": 1}""");
        Assert.Equal(200, generated);
        Assert.Single(TestImages.Images(json!));
        Assert.Equal(fixture.Model, service.LoadedModel?.Path);
    }

    [SharedDataFact]
    public async Task RefreshCheckpoints_UnloadsTheModelOnlyWhenItsFileWasRewritten()
    {
        var server = await fixture.Server();
        var service = server.Context.Service;
        var written = File.GetLastWriteTimeUtc(fixture.OtherModel);
        try
        {
            Assert.Equal(200, (await fixture.Post("/sdapi/v1/options", """{"sd_model_checkpoint": "tiny-other"}""")).Status);
            Assert.Equal(fixture.OtherModel, service.LoadedModel?.Path);
            Assert.Equal(200, (await fixture.Post("/sdapi/v1/refresh-checkpoints", "")).Status);
            Assert.Equal(fixture.OtherModel, service.LoadedModel?.Path);

            File.SetLastWriteTimeUtc(fixture.OtherModel, written.AddMinutes(1)); // the file as a new download leaves it
            var (status, body) = await fixture.Post("/sdapi/v1/refresh-checkpoints", "");
            Assert.Equal(200, status);
            Assert.Null(body);
            Assert.Null(service.LoadedModel);
        }
        finally
        {
            File.SetLastWriteTimeUtc(fixture.OtherModel, written);
            await fixture.Post("/sdapi/v1/options", """{"sd_model_checkpoint": "tiny"}""");
        }
    }

    /// <summary>A1111's old model hash, computed here independently: sha256 of the 64 KB at offset 1 MB, 8 hex digits.</summary>
    private static string LegacyHash(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var block = bytes.Length > 0x100000 ? bytes.AsSpan(0x100000, Math.Min(0x10000, bytes.Length - 0x100000)) : [];
        return Convert.ToHexStringLower(SHA256.HashData(block))[..8];
    }
}
