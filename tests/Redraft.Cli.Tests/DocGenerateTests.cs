using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;
using Redraft.Imaging;
using Redraft.Studio;

namespace Redraft.Cli.Tests;

/// <summary>Steps 2–5: doc generate (whole canvas, region, variations, sheet), pick, harmonize and rerun on the tiny model.</summary>
[Collection(CliModelCollection.Name)]
public sealed class DocGenerateTests(CliModelFixture f)
{
    /// <summary>A 64×64 document from a two-colour sketch.</summary>
    private string NewDoc()
    {
        string sketch = f.NewPath("sketch.png");
        var pixels = new byte[64 * 64 * 3];
        for (int i = 0; i < 64 * 64; i++)
        {
            bool top = i / 64 < 32;
            pixels[i * 3] = top ? (byte)40 : (byte)220;
            pixels[i * 3 + 1] = top ? (byte)90 : (byte)180;
            pixels[i * 3 + 2] = top ? (byte)230 : (byte)60;
        }
        ImageFiles.SavePng(sketch, new RgbImage(64, 64, pixels));
        string doc = f.NewPath("doc");
        var run = RedraftProcess.Run("doc", "new", doc, "--size", "64x64", "--from", sketch);
        Assert.True(run.ExitCode == 0, run.Stderr);
        return doc;
    }

    /// <summary>Options in <paramref name="extra"/> (pairs) replace the defaults of the same name.</summary>
    private string[] Gen(string command, string doc, params string[] extra)
    {
        var args = new List<string>
        {
            "doc", command, doc, "--model", f.Model, "--prompt", "a lighthouse at dusk", "--negative", "blurry",
            "--steps", "3", "--seed", "42", "--threads", "1", "--tokenizer", SharedData.ClipDir,
        };
        for (int i = 0; i + 1 < extra.Length; i += 2)
        {
            int at = args.IndexOf(extra[i]);
            if (at >= 0) args[at + 1] = extra[i + 1];
            else args.AddRange([extra[i], extra[i + 1]]);
        }
        if (extra.Length % 2 == 1) args.Add(extra[^1]);
        return args.ToArray();
    }

    private static RedraftProcess.Result Ok(RedraftProcess.Result run)
    {
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
        return run;
    }

    /// <summary>Harmonize runs one picture over the whole canvas: its help mentions no region, mask, batch or "image i".</summary>
    [Fact]
    public void HarmonizeHelpDescribesOnlyWhatHarmonizeTakes()
    {
        var help = RedraftProcess.Run("doc", "harmonize", "--help");
        Assert.Equal(0, help.ExitCode);
        foreach (var word in new[] { "region", "mask", "--batch", "--variations", "image i" })
            Assert.DoesNotContain(word, help.Stdout, StringComparison.OrdinalIgnoreCase);
        Assert.Matches(@"--strength <strength>\s+.*\[default: 0\.3\]", help.Stdout);
        Assert.Contains("the canvas's, rounded to 8", help.Stdout);
    }

