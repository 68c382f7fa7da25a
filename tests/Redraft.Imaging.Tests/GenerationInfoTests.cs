namespace Redraft.Imaging.Tests;

public class GenerationInfoTests
{
    private static GenerationInfo Txt2Img => new()
    {
        Prompt = "a castle on a hill, sunset",
        NegativePrompt = "blurry, lowres",
        Steps = 20,
        Sampler = "Euler a",
        CfgScale = 7.5,
        Seed = 42,
        Width = 512,
        Height = 768,
        ModelHash = "abcdef1234",
        ModelName = "v1-5-pruned-emaonly",
    };

    [Fact]
    public void Format_KnownExample_IsExact()
    {
        var info = Txt2Img with
        {
            Extra = new Dictionary<string, string>
            {
                ["Schedule type"] = "Karras",
                ["Lora hashes"] = "add_detail: 7c6bad76eb54, x: 1",
                ["Version"] = "v1.10.1",
            },
        };

        Assert.Equal(
            "a castle on a hill, sunset\n" +
            "Negative prompt: blurry, lowres\n" +
            "Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x768, Model hash: abcdef1234, " +
            "Model: v1-5-pruned-emaonly, Schedule type: Karras, Lora hashes: \"add_detail: 7c6bad76eb54, x: 1\", Version: v1.10.1",
            info.Format());
    }

    [Fact]
    public void FormatInA1111Order_KnownExample_IsExact()
    {
        var info = Txt2Img with
        {
            Extra = new Dictionary<string, string>
            {
                ["Lora hashes"] = "add_detail: 7c6bad76eb54, x: 1",
                ["Version"] = "v1.10.1",
                ["Schedule type"] = "Karras",
            },
        };

        Assert.Equal(
            "a castle on a hill, sunset\n" +
            "Negative prompt: blurry, lowres\n" +
            "Steps: 20, Sampler: Euler a, Schedule type: Karras, CFG scale: 7.5, Seed: 42, Size: 512x768, Model hash: abcdef1234, " +
            "Model: v1-5-pruned-emaonly, Lora hashes: \"add_detail: 7c6bad76eb54, x: 1\", Version: v1.10.1",
            info.FormatInA1111Order());
        // Format keeps the order it is given (what the command line's and documents' PNGs record).
        Assert.EndsWith("Model: v1-5-pruned-emaonly, Lora hashes: \"add_detail: 7c6bad76eb54, x: 1\", Version: v1.10.1, Schedule type: Karras", info.Format());
    }

    /// <summary>
    /// The parameters line follows AUTOMATIC1111 v1.10's <c>create_infotext</c> (modules/processing.py): its dict
    /// literal's fixed keys in order, then <c>**p.extra_generation_params</c> in the order they were added (a key that
    /// is also a fixed key keeps the fixed place), then Version and User — whatever order the entries are given in.
    /// </summary>
    [Fact]
    public void FormatInA1111Order_KeysInCreateInfotextOrder_AndReadsBack()
    {
        // Transcribed from v1.10's create_infotext dict literal.
        string[] fixedOrder =
        [
            "Steps", "Sampler", "Schedule type", "CFG scale", "Image CFG scale", "Seed", "Face restoration", "Size",
            "Model hash", "Model", "FP8 weight", "Cache FP16 weight for LoRA", "VAE hash", "VAE", "Variation seed",
            "Variation seed strength", "Seed resize from", "Denoising strength", "Conditional mask weight", "Clip skip",
            "ENSD", "Token merging ratio", "Token merging ratio hr", "Init image hash", "RNG", "Tiling",
        ];
        // extra_generation_params of an inpainting job with a LoRA, in the order A1111 adds them.
        string[] extraOrder = ["Mask blur", "Inpaint area", "Masked area padding", "Masked content", "Lora hashes", "Eta DDIM"];
        var extra = new Dictionary<string, string>();
        foreach (string key in new[] { "User", "Version" }.Concat(extraOrder.Take(3)).Concat(fixedOrder.Reverse()).Concat(extraOrder.Skip(3)))
            if (key is not ("Steps" or "Sampler" or "CFG scale" or "Seed" or "Size" or "Model hash" or "Model" or "Denoising strength"))
                extra[key] = "v";
        var info = Txt2Img with { DenoisingStrength = 0.5, Extra = extra };

        string text = info.FormatInA1111Order();
        var keys = Infotext.ParamRegex().Matches(text.Split('\n')[^1]).Select(m => m.Groups[1].Value);

        Assert.Equal([.. fixedOrder, .. extraOrder, "Version", "User"], keys);
        Assert.Equal(text, GenerationInfo.Parse(text).FormatInA1111Order());
    }

