using Redraft.Diffusion.Tests;
using Redraft.Diffusion.Tools;
using Redraft.Studio.Generation;

namespace Redraft.Studio.Tests;

/// <summary>A document folder written by an earlier Redraft (Fixtures/legacy-doc) opens, verifies and re-runs identical.</summary>
public sealed class LegacyDocumentTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A copy of the fixture in this test's folder (tests must not write into the build output).</summary>
    private string CopyFixture()
    {
        string source = Path.Combine(AppContext.BaseDirectory, "Fixtures", "legacy-doc");
        string target = _dir.File("legacy-doc");
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
        return target;
    }

    [Fact]
    public void ItOpensAndVerifies()
    {
        using var store = DocumentStore.Open(CopyFixture());
        Assert.Empty(store.Verify());
        Assert.Equal((64, 64), (store.Document.Width, store.Document.Height));
        Assert.Equal(["new", "generate", "pick", "add-layer", "erase", "generate", "pick", "generate", "harmonize", "undo"],
            store.History().Select(h => h.Kind));
    }

    [SharedDataFact]
    public async Task EveryRecordedGenerationRerunsIdentical()
    {
        string folder = CopyFixture();
        string model = _dir.File("tiny.safetensors");
        RandomCheckpointWriter.Write(ModelPreset.Tiny, 1, model, CheckpointLayout.SingleFile);
        using var store = DocumentStore.Open(folder);
        using var generator = new DocumentGenerator(store);
        var steps = store.History().Where(h => h.Kind is "generate" or "harmonize").ToList();
        Assert.Equal(4, steps.Count);
        foreach (var step in steps)
        {
            var report = await generator.RerunAsync(step.Id, new RerunOverrides { Model = model, Tokenizer = SharedData.ClipDir });
            Assert.True(report.Identical, $"step {step.Id} ({step.Kind}) differs on re-run");
            Assert.Equal(report.RecordedModelHash, report.ModelHash);
        }
        Assert.Empty(store.Verify());
    }
}
