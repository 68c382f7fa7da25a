using Redraft.Diffusion.Tests;
using Redraft.Imaging;

namespace Redraft.Cli.Tests;

[Collection(CliModelCollection.Name)]
public sealed class GenerateCommandTests(CliModelFixture f)
{
    [SharedDataFact]
    public void MakeModelWritesACheckpointAndItsYaml()
    {
        Assert.Equal(0, f.MakeSingle.ExitCode);
        Assert.True(File.Exists(f.Model));
        Assert.Contains("model_channels: 32", File.ReadAllText(Path.ChangeExtension(f.Model, ".yaml")));
        Assert.Equal(0, f.MakeDiffusers.ExitCode);
        Assert.True(File.Exists(Path.Combine(f.DiffusersModel, "unet", "diffusion_pytorch_model.safetensors")));
    }

    [SharedDataFact]
    public void Txt2ImgIsByteIdenticalForTheSameCommandAndDiffersForAnotherSeed()
    {
        string a = f.NewPath("a.png"), b = f.NewPath("b.png"), c = f.NewPath("c.png");
        var first = RedraftProcess.Run(f.Generate("txt2img", a));
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Equal(a, first.Stdout.Trim());
        Assert.Contains("step 2/2", first.Stderr);
        Assert.Equal(0, RedraftProcess.Run(f.Generate("txt2img", b)).ExitCode);
        Assert.Equal(0, RedraftProcess.Run(f.Generate("txt2img", c, "--seed", "43")).ExitCode);

        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        Assert.NotEqual(ImageFiles.Load(a).Pixels, ImageFiles.Load(c).Pixels);
        var image = ImageFiles.Load(a);
        Assert.Equal((64, 64), (image.Width, image.Height));
    }

    [SharedDataFact]
    public void InfoPrintsTheParametersOfTxt2ImgAndImg2Img()
    {
        string t = f.NewPath("t.png"), i = f.NewPath("i.png"), sketch = f.NewPath("sketch.png");
        Assert.Equal(0, RedraftProcess.Run(f.Generate("txt2img", t, "--sampler", "DDIM", "--cfg", "6")).ExitCode);
        var info = RedraftProcess.Run("info", t);
        Assert.Equal(0, info.ExitCode);
        var lines = info.Stdout.TrimEnd().Split('\n');
        Assert.Equal("a lighthouse at dusk, (oil painting:1.2)", lines[0]);
        Assert.Equal("Negative prompt: blurry", lines[1]);
        Assert.StartsWith("Steps: 2, Sampler: DDIM, CFG scale: 6, Seed: 42, Size: 64x64, Model hash: ", lines[2]);
        Assert.Contains("Model: tiny", lines[2]);
        Assert.DoesNotContain("Denoising strength", info.Stdout);
        var parsed = GenerationInfo.Parse(info.Stdout);
        Assert.Equal(10, parsed.ModelHash!.Length);

        // A sketch of another size is resized to the requested size ("just resize").
        ImageFiles.SavePng(sketch, RgbImage.Filled(100, 80, 200, 60, 20));
        var run = RedraftProcess.Run(f.Generate("img2img", i, "--init", sketch, "--strength", "0.6", "--steps", "5"));
        Assert.True(run.ExitCode == 0, run.Stderr);
        var img = ImageFiles.Load(i);
        Assert.Equal((64, 64), (img.Width, img.Height));
        var parsedImg = GenerationInfo.Parse(RedraftProcess.Run("info", i).Stdout);
        Assert.Equal(0.6, parsedImg.DenoisingStrength);
        Assert.Equal("Euler a", parsedImg.Sampler);
        Assert.Equal(42, parsedImg.Seed);
        Assert.Equal(5, parsedImg.Steps);
    }

