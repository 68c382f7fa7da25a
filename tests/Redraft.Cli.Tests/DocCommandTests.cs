using Redraft.Diffusion.Tests;
using System.Security.Cryptography;
using Redraft.Imaging;
using Redraft.Studio;

namespace Redraft.Cli.Tests;

/// <summary>Helpers for <c>redraft doc</c> tests: drawing inputs, snapshots of a document folder, bad-input checks.</summary>
internal static class DocTestKit
{
    /// <summary>A 64×64 PNG of seeded random RGB pixels; returns its pixels.</summary>
    public static byte[] RandomPng(string path, int seed)
    {
        var pixels = new byte[64 * 64 * 3];
        new Random(seed).NextBytes(pixels);
        ImageFiles.SavePng(path, new RgbImage(64, 64, pixels));
        return pixels;
    }

    /// <summary>A rank-4 LoRA (kohya naming) on the tiny model's first attention projection (to_q, 32 → 32).</summary>
    public static string TinyLora(string path, ulong seed, float scale = 0.5f)
    {
        using var generator = new TorchSharp.torch.Generator(seed);
        var down = TorchSharp.torch.randn(new long[] { 4, 32 }, generator: generator) * scale;
        var up = TorchSharp.torch.randn(new long[] { 32, 4 }, generator: generator) * scale;
        Redraft.Diffusion.Checkpoints.LoraWriter.Write(path,
            [new Redraft.Diffusion.Checkpoints.LoraWeights("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight", down, up, 4)],
            Redraft.Diffusion.Checkpoints.LoraNaming.Kohya, unetResBlocks: 1);
        return path;
    }

    public static string Png(string path, int w, int h, byte r, byte g, byte b)
    {
        ImageFiles.SavePng(path, RgbImage.Filled(w, h, r, g, b));
        return path;
    }

