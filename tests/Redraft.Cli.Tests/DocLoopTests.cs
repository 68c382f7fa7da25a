using System.Diagnostics;
using Redraft.Diffusion.Tests;
using Redraft.Imaging;
using Redraft.Studio;

namespace Redraft.Cli.Tests;

/// <summary>
/// The seed article's loop end to end through the real <c>redraft doc</c> process on the tiny model, and a kill in
/// the middle of a generation.
/// </summary>
[Collection(CliModelCollection.Name)]
public sealed class DocLoopTests(CliModelFixture f)
{
    private string[] Model(int steps = 3) =>
        ["--model", f.Model, "--tokenizer", SharedData.ClipDir, "--threads", "1", "--steps", steps.ToString()];

    private static RedraftProcess.Result Ok(RedraftProcess.Result run)
    {
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Stderr}");
        return run;
    }

    private string Sketch(string name, int width, int height, (byte R, byte G, byte B) a, (byte R, byte G, byte B) b)
    {
        var path = f.NewPath(name);
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var c = (x - width / 2) * (x - width / 2) + (y - height / 2) * (y - height / 2) < width * height / 8 ? a : b;
                pixels[(y * width + x) * 3] = c.R;
                pixels[(y * width + x) * 3 + 1] = c.G;
                pixels[(y * width + x) * 3 + 2] = c.B;
            }
        ImageFiles.SavePng(path, new RgbImage(width, height, pixels));
        return path;
    }

    [SharedDataFact]
    public void TheWholeLoopIsRecordedRerunsByteForByteAndUndoesBackToTheSketch()
    {
        string doc = f.NewPath("loop");
        string sketch = Sketch("sketch.png", 64, 64, (200, 120, 40), (60, 140, 220));
        Ok(RedraftProcess.Run("doc", "new", doc, "--size", "64x64", "--from", sketch));
        string start = f.NewPath("start.png");
        Ok(RedraftProcess.Run("doc", "render", doc, "--out", start));

        var gen = Ok(RedraftProcess.Run(["doc", "generate", doc, "--prompt", "a cottage", "--strength", "0.8", "--variations", "4", "--seed", "10", .. Model()]));
        var candidates = gen.Stdout.Trim().Split('\n').Select(l => l.Split(' ', 2)[0]).ToList();
        Assert.Equal(4, candidates.Count);
        Ok(RedraftProcess.Run("doc", "pick", doc, candidates[2]));
        string element = Sketch("element.png", 24, 24, (250, 250, 250), (30, 30, 30));
        Ok(RedraftProcess.Run("doc", "add-layer", doc, element, "--x", "30", "--y", "30"));
        string mask = DocTestKit.Mask(f.NewPath("mask.png"), 64, 64, 30, 30, 54, 54);
        Ok(RedraftProcess.Run(["doc", "generate", doc, "--prompt", "a window", "--strength", "0.7", "--mask", mask, "--seed", "20", .. Model()]));
        var masked = RedraftProcess.Run(["doc", "generate", doc, "--prompt", "a window", "--strength", "0.7", "--region", "24,24,32,32", "--seed", "21", .. Model()]);
        Ok(masked);
        Ok(RedraftProcess.Run("doc", "pick", doc, masked.Stdout.Trim().Split(' ', 2)[0]));
        Ok(RedraftProcess.Run(["doc", "harmonize", doc, "--prompt", "a cottage", "--strength", "0.3", "--seed", "30", .. Model()]));
        string final = f.NewPath("final.png");
        Ok(RedraftProcess.Run("doc", "render", doc, "--out", final));
        Assert.NotEqual(ImageFiles.Load(start).Pixels, ImageFiles.Load(final).Pixels);

        // History: one row per operation, in order, with the generation parameters.
        using (var store = DocumentStore.Open(doc))
        {
            var history = store.History();
            Assert.Equal(["new", "generate", "pick", "add-layer", "generate", "generate", "pick", "harmonize"], history.Select(h => h.Kind));
            var generations = history.Where(h => h.Kind is "generate" or "harmonize").ToList();
            Assert.Equal([10L, 20L, 21L, 30L], generations.Select(h => h.Seed!.Value));
            Assert.Equal([0.8, 0.7, 0.7, 0.3], generations.Select(h => h.Strength!.Value));
            Assert.All(generations, h => Assert.NotEmpty(h.Outputs));
            Assert.Empty(store.Verify());
            // Every generation re-runs to the same bytes.
            foreach (var step in generations.Select(g => g.Id))
            {
                var rerun = RedraftProcess.Run("doc", "rerun", doc, step.ToString());
                Assert.True(rerun.ExitCode == 0 && rerun.Stdout.TrimEnd().EndsWith("identical"), $"step {step}: {rerun.Stdout} {rerun.Stderr}");
            }
            // Undo walks back to the sketch.
            for (int i = 0; i < history.Count - 1; i++) Ok(RedraftProcess.Run("doc", "undo", doc));
        }
        string back = f.NewPath("back.png");
        Ok(RedraftProcess.Run("doc", "render", doc, "--out", back));
        Assert.Equal(ImageFiles.Load(start).Pixels, ImageFiles.Load(back).Pixels);
        DocTestKit.AssertBadInput(RedraftProcess.Run("doc", "undo", doc), "nothing to undo");
    }

    [SharedDataFact]
    public void KillingAGenerationMidwayLeavesTheDocumentAsItWas()
    {
        string doc = f.NewPath("killed");
        Ok(RedraftProcess.Run("doc", "new", doc, "--size", "64x64", "--from", Sketch("k.png", 64, 64, (10, 200, 10), (200, 10, 10))));
        for (int attempt = 0; attempt < 3; attempt++)
        {
            string before = DocTestKit.Snapshot(doc);
            var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "redraft.dll"));
            foreach (var a in (string[])["doc", "generate", doc, "--prompt", "x", "--strength", "0.9", "--variations", "2", .. Model(steps: 40)])
                start.ArgumentList.Add(a);
            using var process = Process.Start(start)!;
            // Kill once sampling has visibly started (a progress line), at a different step each attempt.
            string? line;
            int wanted = 2 + attempt * 5;
            while ((line = process.StandardError.ReadLine()) is not null)
                if (line.Contains($"step {wanted}/")) break;
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Equal(before, DocTestKit.Snapshot(doc));
            using var store = DocumentStore.Open(doc);
            Assert.Empty(store.Verify());
            Assert.Single(store.History());
        }
    }
}