    [SharedDataFact]
    public void BatchWritesNumberedFilesWithConsecutiveSeeds()
    {
        string output = f.NewPath("batch.png");
        var run = RedraftProcess.Run(f.Generate("txt2img", output, "--batch", "2"));
        Assert.True(run.ExitCode == 0, run.Stderr);
        var stem = output[..^4];
        Assert.False(File.Exists(output));
        Assert.Equal(42, GenerationInfo.Parse(ImageFiles.ReadPngText(stem + "-0.png")["parameters"]).Seed);
        Assert.Equal(43, GenerationInfo.Parse(ImageFiles.ReadPngText(stem + "-1.png")["parameters"]).Seed);
    }

    [SharedDataFact]
    public void DiffusersFolderGivesTheSamePixelsAsTheSingleFile()
    {
        string single = f.NewPath("single.png"), folder = f.NewPath("folder.png");
        Assert.Equal(0, RedraftProcess.Run(f.Generate("txt2img", single)).ExitCode);
        var args = f.Generate("txt2img", folder);
        args[Array.IndexOf(args, "--model") + 1] = f.DiffusersModel;
        var run = RedraftProcess.Run(args);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal(ImageFiles.Load(single).Pixels, ImageFiles.Load(folder).Pixels);
    }

    [SharedDataFact]
    public void LowMemoryGivesTheSameBytesWithAndWithoutLoras()
    {
        string normal = f.NewPath("normal.png"), low = f.NewPath("low.png");
        Assert.Equal(0, RedraftProcess.Run(f.Generate("img2img", normal, "--init", Init(), "--strength", "0.6")).ExitCode);
        var run = RedraftProcess.Run(f.Generate("img2img", low, "--init", Init(), "--strength", "0.6", "--low-memory"));
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal(File.ReadAllBytes(normal), File.ReadAllBytes(low));

        // LoRAs work with --low-memory (merged into each network as it loads): the same bytes as without it.
        var lora = DocTestKit.TinyLora(f.NewPath("style.safetensors"), 9);
        string styled = f.NewPath("styled.png"), styledLow = f.NewPath("styled-low.png");
        Assert.Equal(0, RedraftProcess.Run(f.Generate("txt2img", styled, "--lora", lora + ":0.7")).ExitCode);
        var lowLora = RedraftProcess.Run(f.Generate("txt2img", styledLow, "--lora", lora + ":0.7", "--low-memory"));
        Assert.True(lowLora.ExitCode == 0, lowLora.Stderr);
        Assert.Equal(File.ReadAllBytes(styled), File.ReadAllBytes(styledLow));
        var missing = RedraftProcess.Run(f.Generate("txt2img", f.NewPath("x.png"), "--lora", f.NewPath("any.safetensors"), "--low-memory"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("LoRA file not found", missing.Stderr);
    }

    [SharedDataFact]
    public void Bf16VaeIsCloseToFp32AndRecordedAndUnknownPrecisionsAreRefused()
    {
        string fp32 = f.NewPath("vae-fp32.png"), bf16 = f.NewPath("vae-bf16.png");
        Assert.Equal(0, RedraftProcess.Run(f.Generate("img2img", fp32, "--init", Init(), "--strength", "0.6")).ExitCode);
        var run = RedraftProcess.Run(f.Generate("img2img", bf16, "--init", Init(), "--strength", "0.6", "--vae-dtype", "bf16"));
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("VAE bf16", run.Stderr);
        var a = ImageFiles.Load(fp32).Pixels;
        var b = ImageFiles.Load(bf16).Pixels;
        double mean = a.Zip(b, (p, q) => Math.Abs(p - q)).Average();
        // Measured here: 1.06 (encode and decode both in bf16, random weights).
        Assert.True(mean > 0 && mean < 2.0, $"mean |Δ| between the fp32 and bf16 VAE images: {mean}");
        Assert.Contains("VAE precision: bf16", RedraftProcess.Run("info", bf16).Stdout);
        Assert.DoesNotContain("VAE precision", RedraftProcess.Run("info", fp32).Stdout);

        string refused = f.NewPath("vae-fp8.png");
        var bad = RedraftProcess.Run(f.Generate("txt2img", refused, "--vae-dtype", "fp8"));
        Assert.Equal(2, bad.ExitCode);
        Assert.Single(bad.Stderr.TrimEnd().Split('\n'));
        Assert.Contains("auto, bf16, fp32", bad.Stderr);
        Assert.False(File.Exists(refused));
    }

    /// <summary>A 64×64 init image with a gradient and a disc.</summary>
    private string Init()
    {
        string path = f.NewPath("init.png");
        var pixels = new byte[64 * 64 * 3];
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
            {
                bool disc = (x - 30) * (x - 30) + (y - 34) * (y - 34) < 300;
                pixels[(y * 64 + x) * 3] = (byte)(disc ? 230 : x * 4);
                pixels[(y * 64 + x) * 3 + 1] = (byte)(disc ? 200 : 80);
                pixels[(y * 64 + x) * 3 + 2] = (byte)(disc ? 20 : y * 4);
            }
        ImageFiles.SavePng(path, new RgbImage(64, 64, pixels));
        return path;
    }

    [SharedDataFact]
    public void LoraOptionMergesAndIsRecorded()
    {
        // Rank-4 LoRA on one attention projection of the tiny model (to_q: 32 → 32).
        var lora = DocTestKit.TinyLora(f.NewPath("style.safetensors"), 5);
        string plain = f.NewPath("plain.png"), styled = f.NewPath("styled.png");
        Assert.Equal(0, RedraftProcess.Run(f.Generate("txt2img", plain, "--dtype", "fp32")).ExitCode);
        var run = RedraftProcess.Run(f.Generate("txt2img", styled, "--dtype", "fp32", "--lora", lora + ":0.8"));
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.NotEqual(ImageFiles.Load(plain).Pixels, ImageFiles.Load(styled).Pixels);
        Assert.Contains("Lora: ", ImageFiles.ReadPngText(styled)["parameters"]);
        Assert.Contains(":0.8", ImageFiles.ReadPngText(styled)["parameters"]);

        var bad = RedraftProcess.Run(f.Generate("txt2img", f.NewPath("bad.png"), "--lora", f.NewPath("missing.safetensors")));
        Assert.Equal(2, bad.ExitCode);
    }

    [SharedDataFact]
    public void Img2ImgWithAMaskInpaintsAndRecordsTheSettings()
    {
        string init = f.NewPath("init.png"), mask = f.NewPath("mask.png"), output = f.NewPath("inpainted.png");
        ImageFiles.SavePng(init, RgbImage.Filled(64, 64, 30, 120, 200));
        var maskPixels = new byte[32 * 32 * 3];
        for (int y = 8; y < 24; y++)
            for (int x = 8; x < 24; x++) maskPixels[(y * 32 + x) * 3] = maskPixels[(y * 32 + x) * 3 + 1] = maskPixels[(y * 32 + x) * 3 + 2] = 255;
        ImageFiles.SavePng(mask, new RgbImage(32, 32, maskPixels));
        var run = RedraftProcess.Run(f.Generate("img2img", output, "--init", init, "--strength", "0.8", "--mask", mask,
            "--inpaint-area", "masked", "--inpaint-padding", "4", "--mask-blur", "2"));
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("mask resized from 32x32 to 64x64", run.Stderr);
        var info = GenerationInfo.Parse(ImageFiles.ReadPngText(output)["parameters"]);
        Assert.Equal("2", info.Extra["Mask blur"]);
        Assert.Equal("Only masked", info.Extra["Inpaint area"]);
        // Far from the mask (16..48 after resizing, blur 2, padding 4) the pixels are the init's bytes.
        var result = ImageFiles.Load(output);
        Assert.Equal((30, 120, 200), (result.GetPixel(2, 2).R, result.GetPixel(2, 2).G, result.GetPixel(2, 2).B));
        Assert.Equal((30, 120, 200), (result.GetPixel(60, 60).R, result.GetPixel(60, 60).G, result.GetPixel(60, 60).B));

        var bad = RedraftProcess.Run(f.Generate("img2img", f.NewPath("x.png"), "--init", init, "--strength", "0.8", "--mask", mask, "--inpaint-area", "sideways"));
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("inpaint area", bad.Stderr);
    }

    [Fact]
    public void SamplersListsNamesAliasesAndSchedules()
    {
        var run = RedraftProcess.Run("samplers");
        Assert.Equal(0, run.ExitCode);
        var lines = run.Stdout.TrimEnd().Split('\n');
        Assert.Equal(Redraft.Diffusion.Sampling.SamplerRegistry.All.Count, lines.Length);
        Assert.Contains(lines, l => l.StartsWith("Euler a\t") && l.Contains("k_euler_a") && l.Contains("karras"));
        Assert.Contains(lines, l => l.StartsWith("DPM++ 2M Karras\t") && l.Contains("karras (default)"));
        Assert.Contains(lines, l => l.StartsWith("DDIM\t") && l.Contains("schedules: ddim (default)"));
        Assert.Contains(lines, l => l.StartsWith("UniPC\t") && l.Contains("schedules: time_uniform (default), normal, karras"));
    }

    [SharedDataFact]
    public void TokenizePrintsIdsAndTheChunkCount()
    {
        var run = RedraftProcess.Run("tokenize", "--tokenizer", SharedData.ClipDir, "a photo of a cat");
        Assert.Equal(0, run.ExitCode);
        var lines = run.Stdout.TrimEnd().Split('\n');
        Assert.Equal("49406 320 1125 539 320 2368 49407", lines[0]);
        Assert.StartsWith("5/75", lines[1]);
    }

    [Fact]
    public void InfoEscapesControlCharactersInsteadOfPrintingThem()
    {
        string path = f.NewPath("forged.png");
        ImageFiles.SavePng(path, RgbImage.Filled(8, 8, 1, 2, 3),
            new Dictionary<string, string> { ["parameters"] = "a cat\u001b[2J\rSteps: 99\nNegative prompt: dog\tx\nSteps: 20, Sampler: Euler, Seed: 1" });
        var run = RedraftProcess.Run("info", path);
        Assert.Equal(0, run.ExitCode);
        Assert.DoesNotContain('\u001b', run.Stdout);
        Assert.DoesNotContain('\r', run.Stdout);
        Assert.Contains("a cat\\u001b[2J\\u000dSteps: 99", run.Stdout);
        Assert.Contains("Negative prompt: dog\tx", run.Stdout);
    }

    [Theory]
    [InlineData("txt2imgg", "unknown command 'txt2imgg'; did you mean 'txt2img'?")]
    [InlineData("img2img --strenght 0.5", "unknown option '--strenght'; did you mean '--strength'?")]
    [InlineData("doc genrate d", "unknown command 'genrate'; did you mean 'generate'?")]
    public void MistypedCommandsAndOptionsSuggestTheClosestOne(string typed, string expected)
    {
        var run = RedraftProcess.Run(typed.Split(' '));
        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith("redraft: " + expected, run.Stderr.Trim());
        Assert.Single(run.Stderr.Trim().Split('\n'));
    }

    [SharedDataFact]
    public void WithoutOutImagesAreNumberedInTheHomeAndAnExistingOutIsReplacedOnlyWhenAsked()
    {
        string home = f.NewPath("home");
        var env = new Dictionary<string, string?> { ["REDRAFT_HOME"] = home };
        string[] Args(params string[] extra)
        {
            var all = f.Generate("txt2img", "unused.png", extra).ToList();
            int at = all.IndexOf("--out");
            all.RemoveRange(at, 2);
            return [.. all];
        }
        var first = RedraftProcess.Run(Args(), env);
        Assert.True(first.ExitCode == 0, first.Stderr);
        var second = RedraftProcess.Run(Args("--batch", "2"), env);
        Assert.True(second.ExitCode == 0, second.Stderr);
        string folder = Path.Combine(home, "outputs", "txt2img", DateTime.Now.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal([Path.Combine(folder, "00000-42.png")], first.Stdout.Trim().Split('\n'));
        Assert.Equal([Path.Combine(folder, "00001-42.png"), Path.Combine(folder, "00002-43.png")], second.Stdout.Trim().Split('\n'));
        Assert.Equal(ImageFiles.Load(Path.Combine(folder, "00000-42.png")).Pixels, ImageFiles.Load(Path.Combine(folder, "00001-42.png")).Pixels);

        string existing = f.NewPath("existing.png");
        File.WriteAllText(existing, "keep me");
        var refused = RedraftProcess.Run(f.Generate("txt2img", existing));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("exists; pass --overwrite", refused.Stderr);
        Assert.Equal("keep me", File.ReadAllText(existing));
        Assert.Equal(0, RedraftProcess.Run([.. f.Generate("txt2img", existing), "--overwrite"]).ExitCode);
        Assert.Equal(64, ImageFiles.Load(existing).Width);

        var tooLong = RedraftProcess.Run(f.Generate("txt2img", f.NewPath(new string('n', 240) + ".png")));
        Assert.Equal(2, tooLong.ExitCode);
        Assert.Contains("too long", tooLong.Stderr);
    }

    [SharedDataFact]
    public void SpecialFilesAreRefusedBeforeTheyAreOpened()
    {
        string dir = f.NewPath("special");
        Directory.CreateDirectory(dir);
        string fifo(string name)
        {
            string path = Path.Combine(dir, name);
            using var mkfifo = System.Diagnostics.Process.Start("mkfifo", path)!;
            mkfifo.WaitForExit();
            return path;
        }
        string output = Path.Combine(dir, "out.png"), init = Path.Combine(dir, "ok.png");
        DocTestKit.RandomPng(init, 1);
        var cases = new (string[] Args, string Expected)[]
        {
            (f.Generate("txt2img", output, "--model", fifo("model.safetensors")), "is a FIFO"),
            (f.Generate("txt2img", output, "--vae", fifo("vae.safetensors")), "is a FIFO"),
            (f.Generate("txt2img", output, "--lora", fifo("lora.safetensors")), "is a FIFO"),
            (f.Generate("txt2img", output, "--config", fifo("config.yaml")), "is a FIFO"),
            (f.Generate("txt2img", output, "--config", "/dev/zero"), "is a device"),
            (f.Generate("img2img", output, "--init", fifo("init.png")), "is a FIFO"),
            (f.Generate("img2img", output, "--init", "/dev/zero"), "is a device"),
            (f.Generate("img2img", output, "--init", init, "--mask", fifo("mask.png")), "is a FIFO"),
            (["info", fifo("info.png")], "is a FIFO"),
        };
        foreach (var (args, expected) in cases)
        {
            var run = RedraftProcess.Run(args, timeoutSeconds: 60);
            Assert.True(run.ExitCode == 2, $"{string.Join(' ', args)}: exit {run.ExitCode}: {run.Stderr}");
            Assert.Contains(expected, run.Stderr);
            Assert.Single(run.Stderr.Trim().Split('\n'));
            Assert.False(File.Exists(output));
        }
        // Links are followed: a link to a real checkpoint is a checkpoint.
        string link = Path.Combine(dir, "linked.safetensors");
        File.CreateSymbolicLink(link, f.Model);
        File.Copy(Path.ChangeExtension(f.Model, ".yaml"), Path.ChangeExtension(link, ".yaml"));
        Assert.Equal(0, RedraftProcess.Run(f.Generate("txt2img", output, "--model", link)).ExitCode);
    }

    [SharedDataFact]
    public void TooManyThreadsAreCappedWithANoteAndAMissingModelSaysHowToGetOne()
    {
        string output = f.NewPath("threads.png");
        var run = RedraftProcess.Run(f.Generate("txt2img", output, "--threads", "512"));
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains($"note: --threads 512 is more than this machine's {Environment.ProcessorCount} cores", run.Stderr);
        Assert.Contains($"{Environment.ProcessorCount} threads", run.Stderr);

        var missing = RedraftProcess.Run(f.Generate("txt2img", f.NewPath("x.png"), "--model", f.NewPath("nowhere.safetensors")));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("redraft make-model --preset tiny", missing.Stderr);
        Assert.Single(missing.Stderr.Trim().Split('\n'));
    }
}
