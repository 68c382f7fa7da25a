using Redraft.Diffusion.Pipelines;
using Redraft.Imaging;

namespace Redraft.Studio.Generation;

/// <summary>Builds the A1111 "parameters" text for an image from the request it came from.</summary>
public static class Infotexts
{
    /// <summary>
    /// The infotext of <paramref name="image"/>, one of <paramref name="result"/>'s images made by
    /// <paramref name="model"/> with <paramref name="settings"/>; <paramref name="img2img"/> adds the denoising strength.
    /// Keys appear in AUTOMATIC1111's order, and only when they carry information (as A1111 writes them).
    /// </summary>
    public static GenerationInfo For(GenerationResult result, GeneratedImage image, StableDiffusionModel model, GenerationSettings settings, bool img2img)
    {
        var r = result.Request;
        var loras = settings.Loras;
        var extra = new Dictionary<string, string>();
        if (r.SubseedStrength != 0)
        {
            extra["Variation seed"] = image.Subseed.ToString(System.Globalization.CultureInfo.InvariantCulture);
            extra["Variation seed strength"] = r.SubseedStrength.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        }
        if (r.SeedResizeFromWidth > 0 && r.SeedResizeFromHeight > 0)
            extra["Seed resize from"] = $"{r.SeedResizeFromWidth}x{r.SeedResizeFromHeight}";
        if (r.Eta is { } eta && result.SamplerName == "DDIM") extra["Eta"] = eta.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        // UniPC's time_uniform grid is A1111's UniPC itself (its "UniPC skip type" default, which A1111 does not write).
        if (r.Schedule is { } schedule && Redraft.Diffusion.Sampling.ScheduleNames.Parse(schedule) is { } kind
            && kind != Redraft.Diffusion.Sampling.ScheduleKind.TimeUniform)
            extra["Schedule type"] = kind switch
            {
                Redraft.Diffusion.Sampling.ScheduleKind.SgmUniform => "SGM Uniform",
                var k => char.ToUpperInvariant(Redraft.Diffusion.Sampling.ScheduleNames.Name(k)[0]) + Redraft.Diffusion.Sampling.ScheduleNames.Name(k)[1..],
            };
        if (r.ZeroTerminalSnr) extra["Noise schedule"] = "Zero Terminal SNR";
        if (r.Inpaint is { } inpaint)
        {
            extra["Mask blur"] = inpaint.MaskBlur.ToString();
            if (inpaint.Area == Redraft.Diffusion.Pipelines.InpaintArea.Masked)
            {
                extra["Inpaint area"] = "Only masked";
                extra["Masked area padding"] = inpaint.Padding.ToString();
            }
            extra["Masked content"] = inpaint.Content switch
            {
                Redraft.Diffusion.Pipelines.MaskedContent.Fill => "fill",
                Redraft.Diffusion.Pipelines.MaskedContent.LatentNoise => "latent noise",
                _ => "original",
            };
        }
        if (result.Stop == StopReason.Interrupted)
            extra["Steps run"] = $"{result.StepsRun} of {result.StepsPlanned} (interrupted)";
        else if (r.InitImage is null && result.StepsRun != r.Steps)
            extra["Steps run"] = result.StepsRun.ToString(System.Globalization.CultureInfo.InvariantCulture); // DDIM/PLMS: 30 steps run 31
        if (r.BatchSize > 1)
        {
            extra["Batch size"] = r.BatchSize.ToString();
            extra["Batch pos"] = image.Index.ToString();
        }
        if (model.VaeName is { } vae) extra["VAE"] = vae;
        if (loras is { Count: > 0 })
            extra["Lora"] = string.Join(", ", loras.Select(l =>
                $"{Path.GetFileNameWithoutExtension(l.Path)}:{l.Weight.ToString(System.Globalization.CultureInfo.InvariantCulture)}"));
        if (model.UNetDType == TorchSharp.torch.ScalarType.BFloat16) extra["Precision"] = "bf16";
        if (model.VaeDType == TorchSharp.torch.ScalarType.BFloat16 && !model.UsesTaesdAsVae) extra["VAE precision"] = "bf16";
        extra["RNG"] = r.Rng.Trim().Equals("nv", StringComparison.OrdinalIgnoreCase) ? "NV" : "CPU";
        extra["Version"] = "Redraft";
        return new GenerationInfo
        {
            Prompt = r.Prompt,
            NegativePrompt = r.NegativePrompt,
            Steps = r.Steps,
            Sampler = result.SamplerName,
            CfgScale = r.CfgScale,
            Seed = image.Seed,
            Width = r.Width,
            Height = r.Height,
            ModelHash = model.Hash,
            ModelName = model.Name,
            DenoisingStrength = img2img ? r.Strength : null,
            Extra = extra,
        };
    }
}