    [SharedDataFact]
    public void GenerateMakesHiddenCandidatesWithConsecutiveSeedsAndRecordsEverything()
    {
        string doc = NewDoc();
        var before = DocTestKit.Render(doc, f.NewPath("before.png"));
        string sheet = f.NewPath("sheet.png");
        var run = Ok(RedraftProcess.Run(Gen("generate", doc, "--strength", "0.8", "--variations", "3", "--sheet", sheet)));
        Assert.Equal(["L2  candidate 42", "L3  candidate 43", "L4  candidate 44"], run.Stdout.TrimEnd().Split('\n'));

        // Candidates are hidden: the composite is unchanged.
        Assert.Equal(before.Pixels, DocTestKit.Render(doc, f.NewPath("after.png")).Pixels);

        using var store = DocumentStore.Open(doc);
        var candidates = store.Document.Layers.Skip(1).ToList();
        Assert.Equal(3, candidates.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(candidates[i].Hidden);
            Assert.Equal($"candidate {42 + i}", candidates[i].Name);
            Assert.Equal((0, 0), (candidates[i].X, candidates[i].Y));
            var text = ImageFiles.ReadPngText(store.ImagePath(candidates[i].Image));
            var info = GenerationInfo.Parse(text["parameters"]);
            Assert.Equal(42 + i, info.Seed);
            Assert.Equal(0.8, info.DenoisingStrength);
            Assert.Equal("a lighthouse at dusk", info.Prompt);
            Assert.Equal((64, 64), (store.GetImage(candidates[i].Image).Width, store.GetImage(candidates[i].Image).Height));
        }
        Assert.NotEqual(store.GetImage(candidates[0].Image).Pixels, store.GetImage(candidates[1].Image).Pixels);

        var row = store.History()[^1];
        Assert.Equal("generate", row.Kind);
        Assert.Equal(42, row.Seed);
        Assert.Equal(0.8, row.Strength);
        Assert.Equal("Euler a", row.Sampler);
        Assert.Equal("a lighthouse at dusk", row.Prompt);
        Assert.Equal(10, row.ModelHash!.Length);
        Assert.Equal(candidates.Select(c => c.Image), row.Outputs);
        var p = JsonNode.Parse(row.ParametersJson)!.AsObject();
        Assert.Equal("blurry", (string?)p["negative"]);
        Assert.Equal(3, (int)p["steps"]!);
        Assert.Equal(3, (int)p["variations"]!);
        Assert.Equal("0,0,64,64", (string?)p["region"]);
        Assert.Equal(Path.GetFullPath(f.Model), (string?)p["model"]);
        Assert.Equal(row.ModelHash, (string?)p["model_hash"]);
        Assert.Equal(row.Inputs.Single(), (string?)p["input"]);
        // The input is the composite as it was.
        Assert.Equal(before.Pixels, store.GetImage(row.Inputs[0]).ToRgb().Pixels);

        // The history table shows the generation.
        var history = Ok(RedraftProcess.Run("doc", "history", doc)).Stdout.TrimEnd().Split('\n');
        Assert.Matches(@"^2\s+\S+ \S+\s+generate\s+a lighthouse at dusk\s+42\s+0\.8\s+Euler a\s+\d+\.\d s$", history[^1]);

        // Contact sheet: bigger than one cell, with dark label pixels under the first image.
        var s = ImageFiles.Load(sheet);
        Assert.True(s.Width > 2 * 64 && s.Height > 2 * 64, $"{s.Width}x{s.Height}");
        bool dark = false;
        for (int y = 8 + 64; y < 8 + 64 + 12; y++)
            for (int x = 8; x < 8 + 64; x++)
                dark |= s.GetPixel(x, y).R < 100;
        Assert.True(dark, "no label drawn under the first variation");
    }

    [SharedDataFact]
    public void NativeRegionGenerateCropsResizesAndPlacesTheCandidateAtTheRegion()
    {
        string doc = NewDoc();
        // With --region-native, 30x34 works at 32x32 (rounded to 8) and comes back at 30x34.
        var run = Ok(RedraftProcess.Run(Gen("generate", doc, "--strength", "0.7", "--region", "10,12,30,34", "--region-native")));
        Assert.Equal("L2  candidate 42", run.Stdout.Trim());
        using var store = DocumentStore.Open(doc);
        var layer = store.Document.GetLayer("L2");
        Assert.Equal((10, 12), (layer.X, layer.Y));
        Assert.True(layer.Hidden);
        var image = store.GetImage(layer.Image);
        Assert.Equal((30, 34), (image.Width, image.Height));
        var p = JsonNode.Parse(store.History()[^1].ParametersJson)!.AsObject();
        Assert.Equal((32, 32), ((int)p["width"]!, (int)p["height"]!));
        Assert.Equal("10,12,30,34", (string?)p["region"]);
        var info = GenerationInfo.Parse(ImageFiles.ReadPngText(store.ImagePath(layer.Image))["parameters"]);
        Assert.Equal((32, 32), (info.Width, info.Height));

        // Picking it draws it at the region only.
        var before = DocTestKit.Render(doc, f.NewPath("before.png"));
        Ok(RedraftProcess.Run("doc", "pick", doc, "L2"));
        var after = DocTestKit.Render(doc, f.NewPath("after.png"));
        Assert.Equal(before.GetPixel(5, 5), after.GetPixel(5, 5));
        Assert.Equal(before.GetPixel(50, 50), after.GetPixel(50, 50));
        var (r, g, b, _) = image.GetPixel(0, 0);
        Assert.Equal((r, g, b), after.GetPixel(10, 12));

        // A 20x20 region works at 24x24: a latent of odd size (3x3) through the UNet.
        Assert.Equal("L3  candidate 42", Ok(RedraftProcess.Run(Gen("generate", doc, "--region", "4,4,20,20", "--region-native"))).Stdout.Trim());
    }

