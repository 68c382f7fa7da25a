using Redraft.Diffusion.Pipelines;
using Redraft.Diffusion.Tests;
using Redraft.Diffusion.Tools;
using Redraft.Studio.Generation;

namespace Redraft.Studio.Tests;

/// <summary>Writes the tiny random-weight model once for the generating tests of this assembly.</summary>
public sealed class TinyModelFixture : IDisposable
{
    private readonly TempDir _dir = new();

    public TinyModelFixture()
    {
        Model = _dir.File("tiny.safetensors");
        RandomCheckpointWriter.Write(ModelPreset.Tiny, 3, Model, CheckpointLayout.SingleFile);
    }

    public string Model { get; }

    /// <summary>One generation service for the whole class: the loop loads the model once, as a studio session would.</summary>
    public GenerationService Service { get; } = new();

    public void Dispose()
    {
        Service.Dispose();
        _dir.Dispose();
    }
}

/// <summary>
/// The seed article's loop through the library API on the tiny model: sketch → generate 4 variations at 0.8 →
/// pick → paste a second sketch → regenerate only that part (masked, 0.7) → harmonize at 0.3 → render; then the
/// history, byte-identical re-runs of every generation, and undo back to the sketch.
/// </summary>
public sealed class IterationLoopTests(TinyModelFixture f) : IClassFixture<TinyModelFixture>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private GenerationSettings Settings(string prompt, long seed) => new()
    {
        Prompt = prompt,
        Negative = "blurry",
        Steps = 3,
        Seed = seed,
        Model = f.Model,
        Tokenizer = SharedData.ClipDir,
        Threads = 1,
    };

    /// <summary>A crude sketch: a disc of one colour on another.</summary>
    private static RgbaImage Sketch(int width, int height, (byte R, byte G, byte B) disc, (byte R, byte G, byte B) ground)
    {
        var pixels = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var c = (x - width / 2) * (x - width / 2) + (y - height / 2) * (y - height / 2) < width * height / 8 ? disc : ground;
                int o = (y * width + x) * 4;
                (pixels[o], pixels[o + 1], pixels[o + 2], pixels[o + 3]) = (c.R, c.G, c.B, 255);
            }
        return new RgbaImage(width, height, pixels);
    }

    private sealed class Steps : IProgress<GenerationEvent>
    {
        private readonly List<GenerationEvent> _seen = [];
        public IReadOnlyList<GenerationEvent> Seen { get { lock (_seen) return [.. _seen]; } }
        public void Report(GenerationEvent value) { lock (_seen) _seen.Add(value); }
    }

    [SharedDataFact]
    public async Task TheWholeLoopIsRecordedRerunsByteForByteAndUndoesBackToTheSketch()
    {
        using var store = DocumentStore.NewDocument(_dir.File("loop"), 64, 64, Sketch(64, 64, (200, 120, 40), (60, 140, 220)), "sketch");
        using var generator = new DocumentGenerator(store, f.Service);
        var start = store.Render();

        // Variations of the whole composite at high strength; each is a hidden candidate until picked.
        var progress = new Steps();
        var variations = await generator.GenerateAsync(Settings("a cottage in a meadow", 10) with { Strength = 0.8 },
            new GenerateOptions { Variations = 4 }, progress);
        Assert.Equal([10L, 11L, 12L, 13L], variations.Images.Select(i => i.Seed));
        Assert.Equal(4, variations.Images.Select(i => i.ImageHash).Distinct().Count());
        Assert.All(variations.Images, i => Assert.True(store.Document.GetLayer(i.LayerId).Hidden));
        Assert.Equal(start.Pixels, store.Render().Pixels);
        // int(3 × 0.8) = 2 sampling steps were reported.
        Assert.Equal(2, progress.Seen.Where(p => p.Phase == GenerationPhase.Sampling).Max(p => p.Step));

        var picked = store.Pick(variations.Images[2].LayerId);
        Assert.True(picked.IsDrawn);
        var afterPick = store.Render();
        Assert.Equal(variations.Images[2].Image.Pixels, afterPick.Pixels);

        // Paste a second crude element on part of the canvas and regenerate only there.
        store.AddLayer(Sketch(24, 24, (250, 250, 250), (30, 30, 30)), new LayerOptions { X = 30, Y = 30, Name = "window sketch" });
        var withElement = store.Render();
        var mask = MaskImage.FromRegion(64, 64, new Region(30, 30, 24, 24));
        var inpainted = await generator.GenerateAsync(Settings("a window", 20) with { Strength = 0.7, MaskBlur = 2, InpaintPadding = 4 },
            new GenerateOptions { Mask = mask });
        store.Pick(Assert.Single(inpainted.Images).LayerId);
        var afterInpaint = store.Render();
        // Only the mask's padded box was regenerated: the rows and columns far from it are exactly as before.
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
                if (x < 20 || y < 20)
                    Assert.Equal(withElement.GetPixel(x, y), afterInpaint.GetPixel(x, y));
        Assert.NotEqual(withElement.Pixels, afterInpaint.Pixels);

        // A low-strength pass over everything becomes the new base; the older layers are hidden, not deleted.
        int layersBefore = store.Document.Layers.Count;
        var harmonized = await generator.HarmonizeAsync(Settings("a cottage in a meadow", 30), 0.3);
        Assert.Equal(layersBefore + 1, store.Document.Layers.Count);
        Assert.All(store.Document.Layers.SkipLast(1), l => Assert.True(l.Hidden));
        string final = _dir.File("final.png");
        store.RenderToFile(final);
        Assert.Equal(harmonized.Images[0].Image.Pixels, Redraft.Imaging.ImageFiles.Load(final).Pixels);
        Assert.NotEqual(start.Pixels, harmonized.Images[0].Image.Pixels);

        var history = store.History();
        Assert.Equal(["new", "generate", "pick", "add-layer", "generate", "pick", "harmonize"], history.Select(h => h.Kind));
        var generations = history.Where(h => h.Kind is "generate" or "harmonize").ToList();
        Assert.Equal([10L, 20L, 30L], generations.Select(h => h.Seed!.Value));
        Assert.Equal([0.8, 0.7, 0.3], generations.Select(h => h.Strength!.Value));
        Assert.Equal(["a cottage in a meadow", "a window", "a cottage in a meadow"], generations.Select(h => h.Prompt));
        Assert.All(generations, h => Assert.Equal("Euler a", h.Sampler));
        Assert.All(generations, h => Assert.Equal(variations.ModelHash, h.ModelHash));
        Assert.Equal([4, 1, 1], generations.Select(h => h.Outputs.Count));
        Assert.Empty(store.Verify());

        // Every generation runs again to the same bytes, from what the history recorded alone.
        foreach (var step in generations)
        {
            var rerun = await generator.RerunAsync(step.Id);
            Assert.True(rerun.Identical, $"step {step.Id} ({step.Kind}) differs on re-run");
            Assert.Equal(step.Outputs, rerun.Outputs.Select(o => o.Hash));
        }
        Assert.Equal(history.Count, store.History().Count);

        // Undo walks back, one operation at a time, to the sketch.
        for (int i = 0; i < history.Count - 1; i++) store.Undo();
        Assert.Equal(start.Pixels, store.Render().Pixels);
        Assert.Throws<StudioInputException>(() => store.Undo());
        Assert.Empty(store.Verify());
    }

    [SharedDataFact]
    public async Task RefusedRequestsChangeNothing()
    {
        string folder = _dir.File("refused");
        using (var store = DocumentStore.NewDocument(folder, 64, 64, Sketch(64, 64, (1, 2, 3), (4, 5, 6)), "sketch"))
        {
            using var generator = new DocumentGenerator(store, f.Service);
            var before = T.Snapshot(folder);
            await Assert.ThrowsAsync<ImageInputException>(() => generator.GenerateAsync(Settings("x", 1), new GenerateOptions { Region = new Region(40, 40, 32, 32) }));
            await Assert.ThrowsAsync<StudioInputException>(() => generator.GenerateAsync(Settings("x", 1), new GenerateOptions { Mask = MaskImage.Filled(32, 32, 255) }));
            await Assert.ThrowsAsync<StudioInputException>(() => generator.GenerateAsync(Settings("x", 1), new GenerateOptions { Variations = 0 }));
            var engine = await Assert.ThrowsAsync<RedraftInputException>(() =>
                generator.GenerateAsync(Settings("x", 1) with { Sampler = "Euler z" }));
            Assert.Contains("Euler a", engine.Message);
            await Assert.ThrowsAsync<RedraftInputException>(() => generator.GenerateAsync(Settings("x", 1) with { Strength = 1.5 }));
            await Assert.ThrowsAsync<StudioInputException>(() => generator.RerunAsync(1));
            await Assert.ThrowsAsync<StudioInputException>(() => generator.RerunAsync(99));
            using var cancelled = new CancellationTokenSource();
            cancelled.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => generator.GenerateAsync(Settings("x", 1), ct: cancelled.Token));
            Assert.Equal(before, T.Snapshot(folder));
        }
    }
}
