using Redraft.Diffusion.Tests;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Redraft.Server.Tests;

/// <summary>
/// The infotexts the API answers with, against AUTOMATIC1111 v1.10: keys in <c>create_infotext</c>'s order
/// (modules/processing.py), the prompt reported with its LoRA tags, and <c>Lora hashes</c> as its Lora extension writes
/// them (extensions-builtin/Lora/extra_networks_lora.py, hashes from network.py/hashes.py).
/// </summary>
[Collection(ServerCollection.Name)]
public sealed partial class InfotextApiTests(ServerFixture fixture)
{
    /// <summary>v1.10's create_infotext dict literal, transcribed: its fixed keys in order.</summary>
    private static readonly string[] A1111FixedKeys =
    [
        "Steps", "Sampler", "Schedule type", "CFG scale", "Image CFG scale", "Seed", "Face restoration", "Size",
        "Model hash", "Model", "FP8 weight", "Cache FP16 weight for LoRA", "VAE hash", "VAE", "Variation seed",
        "Variation seed strength", "Seed resize from", "Denoising strength", "Conditional mask weight", "Clip skip",
        "ENSD", "Token merging ratio", "Token merging ratio hr", "Init image hash", "RNG", "Tiling",
    ];

    /// <summary>A1111's <c>re_param</c> (infotext_utils.py): one <c>key: value</c> pair of the parameters line.</summary>
    [GeneratedRegex("""\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)""")]
    private static partial Regex Param();

    /// <summary>
    /// The parameters line's pairs, without Redraft's precision keys (present or not depending on the machine's bf16
    /// support; they sit with Redraft's other keys, before Version).
    /// </summary>
    private static List<(string Key, string Value)> Pairs(string infotext) =>
        [.. Param().Matches(infotext.Split('\n')[^1]).Select(m => (m.Groups[1].Value, m.Groups[2].Value))
            .Where(p => p.Item1 is not ("Precision" or "VAE precision"))];

    [SharedDataFact]
    public async Task Txt2Img_KeysInA1111Order_ScheduleTypeThird()
    {
        fixture.Lora("style");
        var (status, json) = await fixture.Post("/sdapi/v1/txt2img", """
            {"prompt": "a cat <lora:style:0.8>", "steps": 2, "sampler_name": "DPM++ 2M", "seed": 5, "subseed": 9,
             "subseed_strength": 0.3, "seed_resize_from_w": 48, "seed_resize_from_h": 48, "width": 64, "height": 64,
             "batch_size": 2, "cfg_scale": 7}
            """);
        Assert.True(status == 200, json?.ToJsonString());
        var info = TestImages.Info(json!);
        string infotext = info["infotexts"]![0]!.GetValue<string>();
        var pairs = Pairs(infotext);

        // The fixed keys present, in v1.10's order; then extra_generation_params (Lora hashes); Redraft's own; Version.
        Assert.Equal(
            ["Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size", "Model hash", "Model", "Variation seed",
             "Variation seed strength", "Seed resize from", "RNG", "Lora hashes", "Batch size", "Batch pos", "Version"],
            pairs.Select(p => p.Key));
        Assert.Equal(("Schedule type", "Karras"), pairs[2]); // A1111's Automatic for DPM++ 2M is Karras
        Assert.Equal(("Seed", "5"), pairs[4]);
        AssertA1111Order(pairs);
        var extra = info["extra_generation_params"]!.AsObject();
        // In the order A1111 adds them: the LoRAs when they are activated, the schedule when the sampler runs.
        Assert.Equal(["Lora hashes", "Schedule type", "Batch size", "Batch pos"], extra.Select(e => e.Key).Where(k => k != "Precision"));
        Assert.Equal(2, extra["Batch size"]!.GetValue<long>());
    }