    [SharedDataFact]
    public void PickShowsOneCandidateAndHarmonizeHidesTheOldLayersWithoutDeletingThem()
    {
        string doc = NewDoc();
        Ok(RedraftProcess.Run(Gen("generate", doc, "--strength", "0.8", "--variations", "2")));
        Assert.Equal("L3", Ok(RedraftProcess.Run("doc", "pick", doc, "L3")).Stdout.Trim());
        using (var store = DocumentStore.Open(doc))
        {
            Assert.False(store.Document.GetLayer("L3").Hidden);
            Assert.True(store.Document.GetLayer("L3").IsDrawn);
            Assert.True(store.Document.GetLayer("L2").Hidden);
            var picked = store.GetImage(store.Document.GetLayer("L3").Image).ToRgb();
            Assert.Equal(picked.Pixels, DocTestKit.Render(doc, f.NewPath("picked.png")).Pixels);
            Assert.Equal("pick", store.History()[^1].Kind);
        }
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "pick", doc, "L3"), "not a hidden candidate");

        var harmonize = Ok(RedraftProcess.Run(Gen("harmonize", doc, "--strength", "0.3", "--seed", "7")));
        Assert.Equal("L4", harmonize.Stdout.Trim());
        using (var store = DocumentStore.Open(doc))
        {
            var layers = store.Document.Layers;
            Assert.Equal(["L1", "L2", "L3", "L4"], layers.Select(l => l.Id));
            Assert.All(layers.Take(3), l => Assert.True(l.Hidden));
            Assert.True(layers[3].IsDrawn);
            var row = store.History()[^1];
            Assert.Equal("harmonize", row.Kind);
            Assert.Equal(0.3, row.Strength);
            Assert.Equal(7, row.Seed);
            Assert.Equal(store.GetImage(layers[3].Image).ToRgb().Pixels, DocTestKit.Render(doc, f.NewPath("h.png")).Pixels);
        }

        // Undo walks back: harmonize, pick, generate.
        Ok(RedraftProcess.Run("doc", "undo", doc));
        using (var store = DocumentStore.Open(doc))
        {
            Assert.Equal(3, store.Document.Layers.Count);
            Assert.False(store.Document.GetLayer("L3").Hidden);
            Assert.False(store.Document.GetLayer("L1").Hidden);
        }
    }

    [SharedDataFact]
    public void MaskedGenerateRegeneratesOnlyTheMaskBoxAndRerunsByteForByte()
    {
        string doc = NewDoc();
        string before = f.NewPath("before.png"), after = f.NewPath("after.png");
        Ok(RedraftProcess.Run("doc", "render", doc, "--out", before));
        string mask = DocTestKit.Mask(f.NewPath("mask.png"), 64, 64, 24, 24, 36, 36);
        var run = Ok(RedraftProcess.Run(Gen("generate", doc, "--strength", "0.9", "--mask", mask, "--mask-blur", "1", "--inpaint-padding", "2")));
        string candidate = run.Stdout.Trim().Split(' ', 2)[0];
        Ok(RedraftProcess.Run("doc", "pick", doc, candidate));
        Ok(RedraftProcess.Run("doc", "render", doc, "--out", after));
        var a = ImageFiles.Load(before);
        var b = ImageFiles.Load(after);
        // Blur reach 3 px + padding 2 around [24, 36): everything outside [19, 41) keeps its bytes.
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
                if (x < 19 || x >= 41 || y < 19 || y >= 41)
                    Assert.Equal(a.GetPixel(x, y), b.GetPixel(x, y));
        Assert.NotEqual(a.GetPixel(30, 30), b.GetPixel(30, 30));
        var rerun = RedraftProcess.Run("doc", "rerun", doc, "2");
        Assert.True(rerun.ExitCode == 0, rerun.Stdout + rerun.Stderr);
        Assert.Equal("identical", rerun.Stdout.TrimEnd().Split('\n')[^1]);
    }

    [SharedDataFact]
    public void RerunReproducesGenerateAndHarmonizeByteForByte()
    {
        string doc = NewDoc();
        Ok(RedraftProcess.Run(Gen("generate", doc, "--strength", "0.8", "--variations", "2", "--sampler", "Euler")));
        Ok(RedraftProcess.Run(Gen("generate", doc, "--strength", "0.7", "--region", "16,16,32,32", "--seed", "-1")));
        Ok(RedraftProcess.Run("doc", "pick", doc, "L4"));
        Ok(RedraftProcess.Run(Gen("harmonize", doc, "--strength", "0.3")));

        foreach (var step in new[] { "2", "3", "5" })
        {
            var rerun = RedraftProcess.Run("doc", "rerun", doc, step);
            Assert.True(rerun.ExitCode == 0, $"step {step}: {rerun.Stdout} {rerun.Stderr}");
            Assert.Equal("identical", rerun.Stdout.TrimEnd().Split('\n')[^1]);
        }
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "rerun", doc, "1"), "only generate and harmonize");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "rerun", doc, "99"), "no step 99");

        // Another model (other weights) gives other bytes: exit 1 and "differs".
        string other = f.NewPath("other.safetensors");
        Ok(RedraftProcess.Run("make-model", "--preset", "tiny", "--seed", "4", "--out", other));
        var differs = RedraftProcess.Run("doc", "rerun", doc, "5", "--model", other);
        Assert.Equal(1, differs.ExitCode);
        Assert.Equal("differs", differs.Stdout.TrimEnd().Split('\n')[^1]);
        Assert.Contains("model hash", differs.Stderr);
    }

    [Fact]
    public void GenerateRejectsBadInputsBeforeLoadingTheModelAndChangesNothing()
    {
        string doc = NewDoc();
        string before = DocTestKit.Snapshot(doc);
        string mask = DocTestKit.Mask(f.NewPath("mask.png"), 32, 32, 0, 0, 8, 8);
        string[] Bad(params string[] extra) =>
            ["doc", "generate", doc, "--model", f.NewPath("no-model.safetensors"), "--prompt", "x", "--steps", "2", .. extra];
        DocTestKit.AssertBadInput(RedraftProcess.Run(Bad("--mask", mask)), "the mask is 32x32 but the canvas is 64x64");
        DocTestKit.AssertBadInput(RedraftProcess.Run(Bad("--region", "40,40,32,32")), "outside");
        DocTestKit.AssertBadInput(RedraftProcess.Run(Bad("--region", "1,2,3")), "x,y,width,height");
        DocTestKit.AssertBadInput(RedraftProcess.Run(Bad("--variations", "0")), "--variations");
        DocTestKit.AssertBadInput(RedraftProcess.Run(Bad("--strength", "1.5")), "strength");
        DocTestKit.AssertBadInput(RedraftProcess.Run(Bad("--width", "60")), "8");
        DocTestKit.AssertBadInput(RedraftProcess.Run(Bad("--sheet", f.NewPath("no-dir/sheet.png"))), "does not exist");
        DocTestKit.AssertBadInput(RedraftProcess.Run(Bad()), "no-model");
        DocTestKit.AssertBadInput(RedraftProcess.Run(
            ["doc", "harmonize", doc, "--model", f.Model, "--prompt", "x", "--strength", "-0.1"]), "strength");
        Assert.Equal(before, DocTestKit.Snapshot(doc));
    }
}