    /// <summary>A white rectangle on black, of the given size (a mask: white = erase/keep).</summary>
    public static string Mask(string path, int w, int h, int x0, int y0, int x1, int y1)
    {
        var pixels = new byte[w * h * 3];
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++)
                pixels[(y * w + x) * 3] = pixels[(y * w + x) * 3 + 1] = pixels[(y * w + x) * 3 + 2] = 255;
        ImageFiles.SavePng(path, new RgbImage(w, h, pixels));
        return path;
    }

    /// <summary>Everything in the folder (names and contents), so a failed command can be shown to have changed nothing.</summary>
    public static string Snapshot(string folder)
    {
        var lines = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(p => !p.EndsWith("-wal", StringComparison.Ordinal) && !p.EndsWith("-shm", StringComparison.Ordinal) && !p.EndsWith(".db", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(p => Path.GetRelativePath(folder, p) + " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(p))));
        var history = RedraftProcess.Run("doc", "history", folder);
        return string.Join('\n', lines) + "\n" + history.ExitCode + "\n" + history.Stdout;
    }

    public static void AssertBadInput(RedraftProcess.Result run, string? contains = null)
    {
        Assert.True(run.ExitCode == 2, $"exit {run.ExitCode}; stderr: {run.Stderr}");
        var lines = run.Stderr.TrimEnd().Split('\n');
        Assert.True(lines.Length == 1, run.Stderr);
        Assert.StartsWith("redraft: ", lines[0]);
        Assert.DoesNotContain("internal error", lines[0]);
        if (contains is not null) Assert.Contains(contains, lines[0]);
    }

    public static RgbImage Render(string doc, string output)
    {
        var run = RedraftProcess.Run("doc", "render", doc, "--out", output);
        Assert.True(run.ExitCode == 0, run.Stderr);
        return ImageFiles.Load(output);
    }
}

/// <summary>Step 1: document, layer, erase, render, history and undo commands, through the real process.</summary>
public sealed class DocCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("redraft-doc-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string P(string name) => Path.Combine(_dir, name);

    private string NewDoc(string name = "doc")
    {
        string red = DocTestKit.Png(P(name + "-red.png"), 64, 64, 200, 20, 20);
        var run = RedraftProcess.Run("doc", "new", P(name), "--size", "64x64", "--from", red);
        Assert.True(run.ExitCode == 0, run.Stderr);
        return P(name);
    }

    [Fact]
    public void NewAddLayerAndRenderComposeTheLayers()
    {
        string doc = NewDoc();
        string blue = DocTestKit.Png(P("blue.png"), 16, 16, 0, 0, 255);
        var add = RedraftProcess.Run("doc", "add-layer", doc, blue, "--x", "8", "--y", "4", "--name", "sky");
        Assert.True(add.ExitCode == 0, add.Stderr);
        Assert.Equal("L2", add.Stdout.Trim());
        var half = RedraftProcess.Run("doc", "add-layer", doc, blue, "--x", "40", "--y", "40", "--opacity", "0.5", "--scale", "0.5");
        Assert.Equal("L3", half.Stdout.Trim());

        var image = DocTestKit.Render(doc, P("out.png"));
        Assert.Equal((64, 64), (image.Width, image.Height));
        Assert.Equal((200, 20, 20), image.GetPixel(0, 0));
        Assert.Equal((0, 0, 255), image.GetPixel(8, 4));
        Assert.Equal((0, 0, 255), image.GetPixel(23, 19));
        Assert.Equal((200, 20, 20), image.GetPixel(24, 19));
        // Half opacity over red: (200+0)/2, (20+0)/2, (20+255)/2, within rounding; scale 0.5 makes it 8x8.
        var (r, g, b) = image.GetPixel(41, 41);
        Assert.InRange(r, 99, 101);
        Assert.InRange(g, 9, 11);
        Assert.InRange(b, 137, 138);
        Assert.Equal((200, 20, 20), image.GetPixel(48, 48));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp*"));

        using var store = DocumentStore.Open(doc);
        Assert.Equal(["L1", "L2", "L3"], store.Document.Layers.Select(l => l.Id));
        Assert.Equal("sky", store.Document.GetLayer("L2").Name);
        Assert.Equal(0.5, store.Document.GetLayer("L3").Opacity);
    }

    [Fact]
    public void NewWithoutSizeTakesTheImageSizeAndWithoutAnythingIsRejected()
    {
        string img = DocTestKit.Png(P("img.png"), 40, 24, 1, 2, 3);
        Assert.Equal(0, RedraftProcess.Run("doc", "new", P("a"), "--from", img).ExitCode);
        using (var store = DocumentStore.Open(P("a")))
            Assert.Equal((40, 24), (store.Document.Width, store.Document.Height));
        var empty = RedraftProcess.Run("doc", "new", P("b"), "--size", "32x16");
        Assert.Equal(0, empty.ExitCode);
        Assert.Equal((255, 255, 255), DocTestKit.Render(P("b"), P("b.png")).GetPixel(3, 3));

        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "new", P("c")), "size");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "new", P("d"), "--size", "64by64"), "--size");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "new", P("e"), "--size", "0x64"), "out of range");
        Assert.False(Directory.Exists(P("c")) && Directory.EnumerateFileSystemEntries(P("c")).Any());
        string before = DocTestKit.Snapshot(P("a"));
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "new", P("a"), "--size", "8x8"), "not empty");
        Assert.Equal(before, DocTestKit.Snapshot(P("a")));
    }

    [Fact]
    public void EraseClearsTheMaskedPixelsAndUndoBringsThemBack()
    {
        string doc = NewDoc();
        RedraftProcess.Run("doc", "add-layer", doc, DocTestKit.Png(P("blue.png"), 32, 32, 0, 0, 255));
        string mask = DocTestKit.Mask(P("mask.png"), 64, 64, 0, 0, 16, 64);
        var erase = RedraftProcess.Run("doc", "erase", doc, "--layer", "L2", "--mask", mask);
        Assert.True(erase.ExitCode == 0, erase.Stderr);
        var after = DocTestKit.Render(doc, P("after.png"));
        Assert.Equal((200, 20, 20), after.GetPixel(5, 5));
        Assert.Equal((0, 0, 255), after.GetPixel(20, 5));

        var undo = RedraftProcess.Run("doc", "undo", doc);
        Assert.True(undo.ExitCode == 0, undo.Stderr);
        Assert.Contains("undo: now at state", undo.Stdout);
        Assert.Equal((0, 0, 255), DocTestKit.Render(doc, P("undone.png")).GetPixel(5, 5));
        RedraftProcess.Run("doc", "undo", doc);
        Assert.Equal((200, 20, 20), DocTestKit.Render(doc, P("first.png")).GetPixel(5, 5));
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "undo", doc), "nothing to undo");
    }

    [Fact]
    public void HistoryPrintsATableOfEveryStep()
    {
        string doc = NewDoc();
        RedraftProcess.Run("doc", "add-layer", doc, DocTestKit.Png(P("blue.png"), 8, 8, 0, 0, 255));
        RedraftProcess.Run("doc", "undo", doc);
        var history = RedraftProcess.Run("doc", "history", doc);
        Assert.True(history.ExitCode == 0, history.Stderr);
        var lines = history.Stdout.TrimEnd().Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Equal(["step", "time", "operation", "prompt", "seed", "strength", "sampler", "duration"],
            lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("1 ", lines[1]);
        Assert.Contains(" new ", lines[1]);
        Assert.Contains(" add-layer ", lines[2]);
        Assert.Contains(" undo ", lines[3]);
        Assert.Matches(@"^3\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+undo\s+\d+\.\d s$", lines[3]);
    }

    [Fact]
    public void BadInputsExitTwoWithOneLineAndChangeNothing()
    {
        string doc = NewDoc();
        RedraftProcess.Run("doc", "add-layer", doc, DocTestKit.Png(P("blue.png"), 16, 16, 0, 0, 255));
        string before = DocTestKit.Snapshot(doc);
        string canvasMask = DocTestKit.Mask(P("mask.png"), 64, 64, 0, 0, 8, 8);
        string smallMask = DocTestKit.Mask(P("small.png"), 32, 32, 0, 0, 8, 8);

        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "erase", doc, "--layer", "L9", "--mask", canvasMask), "no layer 'L9'");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "erase", doc, "--layer", "L2", "--mask", smallMask), "32x32");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "erase", doc, "--layer", "L2", "--mask", P("missing.png")));
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "add-layer", doc, P("blue.png"), "--mask", smallMask), "mask");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "add-layer", doc, P("blue.png"), "--x", "100"), "outside");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "add-layer", doc, P("blue.png"), "--opacity", "2"), "opacity");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "add-layer", doc, P("nope.png")));
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "render", doc, "--out", P("no-such-folder/out.png")), "does not exist");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "render", doc, "--out", P("out.jpg")), ".png");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "history", P("no-such-doc")), "no such document");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "pick", doc, "L2"), "not a hidden candidate");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "pick", doc, "L7"), "no layer 'L7'");
        Assert.Equal(before, DocTestKit.Snapshot(doc));
        Assert.False(File.Exists(P("out.jpg")));
    }

    [Fact]
    public void ACorruptDocumentJsonIsReportedInOneLineAndLeftAlone()
    {
        string doc = NewDoc();
        string json = Path.Combine(doc, DocumentStore.DocumentFileName);
        File.WriteAllText(json, "{ \"format\": \"redraft-document\", \"width\": 64, ");
        var bytes = File.ReadAllBytes(json);
        string blue = DocTestKit.Png(P("blue.png"), 16, 16, 0, 0, 255);
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "render", doc, "--out", P("out.png")), "document.json");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "add-layer", doc, blue), "document.json");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "history", doc), "document.json");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "undo", doc), "document.json");
        Assert.Equal(bytes, File.ReadAllBytes(json));
        Assert.False(File.Exists(P("out.png")));
    }
}