    [SharedDataFact]
    public async Task Img2Img_MaskKeysAfterTheFixedOnes_AsA1111AddsThem()
    {
        var (status, json) = await fixture.Post("/sdapi/v1/img2img", $$"""
            {"prompt": "a cat", "steps": 2, "seed": 3, "width": 64, "height": 64, "denoising_strength": 0.6,
             "init_images": ["{{Convert.ToBase64String(TestImages.InitPng())}}"], "mask": "{{Convert.ToBase64String(TestImages.MaskPng())}}",
             "inpaint_full_res": true, "inpaint_full_res_padding": 8, "inpainting_fill": 0, "inpainting_mask_invert": 1}
            """);
        Assert.True(status == 200, json?.ToJsonString());
        var info = TestImages.Info(json!);
        var pairs = Pairs(info["infotexts"]![0]!.GetValue<string>());

        Assert.Equal(
            ["Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size", "Model hash", "Model", "Denoising strength",
             "RNG", "Mask mode", "Mask blur", "Inpaint area", "Masked area padding", "Masked content", "Version"],
            pairs.Select(p => p.Key));
        Assert.Equal(("Schedule type", "Automatic"), pairs[2]); // Euler's own schedule; A1111 writes the label anyway
        AssertA1111Order(pairs);
        // extra_generation_params: what A1111 sets through that dict, numbers as numbers; not the Automatic scheduler.
        var extra = info["extra_generation_params"]!.AsObject();
        Assert.Equal(["Denoising strength", "Mask mode", "Mask blur", "Inpaint area", "Masked area padding", "Masked content"],
            extra.Select(e => e.Key).Where(k => k != "Precision"));
        Assert.Equal(0.6, extra["Denoising strength"]!.GetValue<double>());
        Assert.Equal(4, extra["Mask blur"]!.GetValue<long>());
        Assert.Equal("fill", extra["Masked content"]!.GetValue<string>());
    }

    [SharedDataFact]
    public async Task LoraTags_StayInTheReportedPrompt_LoraHashesAreTheirAddNetOrMetadataHashes()
    {
        string style = fixture.Lora("style");
        string hashed = WithMetadata(style, "hashed", "feedfacecafe0123456789abcdef");
        const string Prompt = "a cat <lora:style:0.8>, <lyco:hashed:0.5> <lora:style:0.8> <lora:not-there:1>";
        var (status, json) = await fixture.Post("/sdapi/v1/txt2img", $$"""
            {"prompt": "{{Prompt}}", "negative_prompt": "dog", "steps": 1, "seed": 4, "width": 64, "height": 64}
            """);
        Assert.True(status == 200, json?.ToJsonString());
        var info = TestImages.Info(json!);
        string infotext = info["infotexts"]![0]!.GetValue<string>();

        Assert.Equal(Prompt, info["prompt"]!.GetValue<string>());
        Assert.Equal(Prompt, info["all_prompts"]![0]!.GetValue<string>());
        Assert.StartsWith(Prompt + "\nNegative prompt: dog\nSteps: 1,", infotext);
        // style: the SHA-256 of its tensor data (after the header), 12 digits; hashed: its sshs_model_hash; each name
        // once, in prompt order; the missing LoRA is not listed.
        string expected = $"style: {AddNetHash(style)[..12]}, hashed: feedfacecafe";
        Assert.Contains($", Lora hashes: \"{expected}\", ", infotext);
        Assert.DoesNotContain("Lora:", infotext);
        Assert.Equal(expected, info["extra_generation_params"]!["Lora hashes"]!.GetValue<string>());
        Assert.Equal(infotext, TestImages.Parameters(TestImages.Images(json!)[0]));

        // Extra networks off: the tags are still reported, nothing is applied, so no hashes.
        var (_, off) = await fixture.Post("/sdapi/v1/txt2img", $$"""
            {"prompt": "{{Prompt}}", "steps": 1, "seed": 4, "width": 64, "height": 64, "disable_extra_networks": true}
            """);
        string offText = TestImages.Info(off!)["infotexts"]![0]!.GetValue<string>();
        Assert.StartsWith(Prompt + "\nSteps: 1,", offText);
        Assert.DoesNotContain("Lora hashes", offText);
    }