/// <summary>A mask file means the same on the command line's img2img and in a document.</summary>
[Collection(CliModelCollection.Name)]
public sealed class MaskPathTests(CliModelFixture f)
{
    [SharedDataFact]
    public void Img2ImgAndDocGenerateGiveTheSamePixelsForOneTransparentMask()
    {
        string init = f.NewPath("init.png"), mask = f.NewPath("mask.png"), output = f.NewPath("out.png"), doc = f.NewPath("doc");
        var pixels = DocTestKit.RandomPng(init, 4);
        // Paint on a transparent background: the alpha says where (the old img2img rule flattened it onto white,
        // which regenerated everything).
        var paint = new byte[64 * 64 * 4];
        for (int y = 20; y < 36; y++)
            for (int x = 24; x < 40; x++) paint[(y * 64 + x) * 4 + 3] = 255;
        ImageFiles.SavePng(mask, new RgbaImage(64, 64, paint));
        string[] common = ["--model", f.Model, "--prompt", "a window", "--steps", "3", "--seed", "5", "--threads", "1",
            "--tokenizer", SharedData.ClipDir, "--strength", "0.8", "--mask", mask, "--inpaint-padding", "32"];

        var img2img = RedraftProcess.Run(["img2img", "--init", init, "--out", output, "--width", "64", "--height", "64", "--inpaint-area", "masked", .. common]);
        Assert.True(img2img.ExitCode == 0, img2img.Stderr);
        Assert.Equal(0, RedraftProcess.Run("doc", "new", doc, "--from", init).ExitCode);
        var generate = RedraftProcess.Run(["doc", "generate", doc, .. common]);
        Assert.True(generate.ExitCode == 0, generate.Stderr);
        Assert.Equal(0, RedraftProcess.Run("doc", "pick", doc, "L2").ExitCode);
        var rendered = DocTestKit.Render(doc, f.NewPath("render.png"));

        var direct = ImageFiles.Load(output);
        Assert.Equal(direct.Pixels, rendered.Pixels);
        Assert.NotEqual(pixels, direct.Pixels);
        // Far from the painted square (and its blur band) the init's bytes are untouched.
        Assert.Equal(new RgbImage(64, 64, pixels).GetPixel(2, 60), direct.GetPixel(2, 60));
    }
}

