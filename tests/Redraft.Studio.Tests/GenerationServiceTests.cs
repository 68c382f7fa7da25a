using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Pipelines;
using Redraft.Diffusion.Sampling;
using Redraft.Diffusion.Tests;
using Redraft.Imaging;
using Redraft.Studio.Generation;
using static TorchSharp.torch;

namespace Redraft.Studio.Tests;

/// <summary>
/// The one generation path on the tiny model: variation seeds, interrupt/skip/cancel, previews, LoRAs per request,
/// low memory, and the resolved settings that make a run repeatable.
/// </summary>
public sealed class GenerationServiceTests(TinyModelFixture f) : IClassFixture<TinyModelFixture>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private GenerationSettings Settings(long seed, int steps = 3) => new()
    {
        Prompt = "a lighthouse at dusk",
        Negative = "blurry",
        Steps = steps,
        Sampler = "Euler",
        Seed = seed,
        Width = 64,
        Height = 64,
        DType = "fp32",
        Model = f.Model,
        Tokenizer = SharedData.ClipDir,
        Threads = 1,
    };

    /// <summary>Collects events in order, on the reporting thread; an action may act on each (interrupt, skip).</summary>
    private sealed class Events(Action<GenerationEvent>? act = null) : IProgress<GenerationEvent>
    {
        public List<GenerationEvent> Seen { get; } = [];
        public void Report(GenerationEvent value)
        {
            lock (Seen) Seen.Add(value);
            act?.Invoke(value);
        }
    }

    /// <summary>Runs <paramref name="work"/> with the engine's step hook recording each step's latent (x at the step's sigma).</summary>
    private static async Task<(T Result, List<Tensor> Latents)> Observe<T>(Func<Task<T>> work, Func<SamplerStep, Tensor> pick)
    {
        var latents = new List<Tensor>();
        DiffusionPipeline.StepObserver.Value = step => latents.Add(pick(step).detach().clone().DetachFromDisposeScope());
        try
        {
            return (await work(), latents);
        }
        finally
        {
            DiffusionPipeline.StepObserver.Value = null;
        }
    }

    [SharedDataFact]
    public async Task SubseedStrengthZeroIsTheSeedOneIsTheSubseedAndBetweenIsTheirSphericalInterpolation()
    {
        var service = f.Service;
        var plain = await service.GenerateAsync(Settings(7));
        var zero = await service.GenerateAsync(Settings(7) with { Subseed = 99, SubseedStrength = 0 });
        Assert.Equal(plain.Images[0].Png, zero.Images[0].Png);

        var (other, otherStart) = await Observe(() => service.GenerateAsync(Settings(99)), s => s.Latent);
        var (full, fullStart) = await Observe(() => service.GenerateAsync(Settings(7) with { Subseed = 99, SubseedStrength = 1 }), s => s.Latent);
        Assert.Equal(other.Images[0].Image.Pixels, full.Images[0].Image.Pixels);
        Assert.Equal("99", full.Images[0].Info.Extra["Variation seed"]);

        var (_, seedStart) = await Observe(() => service.GenerateAsync(Settings(7)), s => s.Latent);
        foreach (double strength in new[] { 0.1, 0.5, 0.9 })
        {
            var (mixed, mixedStart) = await Observe(() => service.GenerateAsync(Settings(7) with { Subseed = 99, SubseedStrength = strength }), s => s.Latent);
            Assert.NotEqual(plain.Images[0].Image.Pixels, mixed.Images[0].Image.Pixels);
            var expected = Slerp(strength, seedStart[0][0].data<float>().ToArray(), otherStart[0][0].data<float>().ToArray(), 4, 8, 8);
            var actual = mixedStart[0][0].data<float>().ToArray();
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-4 * (1 + Math.Abs(expected[i])), $"element {i}: {actual[i]} vs {expected[i]}");
        }
    }

    /// <summary>
    /// The spherical interpolation of two (C, H, W) noise tensors, written out here from AUTOMATIC1111's formula:
    /// per (channel, column), over the rows, ω = acos(⟨a/|a|, b/|b|⟩); sin((1−t)ω)/sin ω · a + sin(tω)/sin ω · b.
    /// </summary>
    private static double[] Slerp(double t, float[] a, float[] b, int c, int h, int w)
    {
        var result = new double[a.Length];
        for (int ch = 0; ch < c; ch++)
            for (int x = 0; x < w; x++)
            {
                double na = 0, nb = 0, dot = 0;
                for (int y = 0; y < h; y++)
                {
                    int i = (ch * h + y) * w + x;
                    na += a[i] * (double)a[i];
                    nb += b[i] * (double)b[i];
                }
                na = Math.Sqrt(na); nb = Math.Sqrt(nb);
                for (int y = 0; y < h; y++)
                {
                    int i = (ch * h + y) * w + x;
                    dot += a[i] / na * (b[i] / nb);
                }
                double omega = Math.Acos(dot), so = Math.Sin(omega);
                for (int y = 0; y < h; y++)
                {
                    int i = (ch * h + y) * w + x;
                    result[i] = Math.Sin((1 - t) * omega) / so * a[i] + Math.Sin(t * omega) / so * b[i];
                }
            }
        return result;
    }

    [SharedDataFact]
    public async Task InterruptAfterKStepsDecodesStepKsEstimateAndSaysHowManyStepsRan()
    {
        var settings = Settings(5, steps: 6);
        var (_, estimates) = await Observe(() => f.Service.GenerateAsync(settings), s => s.Denoised);
        var control = new GenerationControl();
        var events = new Events(e => { if (e.Phase == GenerationPhase.Sampling && e.Step == 3) control.Interrupt(); });
        var output = await f.Service.GenerateAsync(settings, null, events, control);

        Assert.Equal(StopReason.Interrupted, output.Stop);
        Assert.Equal((3, 6), (output.StepsRun, output.StepsPlanned));
        Assert.StartsWith("3 of 6", output.Images[0].Info.Extra["Steps run"]);
        Assert.DoesNotContain(events.Seen, e => e.Phase == GenerationPhase.Sampling && e.Step > 3);
        // The image is the VAE decode of step 3's estimate (Euler is deterministic, so the full run's step 3 is the same).
        using var model = StableDiffusionModel.Load(new ModelLoadOptions { ModelPath = f.Model, TokenizerPath = SharedData.ClipDir });
        using var noGrad = no_grad();
        var expected = DiffusionPipeline.ToPixels(model.Vae.Decode(estimates[2] / model.Description.Vae.ScaleFactor));
        Assert.Equal(expected.Rgb, output.Images[0].Image.Pixels);
    }

    [SharedDataFact]
    public async Task SkipInABatchOfThreeRunsGivesTheOtherTwoInFull()
    {
        var control = new GenerationControl();
        var events = new Events(e => { if (e.Phase == GenerationPhase.Sampling && e.Iteration == 1 && e.Step == 1) control.Skip(); });
        var output = await f.Service.GenerateAsync(Settings(20) with { BatchCount = 3 }, null, events, control);
        Assert.Equal(1, output.SkippedRuns);
        Assert.Equal(StopReason.Completed, output.Stop);
        Assert.Equal([20L, 22L], output.Images.Select(i => i.Seed));
        var alone = await f.Service.GenerateAsync(Settings(22));
        Assert.Equal(alone.Images[0].Png, output.Images[1].Png);
    }

    [SharedDataFact]
    public async Task CancelThrowsAndReturnsNothing()
    {
        using var cts = new CancellationTokenSource();
        var events = new Events(e => { if (e.Phase == GenerationPhase.Sampling && e.Step == 1) cts.Cancel(); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => f.Service.GenerateAsync(Settings(1, steps: 4), null, events, null, cts.Token));
        Assert.DoesNotContain(events.Seen, e => e.Phase == GenerationPhase.Done);
    }

    /// <summary>
    /// The VAE decode reports its own progress (block by block, per image, tiles included) with an estimate of the time
    /// left, so a progress bar keeps moving after the last step instead of sitting at 100 %.
    /// </summary>
    [SharedDataTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TheDecodeReportsItsProgressAndTheTimeLeft(bool tiled)
    {
        var events = new Events();
        // 576 px = 72 latent cells: more than one 64-cell tile when tiling.
        await f.Service.GenerateAsync(Settings(4, steps: 3) with { BatchCount = 2, BatchSize = 2, Width = 576, Height = 64, VaeTiling = tiled }, null, events);
        var seen = events.Seen;
        for (int run = 0; run < 2; run++)
        {
            var decode = seen.Where(e => e.Phase == GenerationPhase.Decode && e.Iteration == run).Select(e => e.DecodeFraction!.Value).ToList();
            // Start, after the mid block and each up layer of each of the two images (the tiny VAE has 3), then done.
            Assert.True(decode.Count >= 2 * 4 + 2, $"run {run}: {decode.Count} decode reports");
            Assert.Equal(0, decode[0]);
            Assert.Equal(1, decode[^1], 6);
            Assert.True(decode.Zip(decode.Skip(1)).All(p => p.Second >= p.First), string.Join(", ", decode));
            Assert.Contains(decode, d => d is > 0.2 and < 0.8);
        }
        var fractions = seen.Select(e => e.Fraction).ToList();
        Assert.True(fractions.Zip(fractions.Skip(1)).All(p => p.Second >= p.First), string.Join(", ", fractions));
        // The first run's decode is not the end of the job; the bar moves through it.
        var firstDecode = seen.Where(e => e.Phase == GenerationPhase.Decode && e.Iteration == 0).Select(e => e.Fraction).ToList();
        Assert.True(firstDecode[^1] > firstDecode[0] && firstDecode[^1] <= 0.5 + 1e-9, string.Join(", ", firstDecode));
        Assert.All(seen.Where(e => e.Phase == GenerationPhase.Decode), e => Assert.NotNull(e.Eta));
        Assert.True(seen.Last(e => e.Phase == GenerationPhase.Decode && e.Iteration == 0).Eta > TimeSpan.Zero, "after run 1 of 2 a run is left");
        Assert.Equal(TimeSpan.Zero, seen.Last(e => e.Phase == GenerationPhase.Decode).Eta);
    }

    [SharedDataFact]
    public async Task PreviewEveryKGivesFloorOfStepsOverKPreviews()
    {
        var taesd = Path.Combine(SharedData.DataDir, "taesd");
        foreach (var (steps, every) in new[] { (5, 2), (6, 3), (4, 1) })
        {
            var events = new Events();
            await f.Service.GenerateAsync(Settings(3, steps) with { PreviewEvery = every, Taesd = taesd }, null, events);
            var previews = events.Seen.Where(e => e.Preview is not null).ToList();
            Assert.Equal(steps / every, previews.Count);
            Assert.All(previews, p => Assert.Equal((64, 64), (p.Preview!.Width, p.Preview.Height)));
        }
    }

    [SharedDataFact]
    public async Task LorasApplyToTheirRequestOnly()
    {
        var lora = _dir.File("style.safetensors");
        TestLora.Write(lora);
        var withLora = Settings(11) with { Loras = [new LoraSpec(lora, 0.8)] };
        using var cache = new ModelCache();
        using var service = new GenerationService(cache);
        var first = await service.GenerateAsync(withLora);
        var repeated = await service.GenerateAsync(withLora);
        Assert.Equal(1, cache.LoraMerges); // the same list keeps its merge …
        var without = await service.GenerateAsync(Settings(11));
        var again = await service.GenerateAsync(withLora);
        Assert.Equal(2, cache.LoraMerges); // … another list restores the base weights first
        Assert.Equal(first.Images[0].Png, repeated.Images[0].Png);
        using var fresh = new GenerationService();
        var freshWithout = await fresh.GenerateAsync(Settings(11));

        Assert.NotEqual(first.Images[0].Image.Pixels, without.Images[0].Image.Pixels);
        Assert.Equal(freshWithout.Images[0].Png, without.Images[0].Png);
        Assert.Equal(first.Images[0].Png, again.Images[0].Png);
        Assert.Equal("style:0.8", first.Images[0].Info.Extra["Lora"]);
        Assert.DoesNotContain("Lora", without.Images[0].Info.Format());
    }

    [SharedDataFact]
    public async Task LowMemoryGivesTheSameBytes()
    {
        var normal = await f.Service.GenerateAsync(Settings(4) with { BatchSize = 2 });
        using var separate = new GenerationService();
        var low = await separate.GenerateAsync(Settings(4) with { BatchSize = 2, LowMemory = true });
        Assert.Equal(normal.Images.Select(i => i.Png), low.Images.Select(i => i.Png));
    }

    [SharedDataFact]
    public async Task ResolvedSettingsRunAgainToTheSameBytes()
    {
        var first = await f.Service.GenerateAsync(Settings(-1) with { Subseed = -1, SubseedStrength = 0.3, DType = "auto", Kernels = "auto", Threads = null });
        var s = first.Settings;
        Assert.NotEqual(-1, s.Seed);
        Assert.NotEqual(-1, s.Subseed);
        Assert.Contains(s.DType, new[] { "bf16", "fp32" });
        Assert.Contains(s.Kernels, new[] { "native", "libtorch" });
        Assert.True(s.Threads >= 1);
        Assert.True(Path.IsPathRooted(s.Model));
        var again = await f.Service.GenerateAsync(s);
        Assert.Equal(first.Images[0].Png, again.Images[0].Png);
    }

    [SharedDataTheory]
    [InlineData("DDIM")]
    [InlineData("UniPC")]
    public async Task DdimAndUniPcSayHowManyStepsRan(string sampler)
    {
        // Both run as many steps as the CompVis timesteps (A1111): 6 → 7.
        var events = new Events();
        var output = await f.Service.GenerateAsync(Settings(2, steps: 6) with { Sampler = sampler }, null, events);
        Assert.Equal(7, output.StepsRun);
        Assert.Equal("7", output.Images[0].Info.Extra["Steps run"]);
        Assert.Equal(7, events.Seen.Where(e => e.Phase == GenerationPhase.Sampling).Max(e => e.Total));
        var divides = await f.Service.GenerateAsync(Settings(2, steps: 5) with { Sampler = sampler });
        Assert.False(divides.Images[0].Info.Extra.ContainsKey("Steps run"));
    }

    [SharedDataFact]
    public async Task UniPcsOwnGridIsNotWrittenAsAScheduleType()
    {
        // A1111's UniPC has no schedule type (time_uniform is its "UniPC skip type" default, which it does not write).
        var output = await f.Service.GenerateAsync(Settings(2) with { Sampler = "UniPC", Schedule = "time_uniform" });
        Assert.False(output.Images[0].Info.Extra.ContainsKey("Schedule type"));
        var karras = await f.Service.GenerateAsync(Settings(2) with { Sampler = "UniPC", Schedule = "karras" });
        Assert.Equal("Karras", karras.Images[0].Info.Extra["Schedule type"]);
    }

    [Fact]
    public void BadSettingsAreRefusedBeforeAnythingLoads()
    {
        var s = new GenerationSettings { Prompt = "x", Model = "/nowhere/model.safetensors" };
        Assert.Contains("subseed strength", Assert.Throws<RedraftInputException>(() => GenerationService.Resolve(s with { SubseedStrength = 2 })).Message);
        Assert.Contains("batch count", Assert.Throws<RedraftInputException>(() => GenerationService.Resolve(s with { BatchCount = 0 })).Message);
        Assert.Contains("device", Assert.Throws<RedraftInputException>(() => GenerationService.Resolve(s with { Device = "tpu" })).Message);
        Assert.Contains("kernel", Assert.Throws<RedraftInputException>(() => GenerationService.Resolve(s with { Kernels = "fast" })).Message);
        Assert.Contains("seed resize", Assert.Throws<RedraftInputException>(() => GenerationService.Resolve(s with { SeedResizeFromWidth = 13, SeedResizeFromHeight = 8 })).Message);
        Assert.Contains("mask needs an init", Assert.Throws<RedraftInputException>(() =>
            GenerationService.Resolve(s, new GenerationInputs(null, MaskImage.Filled(8, 8, 255)))).Message);
    }

    [Fact]
    public void EverySettingHasOneRowOfNames()
    {
        var properties = typeof(GenerationSettings).GetProperties().Select(p => p.Name).Where(n => n != "EqualityContract").Order().ToList();
        Assert.Equal(properties, GenerationParameters.All.Select(p => p.Property).Order());
        foreach (var column in new Func<GenerationParameters.Parameter, string?>[] { p => p.Cli, p => p.A1111, p => p.History })
        {
            var names = GenerationParameters.All.Select(column).Where(n => n is not null).ToList();
            Assert.Equal(names.Count, names.Distinct().Count());
        }
        Assert.Equal("denoising_strength", GenerationParameters.Of(nameof(GenerationSettings.Strength)).A1111);
        Assert.Equal("n_iter", GenerationParameters.Of(nameof(GenerationSettings.BatchCount)).A1111);
        Assert.Equal("subseed_strength", GenerationParameters.Of(nameof(GenerationSettings.SubseedStrength)).A1111);
    }
}

/// <summary>A small LoRA on the tiny model's first attention projection (kohya naming).</summary>
internal static class TestLora
{
    public static void Write(string path, long seed = 5)
    {
        using var generator = new Generator((ulong)seed);
        var down = randn(new long[] { 4, 32 }, generator: generator) * 0.5f;
        var up = randn(new long[] { 32, 4 }, generator: generator) * 0.5f;
        LoraWriter.Write(path,
            [new LoraWeights("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight", down, up, 4)],
            LoraNaming.Kohya, unetResBlocks: 1);
    }
}

/// <summary>LoRAs with <c>--low-memory</c>: merged into each network as it loads, gone when the request ends.</summary>
public sealed class LowMemoryLoraTests(TinyModelFixture f) : IClassFixture<TinyModelFixture>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [SharedDataFact]
    public async Task LowMemoryLorasGiveTheBytesOfANormalRunAndLeaveNoTrace()
    {
        var lora = _dir.File("style.safetensors");
        TestLora.Write(lora);
        var settings = new GenerationSettings
        {
            Prompt = "a lighthouse at dusk", Steps = 3, Sampler = "Euler", Seed = 6, Width = 64, Height = 64, DType = "fp32",
            Model = f.Model, Tokenizer = SharedData.ClipDir, Threads = 1, Loras = [new LoraSpec(lora, 0.8)],
        };
        var normal = await f.Service.GenerateAsync(settings);
        var plain = await f.Service.GenerateAsync(settings with { Loras = [] });
        using var low = new GenerationService();
        var lowWith = await low.GenerateAsync(settings with { LowMemory = true });
        var lowWithout = await low.GenerateAsync(settings with { LowMemory = true, Loras = [] });
        var lowAgain = await low.GenerateAsync(settings with { LowMemory = true });

        Assert.Equal(normal.Images[0].Png, lowWith.Images[0].Png);
        Assert.Equal(plain.Images[0].Png, lowWithout.Images[0].Png);
        Assert.Equal(lowWith.Images[0].Png, lowAgain.Images[0].Png);
        Assert.NotEqual(plain.Images[0].Image.Pixels, lowWith.Images[0].Image.Pixels);
    }
}
