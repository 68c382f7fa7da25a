using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;
using Redraft.Imaging;
using Redraft.Studio.Generation;

namespace Redraft.Studio.Tests;

/// <summary>
/// A document step planned, generated elsewhere (as a server's queue or a worker will) and committed: the same record
/// as <see cref="DocumentGenerator.GenerateAsync"/>, committed once per operation id, and edits made meanwhile kept.
/// </summary>
public sealed class DocumentStepPlanTests(TinyModelFixture f) : IClassFixture<TinyModelFixture>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private GenerationSettings Settings(long seed) => new()
    {
        Prompt = "a red roof",
        Steps = 2,
        Seed = seed,
        Subseed = 5, // fixed, so two runs record the same parameters
        Strength = 0.75,
        DType = "fp32",
        Model = f.Model,
        Tokenizer = SharedData.ClipDir,
        Threads = 1,
    };

    private DocumentStore NewDocument(string name) =>
        DocumentStore.NewDocument(_dir.File(name), 64, 64, T.Random(64, 64, 17, opaque: true), "sketch");

    /// <summary>The parameters a step records, without what differs between two runs (duration, model load).</summary>
    private static JsonObject Recorded(HistoryEntry entry) => JsonNode.Parse(entry.ParametersJson)!.AsObject();

    [SharedDataFact]
    public async Task PlanGenerateCommit_RecordsWhatGenerateAsyncRecords()
    {
        using var direct = NewDocument("direct");
        using var planned = NewDocument("planned");
        using var directGenerator = new DocumentGenerator(direct, f.Service);
        using var plannedGenerator = new DocumentGenerator(planned, f.Service);
        var options = new GenerateOptions { Variations = 2, Region = new Region(8, 8, 40, 32) };

        var expected = await directGenerator.GenerateAsync(Settings(21), options);
        var plan = await plannedGenerator.PlanGenerateAsync(Settings(21), options);
        Assert.Equal(2, plan.Settings.BatchSize);
        var output = await f.Service.GenerateAsync(plan.Settings, plan.Inputs);
        var committed = plannedGenerator.Commit(plan, output);

        Assert.False(committed.Replayed);
        Assert.Equal(expected.Images.Select(i => i.ImageHash), committed.Images.Select(i => i.ImageHash));
        Assert.Equal(Recorded(expected.Entry).ToJsonString(), Recorded(committed.Entry).ToJsonString());
        Assert.Equal(direct.Render().Pixels, planned.Render().Pixels);
    }

    [SharedDataFact]
    public async Task CommittingTwiceWithOneOperationId_RecordsOnce()
    {
        using var store = NewDocument("once");
        using var generator = new DocumentGenerator(store, f.Service);
        var plan = generator.PlanHarmonize(Settings(22), 0.3);
        var output = await f.Service.GenerateAsync(plan.Settings, plan.Inputs);
        int before = store.History().Count;

        var first = generator.Commit(plan, output, "job:abc");
        var again = generator.Commit(plan, output, "job:abc");

        Assert.Equal(before + 1, store.History().Count);
        Assert.False(first.Replayed);
        Assert.True(again.Replayed);
        Assert.Equal(first.Entry.Id, again.Entry.Id);
        Assert.Empty(again.Images);
        // The generating call itself also answers a replayed id without generating (no new row, no model call).
        var replay = await generator.HarmonizeAsync(Settings(99), 0.3, operationId: "job:abc");
        Assert.True(replay.Replayed);
        Assert.Equal(before + 1, store.History().Count);
    }

    [SharedDataFact]
    public async Task AnOperationIdUsedForAnotherKind_IsRefused()
    {
        using var store = NewDocument("kinds");
        using var generator = new DocumentGenerator(store, f.Service);
        var plan = generator.PlanHarmonize(Settings(23), 0.3);
        generator.Commit(plan, await f.Service.GenerateAsync(plan.Settings, plan.Inputs), "op-1");
        var generate = await generator.PlanGenerateAsync(Settings(24));
        var output = await f.Service.GenerateAsync(generate.Settings, generate.Inputs);
        var refused = Assert.Throws<StudioInputException>(() => generator.Commit(generate, output, "op-1"));
        Assert.Contains("harmonize", refused.Message);
    }

    [SharedDataFact]
    public async Task AnEditCommittedBetweenPlanAndCommit_IsKeptBelowTheCandidates()
    {
        using var store = NewDocument("between");
        using var generator = new DocumentGenerator(store, f.Service);
        var plan = await generator.PlanGenerateAsync(Settings(25));
        var output = await f.Service.GenerateAsync(plan.Settings, plan.Inputs);
        var added = store.AddLayer(T.Random(16, 16, 5, opaque: true), new LayerOptions { X = 4, Y = 4, Name = "pasted" });
        var committed = generator.Commit(plan, output);
        var layers = store.Document.Layers;
        int pasted = layers.ToList().FindIndex(l => l.Id == added.Id);
        int candidate = layers.ToList().FindIndex(l => l.Id == committed.Images[0].LayerId);
        Assert.True(pasted >= 0 && candidate > pasted, $"pasted at {pasted}, candidate at {candidate}");
    }

    [SharedDataFact]
    public async Task Area_IsTheWholeCanvas_TheRegion_OrTheMasksCropBox_WhichHoldsEveryChangedPixel()
    {
        using var store = NewDocument("area");
        using var generator = new DocumentGenerator(store, f.Service);
        Assert.Equal(new Region(0, 0, 64, 64), (await generator.PlanGenerateAsync(Settings(31))).Area);
        Assert.Equal(new Region(0, 0, 64, 64), generator.PlanHarmonize(Settings(31)).Area);
        var native = await generator.PlanGenerateAsync(Settings(31), new GenerateOptions { Region = new Region(8, 16, 40, 32), RegionNative = true });
        Assert.Equal(new Region(8, 16, 40, 32), native.Area);

        // An 8x8 mask at 40,40 with padding 4 and no blur: the engine's crop box is 36..51 on both axes.
        var mask = new MaskImage(64, 64, new byte[64 * 64]);
        for (int y = 40; y < 48; y++) Array.Fill(mask.Pixels, (byte)255, y * 64 + 40, 8);
        var masked = await generator.PlanGenerateAsync(Settings(31) with { MaskBlur = 0, InpaintPadding = 4 }, new GenerateOptions { Mask = mask });
        Assert.Equal(new Region(36, 36, 16, 16), masked.Area);
        var output = await f.Service.GenerateAsync(masked.Settings, masked.Inputs);
        var before = masked.Inputs.Init!;
        var after = output.Images[0].Image;
        int changed = 0;
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
            {
                int i = (y * 64 + x) * 3;
                if (before.Pixels[i] == after.Pixels[i] && before.Pixels[i + 1] == after.Pixels[i + 1] && before.Pixels[i + 2] == after.Pixels[i + 2]) continue;
                changed++;
                Assert.True(x >= 36 && x < 52 && y >= 36 && y < 52, $"pixel {x},{y} changed outside the area");
            }
        Assert.True(changed > 0);
    }

    [SharedDataFact]
    public async Task PlanRerunRunElsewhereAndCompare_ReportsWhatRerunAsyncReports()
    {
        using var store = NewDocument("rerun");
        using var generator = new DocumentGenerator(store, f.Service);
        var step = await generator.GenerateAsync(Settings(41), new GenerateOptions { Variations = 2 });
        var expected = await generator.RerunAsync(step.Entry.Id);
        Assert.True(expected.Identical);

        var plan = generator.PlanRerun(step.Entry.Id);
        Assert.Equal(step.Entry.Id, plan.StepId);
        var output = await f.Service.GenerateAsync(plan.Settings, plan.Inputs);
        var report = DocumentGenerator.Compare(plan, output);
        Assert.True(report.Identical);
        Assert.Equal(expected.Outputs, report.Outputs);
        Assert.Equal(step.Images.Select(i => i.ImageHash), report.Outputs.Select(o => o.RecordedHash));

        // Another seed's output is reported as different, output by output.
        var other = await f.Service.GenerateAsync(plan.Settings with { Seed = 999 }, plan.Inputs);
        var differs = DocumentGenerator.Compare(plan, other);
        Assert.False(differs.Identical);
        Assert.All(differs.Outputs, o => Assert.False(o.Identical));
        Assert.Throws<StudioInputException>(() => generator.PlanRerun(1));
    }
}