/// <summary>Documents shared by several processes, and <c>doc verify</c>'s diagnosis.</summary>
[Collection(CliModelCollection.Name)]
public sealed class DocSharingTests(CliModelFixture f)
{
    private string NewDoc()
    {
        string doc = f.NewPath("doc"), sketch = DocTestKit.Png(f.NewPath("sketch.png"), 64, 64, 90, 160, 220);
        Assert.Equal(0, RedraftProcess.Run("doc", "new", doc, "--from", sketch).ExitCode);
        return doc;
    }

    [SharedDataFact]
    public async Task TwoProcessesGeneratingTenTimesEachAreAllRecorded()
    {
        string doc = NewDoc();
        async Task<List<RedraftProcess.Result>> Loop(int client) => await Task.Run(() => Enumerable.Range(0, 10).Select(i => RedraftProcess.Run(
            "doc", "generate", doc, "--model", f.Model, "--tokenizer", SharedData.ClipDir, "--prompt", $"client {client} step {i}",
            "--steps", "2", "--strength", "0.5", "--seed", (client * 100 + i).ToString(), "--threads", "1")).ToList());
        var runs = (await Task.WhenAll(Loop(1), Loop(2))).SelectMany(r => r).ToList();
        Assert.All(runs, r => Assert.True(r.ExitCode == 0, r.Stderr));
        using var store = DocumentStore.Open(doc);
        Assert.Equal(20, store.History().Count(h => h.Kind == "generate"));
        Assert.Equal(20, store.Document.Layers.Count(l => l.Role == LayerRole.Candidate));
        Assert.Equal(20, store.Document.Layers.Select(l => l.Id).Distinct().Count() - 1);
        var verify = RedraftProcess.Run("doc", "verify", doc);
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        Assert.Equal("ok", verify.Stdout.Trim());
    }

