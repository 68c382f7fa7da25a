using System.Diagnostics;
using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Sampling;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Pipelines;

/// <summary>
/// txt2img and img2img over a loaded <see cref="StableDiffusionModel"/>: prompt → conditioning, seeded noise,
/// sampler over the model's noise schedule with classifier-free guidance, VAE decode.
/// </summary>
public sealed class DiffusionPipeline(StableDiffusionModel model)
{
    /// <summary>
    /// Sees every sampler step of generations started on this logical flow (tests observe the latent's shape and
    /// the start noise through it). Null outside tests.
    /// </summary>
    internal static readonly AsyncLocal<Action<SamplerStep>?> StepObserver = new();

    /// <summary>Sees the timestep the UNet is given at every model call of generations on this logical flow (tests). Null outside tests.</summary>
    internal static readonly AsyncLocal<Action<double>?> TimestepObserver = new();

    /// <summary>Validates the request (one-line <see cref="RedraftInputException"/> when bad), then generates.</summary>
    public Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken ct = default,
        GenerationControl? control = null) =>
        Task.Run(() => Generate(request, progress, ct, control), ct);

    /// <summary>Synchronous form of <see cref="GenerateAsync"/>.</summary>
    public GenerationResult Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null, CancellationToken ct = default,
        GenerationControl? control = null)
    {
        var clock = Stopwatch.StartNew();
        var (sampler, scheduleKind) = Validate(request);
        long baseSeed = request.Seed == -1 ? Random.Shared.NextInt64(0, uint.MaxValue) : request.Seed;
        long baseSubseed = request.Subseed == -1 ? Random.Shared.NextInt64(0, uint.MaxValue) : request.Subseed;
        if (request.Inpaint is { Area: InpaintArea.Masked })
            return GenerateMaskedOnly(request with { Seed = baseSeed, Subseed = baseSubseed }, progress, ct, control, clock);
        // A1111: with variation seeds every image keeps the seed and the subseed counts up instead.
        bool variations = request.SubseedStrength != 0;
        var seeds = Enumerable.Range(0, request.BatchSize).Select(i => baseSeed + (variations ? 0 : i)).ToArray();
        var subseeds = Enumerable.Range(0, request.BatchSize).Select(i => baseSubseed + i).ToArray();
        // SDE samplers draw Brownian-tree noise seeded per image, like A1111.
        if (sampler is ISeededSampler seeded)
            sampler = seeded.ForSeeds(seeds);
        var description = model.Description;
        int factor = description.Vae.DownscaleFactor;
        long latentChannels = description.Vae.EmbedDim, lh = request.Height / factor, lw = request.Width / factor;
        double scale = description.Vae.ScaleFactor;

        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        progress?.Report(new GenerationProgress(0, request.Steps, GenerationPhase.Text));
        var cond = TextConditioning.Encode(model, request.Prompt);
        var uncond = TextConditioning.Encode(model, request.NegativePrompt);
        (cond, uncond) = TextConditioning.MatchLengths(model, cond, uncond);
        model.ReleaseTextEncoderIfLowMemory();

        var trainedSchedule = NoiseSchedule.ScaledLinear(description.TrainTimesteps, description.LinearStart, description.LinearEnd);
        var schedule = request.ZeroTerminalSnr ? trainedSchedule.WithZeroTerminalSnr() : trainedSchedule;
        var plan = SamplingPlan.Create(sampler, schedule, request.Steps, scheduleKind, request.InitImage is null ? null : request.Strength);
        var sigmas = plan.Sigmas;
        int stepsToRun = plan.Steps;

        // One noise source per image, seeded with seed + i, so any image of a batch can be made again alone.
        var generators = seeds.Select(seed => NoiseSources.Create(request.Rng, (ulong)seed)).ToArray();
        var latentShape = new long[] { 1, latentChannels, lh, lw };
        Tensor NextNoise() => cat(generators.Select(g => g.Randn(latentShape)).ToArray(), dim: 0).to(model.Device);
        // The noise a run starts from: the seed's next draw, mixed with the subseed's and resized as A1111 does.
        Tensor StartNoise() => cat(generators.Select((g, i) => VariationNoise.Draw(g, request.Rng, seeds[i], subseeds[i], request.SubseedStrength,
            latentShape, request.SeedResizeFromWidth, request.SeedResizeFromHeight, factor)).ToArray(), dim: 0).to(model.Device);

        Tensor x;
        Tensor? latentMask = null, keepLatent = null;
        float[]? blurredMask = request.Inpaint is { } inpaint ? MaskOperations.Blur(inpaint.Mask, inpaint.MaskBlur) : null;
        if (blurredMask is not null)
        {
            latentMask = nn.functional.interpolate(
                tensor(blurredMask).reshape(1, 1, request.Height, request.Width), [lh, lw], mode: InterpolationMode.Area).to(model.Device);
        }
        if (request.ResizeInitLatent && request.InitImage is not null && description.UNet.InChannels == 9)
            throw new RedraftInputException("latent upscale (resize mode 3) does not work with inpainting models (9-channel UNet), whose conditioning needs the init image at the working size; use resize mode 0, 1 or 2.");
        if (request.InitImage is { } init)
        {
            progress?.Report(new GenerationProgress(0, stepsToRun, GenerationPhase.Encode));
            if (request.Inpaint is { Content: MaskedContent.Fill } fill)
                init = MaskOperations.Fill(init, fill.Mask.Values.Select(v => v / 255f).ToArray());
            Tensor latent;
            if (model.UsesTaesdAsVae)
            {
                // TAESD's encoder is deterministic: no posterior sample is drawn.
                latent = model.Taesd!.Encode(ToTensor(init).to(model.Device)).expand(request.BatchSize, -1, -1, -1);
            }
            else
            {
                var (mean, std) = model.Vae.Encode(ToTensor(init).to(model.Device));
                // Each image's generator draws the posterior sample first, then the noise: A1111/diffusers order.
                // The sample has the encoded init's shape (the init's own size with a latent upscale).
                var latents = generators.Select(g => scale * (mean + std * g.Randn(mean.shape).to(model.Device))).ToArray();
                latent = cat(latents, dim: 0);
            }
            // A1111's latent upscale: the encoded init, resized bilinearly (corners not aligned) to the working size.
            if (request.ResizeInitLatent && (latent.shape[2] != lh || latent.shape[3] != lw))
                latent = nn.functional.interpolate(latent, [lh, lw], mode: InterpolationMode.Bilinear, align_corners: false);
            if (latentMask is not null)
            {
                keepLatent = latent;
                if (request.Inpaint!.Content == MaskedContent.LatentNoise)
                    latent = latent * (1 - latentMask) + NextNoise() * latentMask;
            }
            x = stepsToRun == 0 ? latent : latent + plan.InitSigma * StartNoise();
            if (stepsToRun > 0 && plan.InitScale != 1) x = x * plan.InitScale;
        }
        else
        {
            x = StartNoise() * sampler.InitialNoiseScale(sigmas[0]);
        }

        int stepsRun = stepsToRun;
        var stop = StopReason.Completed;
        if (stepsToRun > 0)
        {
            progress?.Report(new GenerationProgress(0, stepsToRun, GenerationPhase.Sampling));
            var concat = InpaintingConditioning(request, lh, lw);
            model.ReleaseVaeIfLowMemory();
            var denoiser = MakeDenoiser(schedule, cond, uncond, request.CfgScale, request.BatchSize, request.Prediction ?? description.Prediction,
                keepLatent, latentMask, concat, plan.Time is { } time ? new VpTimeModel(time, trainedSchedule) : null);
            var observer = StepObserver.Value;
            Tensor? lastEstimate = null;
            try
            {
                x = sampler.Sample(denoiser, x, sigmas, NextNoise, step =>
                {
                    observer?.Invoke(step);
                    ImagePixels? preview = null;
                    if (request.PreviewEvery > 0 && model.Taesd is { } taesd && (step.Index + 1) % request.PreviewEvery == 0)
                    {
                        using var previewScope = NewDisposeScope();
                        preview = ToPixels(taesd.Decode(step.Denoised[..1].to(ScalarType.Float32)));
                    }
                    progress?.Report(new GenerationProgress(step.Index + 1, step.Total, GenerationPhase.Sampling, preview));
                    // Checked after the step's model call, so a stop keeps that step's estimate (A1111's last_latent).
                    if (control is not null && step.Index + 1 < step.Total && (control.IsInterrupted || control.IsSkipRequested))
                    {
                        stepsRun = step.Index + 1;
                        lastEstimate = step.Denoised.detach().clone().DetachFromDisposeScope();
                        throw new SamplingStopped();
                    }
                }, ct);
                x = x / Math.Sqrt(sigmas[^1] * sigmas[^1] + 1);
            }
            catch (SamplingStopped)
            {
                stop = control!.TakeSkip() ? StopReason.Skipped : StopReason.Interrupted;
                x = lastEstimate!.clone();
                lastEstimate.Dispose();
            }
            if (stop == StopReason.Skipped)
            {
                foreach (var g in generators) g.Dispose();
                return new GenerationResult([], request with { Seed = baseSeed, Subseed = baseSubseed }, sampler.Name, baseSeed, clock.Elapsed)
                    { StepsRun = stepsRun, StepsPlanned = stepsToRun, Stop = stop };
            }
            if (keepLatent is not null) x = x * latentMask! + keepLatent * (1 - latentMask!);
            // A diverging sampler or an overflowing model would otherwise decode to a silently black image.
            if (!isfinite(x).all().item<bool>())
                throw new RedraftInputException(
                    $"sampling with {sampler.Name} produced non-finite values (NaN or infinity): the model's weights are broken or overflow in {ComputePrecision.Name(model.UNetDType)}; try --dtype fp32, a lower CFG scale, or another checkpoint. Nothing was written.");
        }

        progress?.Report(new GenerationProgress(stepsRun, stepsToRun, GenerationPhase.Decode, PhaseFraction: 0));
        model.ReleaseUNetIfLowMemory();
        TorchRuntime.ReleaseFreedMemory();
        var images = new List<GeneratedImage>();
        for (int i = 0; i < request.BatchSize; i++)
        {
            ct.ThrowIfCancellationRequested();
            using var imageScope = NewDisposeScope();
            int image = i;
            Action<double>? decodeProgress = progress is null ? null
                : f => progress.Report(new GenerationProgress(stepsRun, stepsToRun, GenerationPhase.Decode, PhaseFraction: (image + f) / request.BatchSize));
            var decoded = model.UsesTaesdAsVae ? model.Taesd!.Decode(x[i..(i + 1)])
                : request.VaeTiling ? model.Vae.DecodeTiled(x[i..(i + 1)] / scale, progress: decodeProgress)
                : model.Vae.Decode(x[i..(i + 1)] / scale, decodeProgress);
            // Clamping would turn NaN into a black or grey picture that looks like a result.
            if (!isfinite(decoded).all().item<bool>())
                throw new RedraftInputException(
                    $"the VAE decoded non-finite values (NaN or infinity): its weights are broken or overflow in {ComputePrecision.Name(model.VaeDType)}; try --vae-dtype fp32 or another --vae. Nothing was written.");
            images.Add(new GeneratedImage(ToPixels(decoded), seeds[i], i) { Subseed = subseeds[i] });
        }
        foreach (var g in generators) g.Dispose();
        model.ReleaseVaeIfLowMemory();
        progress?.Report(new GenerationProgress(stepsRun, stepsToRun, GenerationPhase.Done, PhaseFraction: 1));
        return new GenerationResult(images, request with { Seed = baseSeed, Subseed = baseSubseed }, sampler.Name, baseSeed, clock.Elapsed)
            { StepsRun = stepsRun, StepsPlanned = stepsToRun, Stop = stop };
    }

    private (ISampler Sampler, ScheduleKind? Schedule) Validate(GenerationRequest r)
    {
        var checkedRequest = r.Check();
        int factor = model.Description.Vae.DownscaleFactor;
        if (r.Width % factor != 0 || r.Height % factor != 0)
            throw new RedraftInputException($"width and height must be positive multiples of {factor} for this model, got {r.Width}x{r.Height}.");
        return checkedRequest;
    }

    /// <summary>
    /// The k-diffusion "denoiser" view of the UNet: x in sigma space → x0 estimate, with classifier-free guidance
    /// (uncond and cond as one batch of 2B; the unconditional half is skipped when the scale is 1).
    /// </summary>
    private Denoiser MakeDenoiser(NoiseSchedule schedule, Tensor cond, Tensor uncond, double cfg, int batch, PredictionType prediction,
        Tensor? keepLatent = null, Tensor? latentMask = null, Tensor? concat = null, VpTimeModel? vpTime = null)
    {
        bool guided = cfg != 1.0;
        var context = guided
            ? cat([uncond.expand(batch, -1, -1), cond.expand(batch, -1, -1)], dim: 0)
            : cond.expand(batch, -1, -1);
        bool vPrediction = prediction == PredictionType.V;
        var timestepObserver = TimestepObserver.Value;
        return (x, sigma) =>
        {
            using var scope = NewDisposeScope();
            double cIn = 1.0 / Math.Sqrt(sigma * sigma + 1);
            var xIn = x * cIn;
            var xVp = xIn;
            // 9-channel inpainting UNets take [latent, mask, masked-image latent] along channels.
            if (concat is not null) xIn = cat([xIn, concat.expand(xIn.shape[0], -1, -1, -1)], dim: 1);
            var input = guided ? cat([xIn, xIn], dim: 0) : xIn;
            double timestep = vpTime is null ? schedule.TimestepAt(sigma) : vpTime.Time.ModelTimestep(vpTime.Time.TimeOfSigma(sigma));
            timestepObserver?.Invoke(timestep);
            var t = full(input.shape[0], timestep, dtype: ScalarType.Float32, device: model.Device);
            var output = model.UNet.Forward(input, t, context);
            if (guided)
            {
                var halves = output.chunk(2, dim: 0);
                output = halves[0] + cfg * (halves[1] - halves[0]);
            }
            var denoised = vPrediction && vpTime is not null ? x - vpTime.NoiseOfV(output, xVp, timestep) * sigma
                : vPrediction ? x / (sigma * sigma + 1) - output * (sigma / Math.Sqrt(sigma * sigma + 1))
                : x - output * sigma;
            // Inpainting with any sampler (A1111's way): outside the mask the estimate is the init latent.
            if (keepLatent is not null) denoised = denoised * latentMask! + keepLatent * (1 - latentMask!);
            return denoised.MoveToOuterDisposeScope();
        };
    }

    /// <summary>
    /// The extra input of a 9-channel inpainting UNet: the latent-resolution mask and the VAE latent of the init image
    /// with the masked pixels set to grey. Without a mask (txt2img, plain img2img) the whole picture counts as masked over
    /// a grey image, as A1111 does. Null for regular 4-channel models.
    /// </summary>
    private Tensor? InpaintingConditioning(GenerationRequest request, long lh, long lw)
    {
        if (model.Description.UNet.InChannels != 9) return null;
        using var scope = NewDisposeScope();
        var hard = request.Inpaint is { } inpaint
            ? tensor(inpaint.Mask.Values.Select(v => v >= 128 ? 1f : 0f).ToArray()).reshape(1, 1, request.Height, request.Width)
            : ones(1, 1, request.Height, request.Width);
        var image = request.InitImage is { } init ? ToTensor(init) : zeros(1, 3, request.Height, request.Width);
        var masked = (image * (1 - hard)).to(model.Device);
        var maskedLatent = model.UsesTaesdAsVae
            ? model.Taesd!.Encode(masked)
            : model.Vae.Encode(masked).Mean * model.Description.Vae.ScaleFactor;
        var latentMask = nn.functional.interpolate(hard, [lh, lw], mode: InterpolationMode.Nearest).to(model.Device);
        return cat([latentMask, maskedLatent], dim: 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// "Only masked": regenerate the mask's bounding box (plus padding, grown to the working aspect ratio) at the full
    /// working resolution, then paste it back through the blurred mask. Pixels outside that box are untouched bytes.
    /// </summary>
    private GenerationResult GenerateMaskedOnly(GenerationRequest request, IProgress<GenerationProgress>? progress, CancellationToken ct,
        GenerationControl? control, Stopwatch clock)
    {
        var inpaint = request.Inpaint!;
        var init = request.InitImage!;
        var blurred = MaskOperations.Blur(inpaint.Mask, inpaint.MaskBlur);
        var box = MaskOperations.CropBox(blurred, init.Width, init.Height, inpaint.Padding, request.Width, request.Height)
            ?? throw new RedraftInputException("the mask is empty (all black): nothing to regenerate; paint the area to change in white.");
        using var noGrad = no_grad();
        ImagePixels cropInit;
        MaskPixels cropMask;
        using (var scope = NewDisposeScope())
        {
            cropInit = ToPixels(MaskOperations.CropResize(ToTensor(init), box, request.Width, request.Height).clamp(-1, 1));
            var maskTensor = tensor(inpaint.Mask.Values.Select(v => (float)v).ToArray()).reshape(1, 1, init.Height, init.Width);
            var cropped = MaskOperations.CropResize(maskTensor, box, request.Width, request.Height).clamp(0, 255).round().to(ScalarType.Byte);
            cropMask = new MaskPixels(request.Width, request.Height, cropped.contiguous().data<byte>().ToArray());
        }
        var inner = Generate(request with
        {
            InitImage = cropInit,
            Inpaint = inpaint with { Mask = cropMask, Area = InpaintArea.Whole },
        }, progress, ct, control);
        var images = inner.Images.Select(g =>
        {
            using var scope = NewDisposeScope();
            var back = nn.functional.interpolate(ToTensor(g.Image), [box.Height, box.Width], mode: InterpolationMode.Bicubic, align_corners: false, antialias: true);
            var bytes = ToPixels(back.clamp(-1, 1)).Rgb;
            return g with { Image = MaskOperations.Paste(init, bytes, box, blurred) };
        }).ToList();
        return inner with { Images = images, Request = request, Duration = clock.Elapsed };
    }

    /// <summary>
    /// How AUTOMATIC1111's UniPC reads the model: at the UNet timestep of the level's continuous VP time
    /// (<see cref="DiscreteVpTime.ModelTimestep"/>), and for v-prediction with the noise ε = sqrt(ᾱ_n)·v + sqrt(1 − ᾱ_n)·x_VP
    /// taken at n = that timestep truncated to an integer, from the schedule the model was trained with (A1111's
    /// timestep samplers index the model's own ᾱ buffers, which its zero-terminal-SNR option leaves alone); the estimate
    /// is then x − σ·ε at the continuous level.
    /// </summary>
    internal sealed record VpTimeModel(DiscreteVpTime Time, NoiseSchedule Trained)
    {
        public Tensor NoiseOfV(Tensor v, Tensor xVp, double timestep)
        {
            double alphaCumprod = Trained.AlphasCumprod[(int)timestep];
            return v * Math.Sqrt(alphaCumprod) + xVp * Math.Sqrt(1 - alphaCumprod);
        }
    }

    /// <summary>Unwinds the sampler's step loop when the job is interrupted or skipped (not an error: the run ends early).</summary>
    private sealed class SamplingStopped : Exception;

    /// <summary>RGB bytes → (1, 3, H, W) float in [-1, 1] as x/127.5 − 1.</summary>
    internal static Tensor ToTensor(ImagePixels image)
    {
        using var scope = NewDisposeScope();
        var bytes = tensor(image.Rgb, dtype: ScalarType.Byte).reshape(image.Height, image.Width, 3);
        var x = bytes.permute(2, 0, 1).unsqueeze(0).to(ScalarType.Float32) / 127.5 - 1.0;
        return x.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>(1, 3, H, W) decoder output → RGB bytes: clamp to [-1, 1], map to [0, 255], round.</summary>
    internal static ImagePixels ToPixels(Tensor image)
    {
        using var scope = NewDisposeScope();
        var x = ((image.to(ScalarType.Float32).cpu().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(ScalarType.Byte);
        var hwc = x[0].permute(1, 2, 0).contiguous();
        return new ImagePixels((int)hwc.shape[1], (int)hwc.shape[0], hwc.data<byte>().ToArray());
    }
}
