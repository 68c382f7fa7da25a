using Redraft.Diffusion.Tests;
using System.Text.Json.Nodes;

namespace Redraft.Server.Tests;

/// <summary>
/// <c>--styles-file</c>, <c>GET prompt-styles</c> and a request's <c>styles</c> on a server of their own (the shared
/// one has no styles file), over the shared fixture's models.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class StylesApiTests(ServerFixture fixture)
{
    private const string StylesCsv =
        "\uFEFFname,prompt,negative_prompt\r\n" +
        "lit,\"{prompt}, (glowing:1.1)\",blurry\r\n" +
        "# not a style,x,y\r\n" +
        "painted,oil painting <lora:style:0.8>,\"lowres, {prompt}\"\r\n" +
        "short,only prompt\r\n";

    [SharedDataFact]
    public async Task StylesApplied_SameBytesAsTheExpandedPromptSentDirectly()
    {
        await fixture.Server(); // the models
        fixture.Lora("style");
        string styles = Path.Combine(fixture.NewFolder(), "styles.csv");
        File.WriteAllText(styles, StylesCsv);
        await using var server = await RedraftServer.StartAsync(fixture.Options() with { StylesFile = styles }, TextWriter.Null);
        using var client = new HttpClient { BaseAddress = server.Url, Timeout = TimeSpan.FromMinutes(5) };

        // prompt-styles lists the file's rows in order, comments left out, a short row's missing field null.
        var listed = JsonNode.Parse(await client.GetStringAsync("/sdapi/v1/prompt-styles"))!.AsArray();
        var expected = JsonNode.Parse("""
            [{"name": "lit", "prompt": "{prompt}, (glowing:1.1)", "negative_prompt": "blurry"},
             {"name": "painted", "prompt": "oil painting <lora:style:0.8>", "negative_prompt": "lowres, {prompt}"},
             {"name": "short", "prompt": "only prompt", "negative_prompt": null}]
            """);
        Assert.True(JsonNode.DeepEquals(expected, listed), listed.ToJsonString());
        var flags = JsonNode.Parse(await client.GetStringAsync("/sdapi/v1/cmd-flags"))!;
        Assert.Equal(Path.GetFullPath(styles), flags["styles_file"]![0]!.GetValue<string>());

        // lit replaces {prompt}; painted is appended (both parts stripped) and brings a LoRA tag; an unknown name
        // only strips, as A1111's empty style.
        const string Prompt = "a cat , (glowing:1.1), oil painting <lora:style:0.8>";
        const string Negative = "lowres, dark, blurry";
        var styled = await Post(client, """
            {"prompt": " a cat ", "negative_prompt": "dark", "styles": ["lit", "painted", "no such style"],
             "steps": 2, "seed": 6, "width": 64, "height": 64}
            """);
        var direct = await Post(client, $$"""
            {"prompt": "{{Prompt}}", "negative_prompt": "{{Negative}}", "steps": 2, "seed": 6, "width": 64, "height": 64}
            """);

        var info = TestImages.Info(styled);
        Assert.Equal(Prompt, info["prompt"]!.GetValue<string>());
        Assert.Equal(Negative, info["negative_prompt"]!.GetValue<string>());
        Assert.Equal(["lit", "painted", "no such style"], info["styles"]!.AsArray().Select(s => s!.GetValue<string>()));
        string infotext = info["infotexts"]![0]!.GetValue<string>();
        Assert.StartsWith($"{Prompt}\nNegative prompt: {Negative}\n", infotext);
        Assert.Contains("Lora hashes: \"style: ", infotext); // the style's tag applied the LoRA
        // The infotext (so the PNG) is the one of the expanded prompt: the same bytes.
        Assert.Equal(TestImages.Images(direct)[0], TestImages.Images(styled)[0]);
        // The echo is the request as sent.
        Assert.Equal(" a cat ", styled["parameters"]!["prompt"]!.GetValue<string>());
    }

    [Fact]
    public async Task UnreadableStylesFile_StopsTheStartWithOneLine()
    {
        string folder = Directory.CreateTempSubdirectory("redraft-styles-start-").FullName;
        try
        {
            string styles = Path.Combine(folder, "styles.csv");
            File.WriteAllText(styles, "title,text\nx,y\n");
            var e = await Assert.ThrowsAsync<RedraftInputException>(() => RedraftServer.StartAsync(
                new ServerOptions { Port = 0, ModelsDir = folder, StylesFile = styles, Threads = 1 }, TextWriter.Null));
            Assert.Contains(styles, e.Message);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public void RedraftServe_ReadsStylesCsvOfRedraftHomeUnlessStylesFileNamesAnother()
    {
        string home = Directory.CreateTempSubdirectory("redraft-styles-home-").FullName;
        try
        {
            // A broken styles.csv in $REDRAFT_HOME stops `redraft serve` before it listens: exit 2, one line naming it.
            string styles = Path.Combine(home, "styles.csv");
            File.WriteAllText(styles, "title,text\nx,y\n");
            var run = Redraft.Cli.Tests.RedraftProcess.Run(["serve", "--port", "0", "--models-dir", home],
                new Dictionary<string, string?> { ["REDRAFT_HOME"] = home }, timeoutSeconds: 60);
            Assert.Equal(2, run.ExitCode);
            Assert.Contains(styles, run.Stderr);
            Assert.Single(run.Stderr.Trim().Split('\n'));
            // --styles-file names another file instead.
            string other = Path.Combine(home, "other.csv");
            File.WriteAllText(other, "name\nx\n");
            var run2 = Redraft.Cli.Tests.RedraftProcess.Run(["serve", "--port", "0", "--models-dir", home, "--styles-file", other],
                new Dictionary<string, string?> { ["REDRAFT_HOME"] = home }, timeoutSeconds: 60);
            Assert.Equal(2, run2.ExitCode);
            Assert.Contains(other, run2.Stderr);
            Assert.DoesNotContain(styles, run2.Stderr);
        }
        finally
        {
            Directory.Delete(home, true);
        }
    }

    private static async Task<JsonNode> Post(HttpClient client, string body)
    {
        using var response = await client.PostAsync("/sdapi/v1/txt2img", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonNode.Parse(text)!;
    }
}