    /// <summary>
    /// A history row whose recorded parameters were damaged (not JSON, or JSON but not an object) is a damaged
    /// document the user must restore, not a bug: every command that reads the row says so in one line (exit 2).
    /// </summary>
    [SharedDataTheory]
    [InlineData("not json")]
    [InlineData("[1, 2]")]
    public void DamagedRecordedParametersAreBadInputEverywhere(string damaged)
    {
        string doc = NewDoc();
        var generate = RedraftProcess.Run("doc", "generate", doc, "--model", f.Model, "--tokenizer", SharedData.ClipDir,
            "--prompt", "a harbour", "--steps", "2", "--seed", "7", "--threads", "1");
        Assert.True(generate.ExitCode == 0, generate.Stderr);
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(doc, "history.db")};Pooling=False"))
        {
            db.Open();
            using var update = db.CreateCommand();
            update.CommandText = "UPDATE operations SET parameters = $p WHERE kind = 'generate'";
            update.Parameters.AddWithValue("$p", damaged);
            Assert.Equal(1, update.ExecuteNonQuery());
        }
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "rerun", doc, "2"), "malformed value");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "history", doc), "malformed value");
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "render", doc, "--out", f.NewPath("r.png")), "malformed value");
        var verify = RedraftProcess.Run("doc", "verify", doc);
        Assert.Equal(2, verify.ExitCode);
        Assert.Contains("malformed value", verify.Stdout + verify.Stderr);
    }

    [Fact]
    public void VerifyNamesTheBrokenPart()
    {
        string Broken(Action<string> breakIt)
        {
            string doc = NewDoc();
            Assert.Equal(0, RedraftProcess.Run("doc", "add-layer", doc, DocTestKit.Png(f.NewPath("a.png"), 8, 8, 255, 0, 0)).ExitCode);
            Assert.Equal(0, RedraftProcess.Run("doc", "erase", doc, "--layer", "L2", "--mask", DocTestKit.Mask(f.NewPath("m.png"), 64, 64, 0, 0, 4, 4)).ExitCode);
            breakIt(doc);
            var run = RedraftProcess.Run("doc", "verify", doc);
            Assert.Equal(2, run.ExitCode);
            return run.Stdout;
        }
        // An image only an older state uses (L2 before the erase).
        string OlderImage(string doc)
        {
            using var store = DocumentStore.Open(doc);
            return store.ImagePath(store.GetState(2).GetLayer("L2").Image);
        }
        Assert.Contains("is missing (used by layer L2 of state 2)", Broken(doc => File.Delete(OlderImage(doc))));
        Assert.Contains("was altered", Broken(doc => File.AppendAllText(OlderImage(doc), "x")));
        Assert.Contains("history database", Broken(doc =>
        {
            string db = Path.Combine(doc, "history.db");
            var bytes = File.ReadAllBytes(db);
            File.WriteAllBytes(db, bytes[..(bytes.Length / 2)]);
        }));
        Assert.Contains("document.json: differs from state", Broken(doc =>
        {
            string json = Path.Combine(doc, "document.json");
            File.WriteAllText(json, File.ReadAllText(json).Replace("\"opacity\": 1", "\"opacity\": 0.5"));
        }));
    }
}