/// <summary>Every generation option works in documents, with the bytes the same option gives img2img.</summary>
[Collection(CliModelCollection.Name)]
public sealed class DocGenerateOptionTests(CliModelFixture f)
{
    [SharedDataFact]
    public void LoraLowMemoryAndPreviewsWorkInDocumentsAsInImg2Img()
    {
        string init = f.NewPath("init.png"), lora = DocTestKit.TinyLora(f.NewPath("style.safetensors"), 2), doc = f.NewPath("doc"), direct = f.NewPath("direct.png");
        DocTestKit.RandomPng(init, 8);
        string[] common = ["--model", f.Model, "--prompt", "a red roof", "--steps", "4", "--seed", "3", "--threads", "1",
            "--tokenizer", SharedData.ClipDir, "--strength", "0.7"];
        static RedraftProcess.Result Ok(RedraftProcess.Result run)
        {
            Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
            return run;
        }
        Ok(RedraftProcess.Run(["img2img", "--init", init, "--out", direct, "--width", "64", "--height", "64", "--lora", lora + ":0.8", .. common]));
        Ok(RedraftProcess.Run("doc", "new", doc, "--from", init));
        Ok(RedraftProcess.Run(["doc", "generate", doc, "--lora", lora + ":0.8", .. common]));
        Ok(RedraftProcess.Run(["doc", "generate", doc, .. common]));
        string preview = f.NewPath("preview.png");
        Ok(RedraftProcess.Run(["doc", "generate", doc, "--low-memory", "--preview", preview, "--preview-every", "2",
            "--taesd", Path.Combine(SharedData.DataDir, "taesd"), .. common]));

        using var store = DocumentStore.Open(doc);
        var candidates = store.Document.Layers.Skip(1).ToList();
        Assert.Equal(3, candidates.Count);
        Assert.Equal(File.ReadAllBytes(direct), File.ReadAllBytes(store.ImagePath(candidates[0].Image)));
        Assert.NotEqual(candidates[0].Image, candidates[1].Image);
        Assert.Equal(candidates[1].Image, candidates[2].Image); // --low-memory: the same bytes
        Assert.Equal((64, 64), (ImageFiles.Load(preview).Width, ImageFiles.Load(preview).Height));
        var recorded = JsonNode.Parse(store.History()[1].ParametersJson)!.AsObject();
        Assert.EndsWith("style.safetensors:0.8", (string)recorded["loras"]![0]!);
    }
}