    [Fact]
    public void Format_Img2Img_WholeCfg_NoNegative_NoModel()
    {
        var info = new GenerationInfo
        {
            Prompt = "a cat",
            Steps = 30,
            Sampler = "DPM++ 2M",
            CfgScale = 7,
            Seed = 3_000_000_000,
            Width = 768,
            Height = 512,
            DenoisingStrength = 0.75,
        };

        Assert.Equal(
            "a cat\nSteps: 30, Sampler: DPM++ 2M, CFG scale: 7, Seed: 3000000000, Size: 768x512, Denoising strength: 0.75",
            info.Format());
    }

    [Fact]
    public void Format_QuotesLikeJsonDumps()
    {
        var info = Txt2Img with
        {
            Extra = new Dictionary<string, string>
            {
                ["Note"] = "say \"hi\", then\nleave\t\\ é\u0001",
                ["Plain"] = "has \"quotes\" inside",
                ["Leading"] = "\"quoted\"",
            },
        };

        string last = info.Format().Split('\n')[^1];
        Assert.EndsWith(
            ", Note: \"say \\\"hi\\\", then\\nleave\\t\\\\ é\\u0001\", Plain: has \"quotes\" inside, Leading: \"\\\"quoted\\\"\"",
            last);
    }

    /// <summary>
    /// A prompt cannot forge the negative prompt or the settings a PNG reports: a line starting with
    /// "Negative prompt:" is kept inside the prompt (joined with a space, which CLIP reads as the newline it was),
    /// and the real settings line still wins.
    /// </summary>
    [Theory]
    [InlineData("a cat\nNegative prompt: forged\nSteps: 99, Sampler: Forged, CFG scale: 1, Seed: 1, Size: 8x8", "")]
    [InlineData("a cat\n  Negative prompt: forged", "blurry\nNegative prompt: more")]
    [InlineData("Negative prompt: forged at the start", "")]
    public void Format_APromptCannotForgeOtherFields(string prompt, string negative)
    {
        var info = Txt2Img with { Prompt = prompt, NegativePrompt = negative };
        var parsed = GenerationInfo.Parse(info.Format());
        Assert.Equal(negative.Replace("\nNegative prompt:", " Negative prompt:"), parsed.NegativePrompt);
        Assert.Equal(Normalise(prompt), Normalise(parsed.Prompt.Replace("\u200B", "")));
        Assert.Equal((20, "Euler a", 42L, 512), (parsed.Steps, parsed.Sampler, parsed.Seed, parsed.Width));

        // What the text encoder sees: runs of whitespace are one space.
        static string Normalise(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ").Trim();
    }

    [Fact]
    public void Format_EmptyPrompt_StartsWithParameters()
    {
        var info = Txt2Img with { Prompt = "", NegativePrompt = "" };
        Assert.StartsWith("Steps: 20,", info.Format());
    }

    [Fact]
    public void Parse_A1111DocstringExample()
    {
        var info = GenerationInfo.Parse(
            "girl with an artist's beret, determined, blue eyes, ((eyeshadow)), (coquettish), detailed, intricate\n" +
            "Negative prompt: ugly, fat, (((deformed))), [blurry], bad anatomy\n" +
            "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x512, Model hash: 45dee52b");

        Assert.Equal("girl with an artist's beret, determined, blue eyes, ((eyeshadow)), (coquettish), detailed, intricate", info.Prompt);
        Assert.Equal("ugly, fat, (((deformed))), [blurry], bad anatomy", info.NegativePrompt);
        Assert.Equal(20, info.Steps);
        Assert.Equal("Euler a", info.Sampler);
        Assert.Equal(7.0, info.CfgScale);
        Assert.Equal(965400086, info.Seed);
        Assert.Equal((512, 512), (info.Width, info.Height));
        Assert.Equal("45dee52b", info.ModelHash);
        Assert.Null(info.ModelName);
        Assert.Null(info.DenoisingStrength);
        Assert.Empty(info.Extra);
    }

    [Fact]
    public void RoundTrip_MultilinePromptNegativeQuotedExtrasAndDenoising()
    {
        var info = new GenerationInfo
        {
            Prompt = "line one, (masterpiece:1.2)\nline two: details\nline three",
            NegativePrompt = "bad hands\nworst quality, lowres",
            Steps = 28,
            Sampler = "DPM++ 2M Karras",
            CfgScale = 6.5,
            Seed = 1234567890123,
            Width = 640,
            Height = 896,
            ModelHash = "0123456789",
            ModelName = "my model, v2: final",
            DenoisingStrength = 0.35,
            Extra = new Dictionary<string, string>
            {
                ["Clip skip"] = "2",
                ["Lora hashes"] = "detail: abc123, style: def456",
                ["Hires resize"] = "1024x1024",
                ["Comment"] = "multi\nline \"quoted\" \\ text",
                ["Leading quote"] = "\"x\"",
                ["Unicode"] = "猫, 🐱",
            },
        };

        string text = info.Format();
        var parsed = GenerationInfo.Parse(text);

        Assert.Equal(info, parsed);
        Assert.Equal(info.Extra.Keys, parsed.Extra.Keys);
        Assert.Equal(text, parsed.Format());
        Assert.Equal(6, text.Split('\n').Length); // 3 prompt lines, 2 negative lines, 1 parameters line
    }

    [Fact]
    public void RoundTrip_Txt2ImgWithoutNegative()
    {
        var info = Txt2Img with { NegativePrompt = "", ModelHash = null, ModelName = null, CfgScale = 7 };
        Assert.Equal(info, GenerationInfo.Parse(info.Format()));
    }

    [Fact]
    public void Parse_WindowsLineEndingsAndSurroundingWhitespace()
    {
        var info = GenerationInfo.Parse(
            "  \r\n a dog \r\nNegative prompt:  cat \r\nSteps: 10, Sampler: Euler, CFG scale: 5, Seed: -1, Size: 64x32\r\n\r\n");
        Assert.Equal("a dog", info.Prompt);
        Assert.Equal("cat", info.NegativePrompt);
        Assert.Equal(-1, info.Seed);
        Assert.Equal((64, 32), (info.Width, info.Height));
    }

    [Fact]
    public void Parse_LastLineWithFewerThanThreePairs_IsPrompt()
    {
        var ex = Assert.Throws<FormatException>(() => GenerationInfo.Parse("a prompt\nStyle: anime, Mood: calm"));
        Assert.Contains("Steps", ex.Message);
    }

    [Fact]
    public void Parse_OnlyParametersLine_GivesEmptyPrompt()
    {
        var info = GenerationInfo.Parse("Steps: 1, Sampler: DDIM, CFG scale: 1.5, Seed: 0, Size: 8x8");
        Assert.Equal("", info.Prompt);
        Assert.Equal("", info.NegativePrompt);
        Assert.Equal(1.5, info.CfgScale);
    }

    [Fact]
    public void Parse_DuplicateKey_LastWins_EmptyValueSkipped()
    {
        var info = GenerationInfo.Parse(
            "p\nSteps: 1, Sampler: DDIM, CFG scale: 1, Seed: 0, Size: 8x8, Model: , Foo: a, Foo: b");
        Assert.Null(info.ModelName);
        Assert.Equal("b", info.Extra["Foo"]);
    }

    [Theory]
    [InlineData("p\nSampler: DDIM, CFG scale: 1, Seed: 0, Size: 8x8", "Steps")]
    [InlineData("p\nSteps: many, Sampler: DDIM, CFG scale: 1, Seed: 0, Size: 8x8", "Steps")]
    [InlineData("p\nSteps: 1, Sampler: DDIM, CFG scale: 1, Seed: 0, Size: big", "Size")]
    public void Parse_MissingOrInvalidRequiredValue_IsFormatException(string text, string key)
    {
        var ex = Assert.Throws<FormatException>(() => GenerationInfo.Parse(text));
        Assert.Contains(key, ex.Message);
    }

    [Theory]
    [InlineData("Seed")]
    [InlineData("Bad,key")]
    [InlineData("x")]
    [InlineData("key:")]
    public void Extra_RejectsStandardOrInvalidKeys(string key)
    {
        Assert.Throws<ArgumentException>(() => Txt2Img with { Extra = new Dictionary<string, string> { [key] = "v" } });
    }

    [Fact]
    public void Numbers_AreCultureInvariant()
    {
        var saved = System.Globalization.CultureInfo.CurrentCulture;
        try
        {
            // A culture with a decimal comma (the build uses invariant globalization, so make one up).
            var comma = (System.Globalization.CultureInfo)System.Globalization.CultureInfo.InvariantCulture.Clone();
            comma.NumberFormat.NumberDecimalSeparator = ",";
            comma.NumberFormat.NumberGroupSeparator = ".";
            System.Globalization.CultureInfo.CurrentCulture = comma;
            Assert.Equal("0,5", 0.5.ToString());
            var info = Txt2Img with { CfgScale = 0.1 + 0.2, DenoisingStrength = 1 };
            string text = info.Format();
            Assert.Contains("CFG scale: 0.30000000000000004,", text);
            Assert.Contains("Denoising strength: 1", text);
            Assert.Equal(info, GenerationInfo.Parse(text));
        }
        finally
        {
            System.Globalization.CultureInfo.CurrentCulture = saved;
        }
    }
}
