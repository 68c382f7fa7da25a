using Redraft.Diffusion.Pipelines;

namespace Redraft.Diffusion.Tests.Pipelines;

[Collection(TinyModelCollection.Name)]
public sealed class DiffusionPipelineTests(TinyModelFixture tiny)
{
    private static GenerationRequest Request(string sampler = "Euler a", long seed = 42) => new()
    {
        Prompt = "a red fox in the snow, (detailed:1.2)",
        NegativePrompt = "blurry",
        Width = 64,
        Height = 64,
        Steps = 3,
        CfgScale = 7.5,
        Sampler = sampler,
        Seed = seed,
    };

    private static ImagePixels Sketch()
    {
        var rgb = new byte[64 * 64 * 3];
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++)
            {
                int i = (y * 64 + x) * 3;
                bool inCircle = (x - 32) * (x - 32) + (y - 36) * (y - 36) < 18 * 18;
                rgb[i] = (byte)(inCircle ? 220 : 40 + x * 2);
                rgb[i + 1] = (byte)(inCircle ? 120 : 90);
                rgb[i + 2] = (byte)(inCircle ? 30 : 200 - y * 2);
            }
        return new ImagePixels(64, 64, rgb);
    }

    private static double StdDev(byte[] values)
    {
        double mean = values.Average(b => (double)b);
        return Math.Sqrt(values.Average(b => (b - mean) * (b - mean)));
    }

    [SharedDataTheory]
    [InlineData(24, 40)]
    [InlineData(72, 56)]
    public void SizesInMultiplesOf8ButNotOfTheUNetsDownsamplingRunIt(int width, int height)
    {
        // Latents of odd size: each UNet upsample goes to its skip connection's size (diffusers' upsample_size).
        var pipeline = new DiffusionPipeline(tiny.Model);
        var image = pipeline.Generate(Request() with { Width = width, Height = height, Steps = 2 }).Images.Single();
        Assert.Equal((width, height), (image.Image.Width, image.Image.Height));
    }

    [SharedDataTheory]
    [InlineData("Euler a")]
    [InlineData("Euler")]
    [InlineData("DDIM")]
    public void Txt2ImgIsDeterministicAndSeedSensitive(string sampler)
    {
        var pipeline = new DiffusionPipeline(tiny.Model);
        var first = pipeline.Generate(Request(sampler)).Images.Single();
        var again = pipeline.Generate(Request(sampler)).Images.Single();
        var other = pipeline.Generate(Request(sampler, seed: 43)).Images.Single();

        Assert.Equal(64, first.Image.Width);
        Assert.Equal(first.Image.Rgb, again.Image.Rgb);
        Assert.NotEqual(first.Image.Rgb, other.Image.Rgb);
        // Random weights still give an image with structure, not a flat or saturated field.
        Assert.InRange(StdDev(first.Image.Rgb), 3.0, 120.0);
        Assert.True(first.Image.Rgb.Count(b => b is 0 or 255) < first.Image.Rgb.Length / 2, "most pixels are saturated");
    }

    [SharedDataFact]
    public void NvNoiseSourceIsDeterministicAndDiffersFromCpu()
    {
        var pipeline = new DiffusionPipeline(tiny.Model);
        var cpu = pipeline.Generate(Request()).Images.Single();
        var nv = pipeline.Generate(Request() with { Rng = "nv" }).Images.Single();
        var nvAgain = pipeline.Generate(Request() with { Rng = "NV" }).Images.Single();
        Assert.Equal(nv.Image.Rgb, nvAgain.Image.Rgb);
        Assert.NotEqual(cpu.Image.Rgb, nv.Image.Rgb);
        var error = Assert.Throws<RedraftInputException>(() => pipeline.Generate(Request() with { Rng = "gpu" }));
        Assert.Contains("cpu, nv", error.Message);
    }

    [SharedDataFact]
    public void ScheduleChoiceChangesTheImageAndIsCheckedAgainstTheSampler()
    {
        var pipeline = new DiffusionPipeline(tiny.Model);
        var normal = pipeline.Generate(Request("Euler")).Images.Single();
        var automatic = pipeline.Generate(Request("Euler") with { Schedule = "automatic" }).Images.Single();
        var karras = pipeline.Generate(Request("Euler") with { Schedule = "karras" }).Images.Single();
        Assert.Equal(normal.Image.Rgb, automatic.Image.Rgb);
        Assert.NotEqual(normal.Image.Rgb, karras.Image.Rgb);
        var error = Assert.Throws<RedraftInputException>(() => pipeline.Generate(Request("DDIM") with { Schedule = "karras" }));
        Assert.Contains("accepts: ddim", error.Message);
        Assert.Throws<RedraftInputException>(() => pipeline.Generate(Request() with { Schedule = "wobbly" }));
    }

    [SharedDataFact]
    public void BatchImageIRegeneratesAloneWithSeedPlusI()
    {
        var pipeline = new DiffusionPipeline(tiny.Model);
        var batch = pipeline.Generate(Request() with { BatchSize = 3 });
        var third = pipeline.Generate(Request(seed: 44)).Images.Single();

        Assert.Equal([42L, 43L, 44L], batch.Images.Select(i => i.Seed));
        Assert.Equal(third.Image.Rgb, batch.Images[2].Image.Rgb);
    }

    [SharedDataFact]
    public void Img2ImgDriftsFurtherFromTheInitAsStrengthGrows()
    {
        var pipeline = new DiffusionPipeline(tiny.Model);
        var sketch = Sketch();
        ImagePixels At(double strength) =>
            pipeline.Generate(Request() with { InitImage = sketch, Strength = strength, Steps = 10 }).Images.Single().Image;

        // Strength 0 runs no step: the result is the VAE round trip of the sketch (a random VAE does not reproduce
        // it, so distances are measured from this round trip, the fixed point of img2img).
        var roundTrip = At(0.0);
        double Distance(ImagePixels a) => a.Rgb.Zip(roundTrip.Rgb, (p, q) => Math.Abs(p - q)).Average();
        var low = At(0.3);
        var mid = At(0.6);
        var high = At(1.0);

        Assert.Equal(low.Rgb, At(0.3).Rgb);
        Assert.True(Distance(low) < Distance(mid) && Distance(mid) < Distance(high),
            $"distance from the round trip should grow with strength: 0.3 → {Distance(low):F2}, 0.6 → {Distance(mid):F2}, 1.0 → {Distance(high):F2}");
    }

    [SharedDataFact]
    public void SingleFileAndDiffusersLayoutsGiveIdenticalImages()
    {
        using var diffusers = tiny.Load(tiny.DiffusersFolder);
        var a = new DiffusionPipeline(tiny.Model).Generate(Request()).Images.Single();
        var b = new DiffusionPipeline(diffusers).Generate(Request()).Images.Single();
        Assert.Equal(a.Image.Rgb, b.Image.Rgb);
        var (u1, u2) = (tiny.Model.Description.UNet, diffusers.Description.UNet);
        Assert.Equal(u1.ChannelMult, u2.ChannelMult);
        Assert.Equal(u1.AttentionResolutions, u2.AttentionResolutions);
        Assert.Equal(u1 with { ChannelMult = [], AttentionResolutions = [] }, u2 with { ChannelMult = [], AttentionResolutions = [] });
    }

    [SharedDataFact]
    public void StandaloneVaeReplacesTheCheckpointsOwn()
    {
        // A standalone VAE file has the LDM keys without the first_stage_model. prefix.
        string SaveVae(string checkpoint, string name)
        {
            var path = Path.Combine(tiny.Folder, name);
            using var file = Redraft.Diffusion.Checkpoints.SafetensorsFile.Open(checkpoint);
            var tensors = file.Tensors.Keys.Where(k => k.StartsWith("first_stage_model."))
                .Select(k => KeyValuePair.Create(k["first_stage_model.".Length..], file.Load(k))).ToList();
            Redraft.Diffusion.Checkpoints.SafetensorsWriter.Write(path, tensors);
            return path;
        }
        var other = Path.Combine(tiny.Folder, "other.safetensors");
        Redraft.Diffusion.Tools.RandomCheckpointWriter.Write(Redraft.Diffusion.Tools.ModelPreset.Tiny, 99, other, Redraft.Diffusion.Tools.CheckpointLayout.SingleFile);

        using var sameVae = tiny.Load(tiny.SingleFile, SaveVae(tiny.SingleFile, "same-vae.safetensors"));
        using var otherVae = tiny.Load(tiny.SingleFile, SaveVae(other, "other-vae.safetensors"));
        var baseline = new DiffusionPipeline(tiny.Model).Generate(Request()).Images.Single();
        Assert.Equal(baseline.Image.Rgb, new DiffusionPipeline(sameVae).Generate(Request()).Images.Single().Image.Rgb);
        Assert.NotEqual(baseline.Image.Rgb, new DiffusionPipeline(otherVae).Generate(Request()).Images.Single().Image.Rgb);
    }

    [SharedDataFact]
    public void SamePromptIsEncodedOnce()
    {
        using var model = tiny.Load(tiny.SingleFile);
        var pipeline = new DiffusionPipeline(model);
        pipeline.Generate(Request());
        int afterFirst = model.Prompts.Count;
        pipeline.Generate(Request(seed: 5));
        Assert.Equal(2, afterFirst); // the prompt and the negative prompt
        Assert.Equal(afterFirst, model.Prompts.Count);
    }

    [SharedDataFact]
    public void CancellationStopsSampling()
    {
        var pipeline = new DiffusionPipeline(tiny.Model);
        using var cts = new CancellationTokenSource();
        var progress = new InlineProgress(p => { if (p.Phase == GenerationPhase.Sampling && p.Step == 1) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => pipeline.Generate(Request() with { Steps = 5 }, progress, cts.Token));
    }

    [SharedDataTheory]
    [InlineData(60, 64, "multiples of 8")]
    [InlineData(64, 64, "strength")]
    [InlineData(64, 64, "unknown sampler")]
    [InlineData(64, 64, "steps")]
    public void BadRequestsAreRejectedWithAClearMessage(int width, int height, string expected)
    {
        var pipeline = new DiffusionPipeline(tiny.Model);
        var request = Request() with { Width = width, Height = height };
        request = expected switch
        {
            "strength" => request with { InitImage = Sketch(), Strength = 1.5 },
            "unknown sampler" => request with { Sampler = "Eulr" },
            "steps" => request with { Steps = 0 },
            _ => request,
        };
        var error = Assert.ThrowsAny<RedraftInputException>(() => pipeline.Generate(request));
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    private sealed class InlineProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }

    [SharedDataTheory]
    [InlineData("DDIM")]
    [InlineData("PLMS")]
    public void DdimAndPlmsRunTheCompVisTimestepsAndNoiseImg2ImgOneLevelAbove(string sampler)
    {
        var schedule = Redraft.Diffusion.Sampling.NoiseSchedule.ScaledLinear(1000, 0.00085, 0.012);
        var steps = new List<(int Index, int Total, double Sigma)>();
        DiffusionPipeline.StepObserver.Value = s => steps.Add((s.Index, s.Total, s.Sigma));
        try
        {
            // 6 does not divide 1000: A1111 runs 7 timesteps, 997 … 1.
            var result = new DiffusionPipeline(tiny.Model).Generate(Request(sampler) with { Steps = 6 });
            Assert.Equal(7, result.StepsRun);
            Assert.Equal(Enumerable.Range(0, 7), steps.Select(s => s.Index));
            Assert.Equal(schedule.Sigmas[997], steps[0].Sigma, 6);

            // img2img at 0.5: t_enc = int(0.5 × 6) = 3 steps over timesteps 333, 167, 1; the init is noised at 499.
            steps.Clear();
            var img2img = new DiffusionPipeline(tiny.Model).Generate(Request(sampler) with { Steps = 6, InitImage = Sketch(), Strength = 0.5 });
            Assert.Equal(3, img2img.StepsRun);
            Assert.Equal(new[] { 333.0, 167.0, 1.0 }, steps.Select(s => Math.Round(schedule.TimestepAt(s.Sigma))));
            // The VP latent noised at 499 is read as the latent at 333: in sigma space, scaled by sqrt(ᾱ_499/ᾱ_333).
            var plan = Redraft.Diffusion.Sampling.SamplingPlan.Create(Redraft.Diffusion.Sampling.SamplerRegistry.Get(sampler), schedule, 6, null, 0.5);
            Assert.Equal(schedule.Sigmas[499], plan.InitSigma, 9);
            Assert.Equal(schedule.Sigmas[333], plan.Sigmas[0], 9);
            Assert.Equal(Math.Sqrt(schedule.AlphasCumprod[499] / schedule.AlphasCumprod[333]), plan.InitScale, 9);
            Assert.Equal(1.0, Redraft.Diffusion.Sampling.SamplingPlan.Create(Redraft.Diffusion.Sampling.SamplerRegistry.Get("Euler"), schedule, 6, null, 0.5).InitScale);
            // At strength 1 A1111 clamps to 0.999: 5 of the 6 steps.
            steps.Clear();
            Assert.Equal(5, new DiffusionPipeline(tiny.Model).Generate(Request(sampler) with { Steps = 6, InitImage = Sketch(), Strength = 1 }).StepsRun);
        }
        finally
        {
            DiffusionPipeline.StepObserver.Value = null;
        }
    }

    [SharedDataFact]
    public void UniPcRunsA1111sTimeGridAndStartsImg2ImgWhereA1111Does()
    {
        var schedule = Redraft.Diffusion.Sampling.NoiseSchedule.ScaledLinear(1000, 0.00085, 0.012);
        var acp = schedule.AlphasCumprod;
        // σ at continuous time t: log ᾱ linear in t between the timesteps' times (n + 1)/1000.
        double SigmaAtTime(double t)
        {
            double position = t * 1000 - 1;
            int n = Math.Min((int)position, 998);
            double w = position - n;
            double alphaCumprod = Math.Exp((1 - w) * Math.Log(acp[n]) + w * Math.Log(acp[n + 1]));
            return Math.Sqrt((1 - alphaCumprod) / alphaCumprod);
        }
        var steps = new List<(int Index, int Total, double Sigma)>();
        var timesteps = new List<double>();
        var starts = new List<TorchSharp.torch.Tensor>();
        DiffusionPipeline.StepObserver.Value = s =>
        {
            steps.Add((s.Index, s.Total, s.Sigma));
            if (s.Index == 0) starts.Add(s.Latent.detach().clone().DetachFromDisposeScope());
        };
        DiffusionPipeline.TimestepObserver.Value = timesteps.Add;
        try
        {
            // txt2img, 6 steps: A1111 hands UniPC the 7 CompVis timesteps, and UniPC runs 7 steps on
            // t = linspace(1, 0.001, 8), calling the model at t_0 … t_6 (none after the last step): UNet timesteps
            // 1000·t − 1 = 999·(1 − i/7), one call per step with the guidance batched.
            var result = new DiffusionPipeline(tiny.Model).Generate(Request("UniPC") with { Steps = 6 });
            Assert.Equal(7, result.StepsRun);
            Assert.Equal(Enumerable.Range(0, 7), steps.Select(s => s.Index));
            Assert.All(steps, s => Assert.Equal(7, s.Total));
            Assert.Equal(7, timesteps.Count);
            for (int i = 0; i < 7; i++)
            {
                // float32 arithmetic is within 1e-4 here; k-diffusion's log-σ mapping would be up to 9e-4 off.
                Assert.Equal(999.0 * (1 - i / 7.0), timesteps[i], 2e-4);
                Assert.Equal(1, steps[i].Sigma / SigmaAtTime(1 - i * 0.999 / 7), 1e-5);
            }

            // img2img at 0.5: t_enc = 3 steps from t = 333/1000 + 1/1000 down to 0.001: UNet timesteps 333, 222, 111.
            steps.Clear();
            timesteps.Clear();
            foreach (var t in starts) t.Dispose();
            starts.Clear();
            var img2img = new DiffusionPipeline(tiny.Model).Generate(Request("UniPC") with { Steps = 6, InitImage = Sketch(), Strength = 0.5 });
            Assert.Equal(3, img2img.StepsRun);
            Assert.Equal(new[] { 0, 1, 2 }, steps.Select(s => s.Index));
            Assert.Equal(new[] { 333.0, 222.0, 111.0 }, timesteps.Select(t => Math.Round(t, 3)));
            // The init is noised as DDIM noises it (VP: sqrt(ᾱ_499)·x0 + sqrt(1 − ᾱ_499)·ε) and, as DDIM does, UniPC
            // reads that latent as the one at timestep 333 (t = 0.334 is exactly timestep 333's time): the same start.
            new DiffusionPipeline(tiny.Model).Generate(Request("DDIM") with { Steps = 6, InitImage = Sketch(), Strength = 0.5 });
            Assert.Equal(2, starts.Count);
            Assert.True(starts[0].allclose(starts[1], rtol: 1e-5, atol: 1e-6), "UniPC's img2img start is DDIM's");
        }
        finally
        {
            DiffusionPipeline.StepObserver.Value = null;
            DiffusionPipeline.TimestepObserver.Value = null;
            foreach (var t in starts) t.Dispose();
        }
    }

    [Fact]
    public void UniPcReadsVPredictionWithTheTrainedAlphaAtTheTruncatedTimestep()
    {
        // A1111's v wrapper for timestep samplers: ε = sqrt(ᾱ[int(t)])·v + sqrt(1 − ᾱ[int(t)])·x, from the model's own
        // ᾱ (its zero-terminal-SNR option replaces only the schedule UniPC reads, not those buffers).
        var trained = Redraft.Diffusion.Sampling.NoiseSchedule.ScaledLinear(1000, 0.00085, 0.012);
        var read = new DiffusionPipeline.VpTimeModel(new Redraft.Diffusion.Sampling.DiscreteVpTime(trained.WithZeroTerminalSnr()), trained);
        using var v = TorchSharp.torch.ones(1, 4, 2, 2, dtype: TorchSharp.torch.ScalarType.Float64);
        using var x = TorchSharp.torch.full(new long[] { 1, 4, 2, 2 }, 2.0, dtype: TorchSharp.torch.ScalarType.Float64);
        double acp = trained.AlphasCumprod[249];
        using var eps = read.NoiseOfV(v, x, 249.99998474121094);  // the float32 start of an img2img run from timestep 250
        Assert.Equal(Math.Sqrt(acp) + 2 * Math.Sqrt(1 - acp), eps[0, 0, 0, 0].item<double>(), 12);
    }
}
