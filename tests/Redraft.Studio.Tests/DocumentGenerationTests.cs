using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Pipelines;
using Redraft.Diffusion.Tests;
using Redraft.Imaging;
using Redraft.Studio.Generation;

namespace Redraft.Studio.Tests;

/// <summary>
/// Documents generate through the same service as the command line: every option works there too (LoRA, low
/// memory, previews), and regions run at the model's working size.
/// </summary>
public sealed class DocumentGenerationTests(TinyModelFixture f) : IClassFixture<TinyModelFixture>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private GenerationSettings Settings(long seed, int steps = 2) => new()
    {
        Prompt = "a red roof",
        Steps = steps,
        Seed = seed,
        Strength = 0.75,
        DType = "fp32",
        Model = f.Model,
        Tokenizer = SharedData.ClipDir,
        Threads = 1,
    };

    private DocumentStore NewDocument(string name, int size) =>
        DocumentStore.NewDocument(_dir.File(name), size, size, T.Random(size, size, 17, opaque: true), "sketch");

    /// <summary>
    /// Ctrl+C that arrives while the model loads or after the last decode, just before the commit, leaves the
    /// document and its history exactly as they were (the CLI then says "cancelled; nothing written").
    /// </summary>
    [SharedDataTheory]
    [InlineData(GenerationPhase.Loading)]
    [InlineData(GenerationPhase.Done)]
    public async Task CancellingWhileLoadingOrJustBeforeTheCommitRecordsNothing(GenerationPhase when)
    {
        using var store = NewDocument("cancel-" + when, 64);
        using var service = new GenerationService();
        using var generator = new DocumentGenerator(store, service);
        var before = (store.History().Count, store.Document);
        using var cts = new CancellationTokenSource();
        var phases = new List<GenerationPhase>();
        var progress = new InlineProgress(e =>
        {
            phases.Add(e.Phase);
            if (e.Phase == when) cts.Cancel();
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => generator.GenerateAsync(Settings(5), null, progress, cts.Token));
        Assert.Equal(before, (store.History().Count, store.Document));
        store.Refresh();
        Assert.Equal(before, (store.History().Count, store.Document));
        if (when == GenerationPhase.Loading) Assert.DoesNotContain(GenerationPhase.Sampling, phases);
    }

    private sealed class InlineProgress(Action<GenerationEvent> report) : IProgress<GenerationEvent>
    {
        public void Report(GenerationEvent value) => report(value);
    }

    [SharedDataFact]
    public async Task ARegionRunsAtTheModelsWorkingSizeAndChangesNothingOutsideItsBlurBand()
    {
        using var store = NewDocument("region", 512);
        using var generator = new DocumentGenerator(store, f.Service);
        var before = store.Render();
        var region = new Region(200, 180, 48, 48);
        var shapes = new List<long[]>();
        DiffusionPipeline.StepObserver.Value = step => shapes.Add(step.Latent.shape);
        StepResult result;
        try
        {
            result = await generator.GenerateAsync(Settings(3) with { MaskBlur = 4 }, new GenerateOptions { Region = region });
        }
        finally
        {
            DiffusionPipeline.StepObserver.Value = null;
        }
        Assert.NotEmpty(shapes);
        Assert.All(shapes, s => Assert.Equal([1L, 4, 64, 64], s));

        store.Pick(Assert.Single(result.Images).LayerId);
        var after = store.Render();
        int band = 3 * 4; // the blur kernel reaches 3σ
        int changed = 0;
        for (int y = 0; y < 512; y++)
            for (int x = 0; x < 512; x++)
            {
                bool near = x >= region.X - band && x < region.X + region.Width + band && y >= region.Y - band && y < region.Y + region.Height + band;
                if (!near) Assert.Equal(before.GetPixel(x, y), after.GetPixel(x, y));
                else if (before.GetPixel(x, y) != after.GetPixel(x, y)) changed++;
            }
        Assert.True(changed > region.Width * region.Height / 2, $"only {changed} pixels changed in the region");
        var recorded = System.Text.Json.Nodes.JsonNode.Parse(store.History()[^2].ParametersJson)!.AsObject();
        Assert.Equal("working", (string?)recorded["region_mode"]);
        Assert.Equal((512, 512), ((int)recorded["width"]!, (int)recorded["height"]!));
        Assert.True((await generator.RerunAsync(store.History()[^2].Id)).Identical);
    }

    [Fact]
    public void WorkingSizesKeepTheRegionsAspectAtTheModelsNativeSize()
    {
        var sd1 = new ModelDescription { Family = "sd1", UNet = Redraft.Diffusion.Networks.UNetConfig.StableDiffusion1, Vae = new(), Text = Redraft.Diffusion.Networks.TextEncoderConfig.ClipVitL14 };
        var sd2v = sd1 with { UNet = Redraft.Diffusion.Networks.UNetConfig.StableDiffusion2, Prediction = PredictionType.V };
        Assert.Equal((512, 512), DocumentGenerator.WorkingSize(new Region(0, 0, 48, 48), sd1));
        Assert.Equal((1024, 512), DocumentGenerator.WorkingSize(new Region(0, 0, 200, 100), sd1));
        Assert.Equal((512, 680), DocumentGenerator.WorkingSize(new Region(0, 0, 30, 40), sd1));
        Assert.Equal((768, 768), DocumentGenerator.WorkingSize(new Region(0, 0, 10, 10), sd2v));
        Assert.Equal((2048, 512), DocumentGenerator.WorkingSize(new Region(0, 0, 1000, 10), sd1));
    }

    [SharedDataFact]
    public async Task DocumentLoraCandidatesAreTheBytesOfAnImg2ImgWithTheSameLora()
    {
        var lora = _dir.File("style.safetensors");
        TestLora.Write(lora);
        var settings = Settings(8) with { Loras = [new LoraSpec(lora, 0.8)] };
        using var store = NewDocument("lora", 64);
        using var generator = new DocumentGenerator(store, f.Service);
        var composite = store.Render();
        var candidate = Assert.Single((await generator.GenerateAsync(settings)).Images);
        var direct = await f.Service.GenerateAsync(settings with { Width = 64, Height = 64 }, new GenerationInputs(composite));
        Assert.Equal(direct.Images[0].Png, File.ReadAllBytes(store.ImagePath(candidate.ImageHash)));
        var plain = Assert.Single((await generator.GenerateAsync(Settings(8))).Images);
        Assert.NotEqual(plain.ImageHash, candidate.ImageHash);
    }

    [SharedDataFact]
    public async Task LowMemoryDocumentStepsGiveIdenticalCandidates()
    {
        using var store = NewDocument("low", 64);
        using var generator = new DocumentGenerator(store, f.Service);
        var normal = await generator.GenerateAsync(Settings(9), new GenerateOptions { Variations = 2 });
        using var separate = new GenerationService();
        using var lowGenerator = new DocumentGenerator(store, separate);
        var low = await lowGenerator.GenerateAsync(Settings(9) with { LowMemory = true }, new GenerateOptions { Variations = 2 });
        Assert.Equal(normal.Images.Select(i => i.ImageHash), low.Images.Select(i => i.ImageHash));
    }

    [SharedDataFact]
    public async Task DocumentStepsEmitPreviewsEveryKSteps()
    {
        using var store = NewDocument("preview", 64);
        using var generator = new DocumentGenerator(store, f.Service);
        var previews = 0;
        var progress = new Collect(e => { if (e.Preview is not null) previews++; });
        // Strength 1: all 5 steps run, so ⌊5/2⌋ = 2 previews.
        await generator.GenerateAsync(Settings(10, steps: 5) with { Strength = 1, PreviewEvery = 2, Taesd = Path.Combine(SharedData.DataDir, "taesd") },
            null, progress);
        Assert.Equal(2, previews);
    }

    [SharedDataFact]
    public async Task AnInterruptedStepIsRecordedWithTheStepsThatRanAndASkippedOneIsNot()
    {
        using var store = NewDocument("stop", 64);
        using var generator = new DocumentGenerator(store, f.Service);
        int rows = store.History().Count;
        var control = new GenerationControl();
        var result = await generator.GenerateAsync(Settings(12, steps: 6) with { Strength = 1 }, null,
            new Collect(e => { if (e.Phase == GenerationPhase.Sampling && e.Step == 2) control.Interrupt(); }), default, control);
        Assert.Equal(rows + 1, store.History().Count);
        var recorded = System.Text.Json.Nodes.JsonNode.Parse(store.History()[^1].ParametersJson)!.AsObject();
        Assert.Equal(2, (int)recorded["steps_run"]!);
        Assert.Single(result.Images);

        var skip = new GenerationControl();
        var snapshot = T.Snapshot(store.Folder);
        await Assert.ThrowsAsync<StudioInputException>(() => generator.GenerateAsync(Settings(13, steps: 4) with { Strength = 1 }, null,
            new Collect(e => { if (e.Phase == GenerationPhase.Sampling && e.Step == 1) skip.Skip(); }), default, skip));
        Assert.Equal(rows + 1, store.History().Count);
        Assert.Equal(snapshot, T.Snapshot(store.Folder));
    }

    private sealed class Collect(Action<GenerationEvent> act) : IProgress<GenerationEvent>
    {
        public void Report(GenerationEvent value) => act(value);
    }
}