    [Theory]
    [InlineData(null, "Automatic")]
    [InlineData("karras", "Karras")]
    [InlineData("sgm_uniform", "SGM Uniform")]
    [InlineData("ddim", "DDIM")]
    [InlineData("time_uniform", "Automatic")]
    public void ScheduleType_IsA1111sLabel(string? schedule, string expected) =>
        Assert.Equal(expected, Redraft.Server.Api.A1111Samplers.ScheduleType(schedule));

    [SharedDataFact]
    public async Task Ddim_EtaDdimOnlyWhenNotZero_AfterTheFixedKeys()
    {
        async Task<List<(string Key, string Value)>> Run(double eta)
        {
            var (status, json) = await fixture.Post("/sdapi/v1/txt2img", $$"""
                {"prompt": "a cat", "steps": 2, "sampler_name": "DDIM", "eta": {{eta.ToString(System.Globalization.CultureInfo.InvariantCulture)}}, "seed": 2, "width": 64, "height": 64}
                """);
            Assert.True(status == 200, json?.ToJsonString());
            return Pairs(TestImages.Info(json!)["infotexts"]![0]!.GetValue<string>());
        }
        var half = await Run(0.5);
        Assert.Equal(("Schedule type", "Automatic"), half[2]);
        Assert.Equal(("Eta DDIM", "0.5"), half.Single(p => p.Key.StartsWith("Eta", StringComparison.Ordinal)));
        Assert.True(half.FindIndex(p => p.Key == "Eta DDIM") > half.FindIndex(p => p.Key == "RNG"));
        AssertA1111Order(half);
        Assert.DoesNotContain(await Run(0), p => p.Key.StartsWith("Eta", StringComparison.Ordinal));
    }

    /// <summary>Every fixed key present comes in v1.10's order, before the others; Version is last.</summary>
    private static void AssertA1111Order(List<(string Key, string Value)> pairs)
    {
        var keys = pairs.Select(p => p.Key).ToList();
        var fixedOnes = keys.Where(A1111FixedKeys.Contains).ToList();
        Assert.Equal(A1111FixedKeys.Where(fixedOnes.Contains), fixedOnes);
        Assert.Equal(fixedOnes, keys.Take(fixedOnes.Count));
        Assert.Equal("Version", keys[^1]);
    }

    /// <summary>A1111's <c>addnet_hash_safetensors</c>: SHA-256 of the bytes after the 8-byte length and the header.</summary>
    private static string AddNetHash(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        return Convert.ToHexStringLower(SHA256.HashData(bytes.AsSpan((int)(8 + headerLength))));
    }

    /// <summary>A copy of a LoRA in the Lora folder with <c>sshs_model_hash</c> in its metadata (same tensors).</summary>
    private string WithMetadata(string source, string name, string sshsModelHash)
    {
        string path = Path.Combine(fixture.ModelsDir, "Lora", name + ".safetensors");
        if (File.Exists(path)) return path;
        byte[] bytes = File.ReadAllBytes(source);
        int headerLength = (int)BitConverter.ToInt64(bytes, 0);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, headerLength))!.AsObject();
        var metadata = header["__metadata__"] as JsonObject ?? [];
        header.Remove("__metadata__");
        metadata["sshs_model_hash"] = sshsModelHash;
        header["__metadata__"] = metadata;
        string json = header.ToJsonString();
        json += new string(' ', (8 - Encoding.UTF8.GetByteCount(json) % 8) % 8);
        byte[] newHeader = Encoding.UTF8.GetBytes(json);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((long)newHeader.Length), .. newHeader, .. bytes.AsSpan(8 + headerLength)]);
        return path;
    }
}
