using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>
/// Checkpoint, VAE and LoRA names resolve only to files in the models folder: a relative path out of it, a path with
/// Windows separators or an absolute path is "not found" even where a usable file of that name exists outside.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ModelNameTests(ServerFixture fixture)
{
    /// <summary>
    /// Outside the models folder (its sibling <c>outside/</c>): a copy of the tiny checkpoint, a copy of the other one
    /// (usable as a VAE: it has VAE weights) and a LoRA, so a name that reached them would load and run.
    /// </summary>
    private async Task<string> Outside()
    {
        await fixture.Server();
        string outside = Path.Combine(fixture.Folder, "outside");
        if (!Directory.Exists(outside))
        {
            Directory.CreateDirectory(outside);
            File.Copy(fixture.Model, Path.Combine(outside, "tiny.safetensors"));
            File.Copy(fixture.OtherModel, Path.Combine(outside, "vae.safetensors"));
            ServerFixture.WriteLora(Path.Combine(outside, "evil.safetensors"));
        }
        return outside;
    }

    /// <summary>Names pointing at <paramref name="file"/> (a stem in the outside folder) from the models folder and its sub-folders.</summary>
    private static IEnumerable<string> Escapes(string outside, string file) =>
    [
        $"../outside/{file}",
        $"../../outside/{file}",
        $"..\\outside\\{file}",
        $"..\\..\\outside\\{file}",
        Path.Combine(outside, file),
        $"tiny.safetensors/../../outside/{file}",
    ];

    private static void AssertNotFound(int status, System.Text.Json.Nodes.JsonNode? json, string name)
    {
        Assert.True(status == 422, $"{name}: {status} {json?.ToJsonString()}");
        Assert.Contains("not found", json!["detail"]!.GetValue<string>());
    }

    [SharedDataFact]
    public async Task CheckpointNames_OutsideTheFolder_AreNotFound()
    {
        string outside = await Outside();
        foreach (string name in Escapes(outside, "tiny.safetensors").Concat(Escapes(outside, "tiny")))
        {
            string quoted = System.Text.Json.JsonSerializer.Serialize(name);
            var (status, json) = await fixture.Post("/sdapi/v1/txt2img",
                $$$"""{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "override_settings": {"sd_model_checkpoint": {{{quoted}}}}}""");
            AssertNotFound(status, json, name);
            (status, json) = await fixture.Post("/sdapi/v1/options", $$"""{"sd_model_checkpoint": {{quoted}}}""");
            AssertNotFound(status, json, name);
        }
        // The names a client may use still work.
        var (ok, answer) = await fixture.Post("/sdapi/v1/txt2img",
            """{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "override_settings": {"sd_model_checkpoint": "tiny.safetensors"}}""");
        Assert.True(ok == 200, answer?.ToJsonString());
    }

    [SharedDataFact]
    public async Task VaeNames_OutsideTheFolder_AreNotFound()
    {
        string outside = await Outside();
        foreach (string name in Escapes(outside, "vae.safetensors").Concat(Escapes(outside, "vae")))
        {
            string quoted = System.Text.Json.JsonSerializer.Serialize(name);
            var (status, json) = await fixture.Post("/sdapi/v1/txt2img",
                $$$"""{"prompt": "a cat", "steps": 1, "width": 64, "height": 64, "override_settings": {"sd_vae": {{{quoted}}}}}""");
            AssertNotFound(status, json, name);
            (status, json) = await fixture.Post("/sdapi/v1/options", $$"""{"sd_vae": {{quoted}}}""");
            AssertNotFound(status, json, name);
        }
    }

    [SharedDataFact]
    public async Task LoraNames_OutsideTheFolder_AreSkippedLikeMissingOnes()
    {
        string outside = await Outside();
        // A models folder of its own, beside the outside one, with a copy of the outside LoRA in its Lora/.
        string models = Path.Combine(fixture.Folder, "lora-models");
        Directory.CreateDirectory(Path.Combine(models, "Lora"));
        File.Copy(fixture.Model, Path.Combine(models, "tiny.safetensors"), overwrite: true);
        File.Copy(Path.Combine(outside, "evil.safetensors"), Path.Combine(models, "Lora", "inside.safetensors"), overwrite: true);
        await using var server = await OwnServer.Start(fixture.Options() with { ModelsDir = models });
        async Task<(byte[] Image, string Infotext)> Run(string prompt)
        {
            var (status, json) = await server.Post("/sdapi/v1/txt2img", $$"""
                {"prompt": {{System.Text.Json.JsonSerializer.Serialize(prompt)}}, "steps": 2, "sampler_name": "Euler", "seed": 3, "width": 64, "height": 64}
                """);
            Assert.True(status == 200, json?.ToJsonString());
            // Pixels, not PNG bytes: the infotext in the PNG keeps the prompt's tags, as A1111 reports them.
            return (ImageFiles.DecodeRgba(TestImages.Images(json!)[0], "response image").Pixels.ToArray(), TestImages.Info(json!)["infotexts"]![0]!.GetValue<string>());
        }
        var plain = await Run("a cat ");
        // The same weights in Lora/ change the picture, so a name that reached the outside copy would show.
        Assert.NotEqual(plain.Image, (await Run("a cat <lora:inside:1>")).Image);
        foreach (string name in Escapes(outside, "evil"))
        {
            var escaped = await Run($"a cat <lora:{name}:1>");
            Assert.Equal(plain.Image, escaped.Image);
            Assert.DoesNotContain("Lora hashes", escaped.Infotext);
        }
    }
}