/// <summary>Edits made while a generation runs are kept: the generation's layers land on top of whatever is current.</summary>
public sealed class ConcurrentEditTests(TinyModelFixture f) : IClassFixture<TinyModelFixture>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [SharedDataFact]
    public async Task AnAddLayerCommittedWhileAGenerationRunsIsKeptBelowItsCandidates()
    {
        using var store = DocumentStore.NewDocument(_dir.File("doc"), 64, 64, T.Random(64, 64, 5, opaque: true), "sketch");
        using var generator = new DocumentGenerator(store, f.Service);
        string? added = null;
        var progress = new Collect(e =>
        {
            // On the generating thread, mid-sampling: another client's edit commits.
            if (e.Phase == Redraft.Diffusion.Pipelines.GenerationPhase.Sampling && e.Step == 1 && added is null)
                added = store.AddLayer(RgbaImage.Filled(8, 8, 0, 0, 255), new LayerOptions { X = 2, Y = 2, Name = "pasted meanwhile" }).Id;
        });
        var result = await generator.GenerateAsync(new GenerationSettings
        {
            Prompt = "a red roof", Steps = 3, Seed = 4, Strength = 1, DType = "fp32", Model = f.Model, Tokenizer = SharedData.ClipDir, Threads = 1,
        }, new GenerateOptions { Variations = 2 }, progress);

        Assert.NotNull(added);
        var ids = store.Document.Layers.Select(l => l.Id).ToList();
        Assert.Contains(added, ids);
        Assert.All(result.Images, i => Assert.True(ids.IndexOf(i.LayerId) > ids.IndexOf(added!), $"{i.LayerId} is not above {added}"));
        Assert.All(result.Images, i => Assert.Equal(LayerRole.Candidate, store.Document.GetLayer(i.LayerId).Role));
        Assert.All(result.Images, i => Assert.Equal(result.Entry.Id, store.Document.GetLayer(i.LayerId).Generation!.Step));
        Assert.Equal(["new", "add-layer", "generate"], store.History().Select(h => h.Kind));
        Assert.Empty(store.Verify());
        // The generation ran on the composite as it was when it started: a rerun is identical.
        Assert.True((await generator.RerunAsync(result.Entry.Id)).Identical);

        // A rendered composite says where its visible layers came from.
        store.Pick(result.Images[1].LayerId);
        string rendered = _dir.File("render.png");
        store.RenderToFile(rendered);
        var provenance = System.Text.Json.Nodes.JsonNode.Parse(ImageFiles.ReadPngText(rendered)["redraft"])!;
        Assert.Equal(store.DocumentId, (string?)provenance["document"]);
        Assert.Equal(store.StateId, (long)provenance["state"]!);
        var generation = Assert.Single(provenance["generations"]!.AsArray())!;
        Assert.Equal(result.Entry.Id, (long)generation["step"]!);
        Assert.Equal([result.Images[1].LayerId], generation["layers"]!.AsArray().Select(n => (string)n!));
        Assert.Equal("a red roof", (string?)generation["parameters"]!["prompt"]);
    }

    private sealed class Collect(Action<GenerationEvent> act) : IProgress<GenerationEvent>
    {
        public void Report(GenerationEvent value) => act(value);
    }
}
