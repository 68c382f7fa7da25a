using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Redraft.Diffusion;
using Redraft.Diffusion.Pipelines;
using Redraft.Diffusion.Tests;
using Redraft.Diffusion.Tools;
using Redraft.Studio;

namespace Redraft.Cli.Tests;

/// <summary>
/// Requests are fitted into the memory the process can count on, set here with <c>REDRAFT_AVAILABLE_MEMORY</c> so the
/// outcome does not depend on the machine: too large is refused before sampling, naming a size that fits; fitting only
/// with a tiled decode turns tiling on with a note; small requests are untouched; a document step re-runs only as it
/// was recorded (tiled or not), so its bytes never change.
/// </summary>
[Collection(CliModelCollection.Name)]
public sealed class MemoryLimitTests(CliModelFixture f)
{
    private const string Variable = AvailableMemory.Variable;

    private static ModelLoadOptions Options => new() { ModelPath = "tiny.safetensors", DType = "auto" };

    /// <summary>The tiny model's estimated peak for a <paramref name="size"/>² request as the command line resolves it (dtype auto, CFG 7.5).</summary>
    private static long Peak(int size, bool tiled, bool img2img = false) => MemoryEstimate.For(ModelPreset.Tiny.Description, Options, new GenerationRequest
    {
        Prompt = "a", Width = size, Height = size, VaeTiling = tiled,
        InitImage = img2img ? new ImagePixels(size, size, new byte[size * size * 3]) : null,
    }).Peak;

    /// <summary>A budget between the tiled and the untiled peak at <paramref name="size"/>²: only the tiled decode fits.</summary>
    private static string BetweenTiledAndUntiled(int size)
    {
        long tiled = Peak(size, tiled: true), untiled = Peak(size, tiled: false);
        Assert.True(tiled < untiled, $"{size}²: tiled {tiled}, untiled {untiled}");
        return ((tiled + untiled) / 2).ToString(CultureInfo.InvariantCulture);
    }

    private static Dictionary<string, string?> Budget(string value) => new() { [Variable] = value };

    [SharedDataFact]
    public void A_request_too_large_for_memory_is_refused_before_sampling_naming_a_size_that_fits()
    {
        string output = f.NewPath("huge.png");
        var clock = Stopwatch.StartNew();
        var run = RedraftProcess.Run(f.Generate("txt2img", output, "--width", "4096", "--height", "4096"), Budget("1G"), timeoutSeconds: 120);
        clock.Stop();

        Assert.True(run.ExitCode == 2, $"exit {run.ExitCode}: {run.Stderr}");
        var line = Assert.Single(run.Stderr.TrimEnd().Split('\n'));
        Assert.Matches(@"^redraft: 4096x4096 needs about [0-9.]+ GB even with VAE tiling but 1\.0 GB is available \(REDRAFT_AVAILABLE_MEMORY=1G\); (\d+)x\1 fits\.$", line);
        Assert.DoesNotContain("sampling", run.Stderr);
        Assert.False(File.Exists(output));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"refused after {clock.Elapsed}");
    }

    [SharedDataFact]
    public void A_bad_budget_is_a_one_line_error()
    {
        var run = RedraftProcess.Run(f.Generate("txt2img", f.NewPath("x.png")), Budget("lots"));
        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"redraft: {Variable}=\"lots\" is not a size; give bytes or a number with K, M, G or T, e.g. {Variable}=3G.", run.Stderr.TrimEnd());
    }

    [SharedDataFact]
    public void A_request_that_fits_only_with_a_tiled_decode_is_tiled_with_a_note()
    {
        string auto = f.NewPath("auto.png"), tiled = f.NewPath("tiled.png"), whole = f.NewPath("whole.png");
        string[] size = ["--width", "896", "--height", "896", "--steps", "1"];
        var run = RedraftProcess.Run(f.Generate("txt2img", auto, size), Budget(BetweenTiledAndUntiled(896)));
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("txt2img: note: 896x896 does not fit in memory with a whole-image decode; the VAE decodes in tiles (as with --vae-tiling).", run.Stderr);

        Assert.Equal(0, RedraftProcess.Run(f.Generate("txt2img", tiled, [.. size, "--vae-tiling"])).ExitCode);
        Assert.Equal(0, RedraftProcess.Run(f.Generate("txt2img", whole, size)).ExitCode);
        Assert.Equal(File.ReadAllBytes(tiled), File.ReadAllBytes(auto));
        Assert.NotEqual(File.ReadAllBytes(whole), File.ReadAllBytes(auto));
    }

    [SharedDataFact]
    public void A_small_request_is_untouched_by_the_budget()
    {
        string limited = f.NewPath("limited.png"), free = f.NewPath("free.png");
        var run = RedraftProcess.Run(f.Generate("txt2img", limited), Budget(BetweenTiledAndUntiled(896)));
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.DoesNotContain("note:", run.Stderr);
        Assert.Equal(0, RedraftProcess.Run(f.Generate("txt2img", free)).ExitCode);
        Assert.Equal(File.ReadAllBytes(free), File.ReadAllBytes(limited));
    }

    [SharedDataFact]
    public void A_document_step_is_rerun_only_as_recorded()
    {
        string doc = f.NewPath("doc");
        Assert.Equal(0, RedraftProcess.Run("doc", "new", doc, "--size", "640x640").ExitCode);
        string[] Generate(string seed, params string[] extra) =>
        [
            "doc", "generate", doc, "--model", f.Model, "--prompt", "a lighthouse", "--steps", "2", "--strength", "0.5",
            "--seed", seed, "--threads", "1", "--tokenizer", SharedData.ClipDir, .. extra,
        ];
        // Resolved settings are recorded: the tiling decision too (here: none needed, so off).
        Assert.Equal(0, RedraftProcess.Run(Generate("7")).ExitCode);
        Assert.Equal(0, RedraftProcess.Run(Generate("8", "--vae-tiling")).ExitCode);
        long untiled, tiled;
        using (var store = DocumentStore.Open(doc))
        {
            var history = store.History();
            (untiled, tiled) = (history[^2].Id, history[^1].Id);
            Assert.False((bool)JsonNode.Parse(history[^2].ParametersJson)!["vae_tiling"]!);
            Assert.True((bool)JsonNode.Parse(history[^1].ParametersJson)!["vae_tiling"]!);
        }

        // Under a budget the untiled step does not fit: its re-run is refused, never tiled into other bytes.
        string budget = (Peak(640, tiled: false, img2img: true) - (1L << 20)).ToString(CultureInfo.InvariantCulture);
        var refused = RedraftProcess.Run(["doc", "rerun", doc, untiled.ToString(CultureInfo.InvariantCulture)], Budget(budget));
        Assert.True(refused.ExitCode == 2, refused.Stdout + refused.Stderr);
        Assert.Matches($@"^redraft: step {untiled} needs about [0-9.]+ (GB|MB) as recorded \(VAE tiling off\) but [0-9.]+ (GB|MB) is available \({Variable}={budget}\); free memory to re-run it\.$",
            Assert.Single(refused.Stderr.TrimEnd().Split('\n')));

        // With memory, both re-run to the same bytes, each decoded as recorded.
        foreach (var step in new[] { untiled, tiled })
        {
            var rerun = RedraftProcess.Run("doc", "rerun", doc, step.ToString(CultureInfo.InvariantCulture));
            Assert.True(rerun.ExitCode == 0, rerun.Stdout + rerun.Stderr);
            Assert.EndsWith("identical", rerun.Stdout.TrimEnd());
        }
    }
}
