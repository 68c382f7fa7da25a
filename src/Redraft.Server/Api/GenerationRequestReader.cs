using System.Text.Json.Nodes;
using Redraft.Studio.Generation;
using static Redraft.Server.Api.RequestDefaults;
using S = Redraft.Studio.Generation.GenerationSettings;

namespace Redraft.Server.Api;

/// <summary>An A1111 generation request as the server will run it.</summary>
/// <param name="Settings">The settings for <see cref="GenerationService"/> (unresolved: seeds may be -1).</param>
/// <param name="Inputs">Init image and mask (img2img), else null.</param>
/// <param name="Echo">The request as understood, for the response's <c>parameters</c>.</param>
/// <param name="SendImages">Whether the response carries the images.</param>
/// <param name="Denoising">The request's <c>denoising_strength</c> (txt2img: null unless sent), for <c>info</c>.</param>
/// <param name="Styles">The styles asked for (reported in <c>info</c> as asked, known or not).</param>
/// <param name="ReportedPrompt">The prompt A1111 reports (info, infotext): styles applied, extra-network tags kept.</param>
/// <param name="ReportedNegative">The negative prompt with the styles applied.</param>
/// <param name="LoraMentions">The LoRAs the prompt's tags applied, with the names it gives them (for <c>Lora hashes</c>).</param>
internal sealed record ApiGeneration(GenerationSettings Settings, GenerationInputs? Inputs, JsonObject Echo, bool SendImages,
    double? Denoising, IReadOnlyList<string> Styles, string ReportedPrompt, string ReportedNegative,
    IReadOnlyList<PromptNetworks.LoraMention> LoraMentions);

/// <summary>
/// Turns an A1111 <c>txt2img</c>/<c>img2img</c> body into <see cref="GenerationSettings"/> with the API's defaults.
/// Fields Redraft cannot honour yet are accepted at their neutral values (clients send full payloads) and refused
/// with a 422 naming the field otherwise, so a request never silently makes another picture than A1111 would.
/// </summary>
internal static class GenerationRequestReader
{
    /// <summary>Reads <paramref name="body"/>.</summary>
    /// <exception cref="ApiValidationException">Fields of the wrong type.</exception>
    /// <exception cref="ApiException">A value Redraft cannot honour, an undecodable image, no model.</exception>
    public static ApiGeneration Read(JsonObject body, bool img2img, ApiContext context)
    {
        var echo = For(img2img);
        foreach (var (key, value) in body)
            if (echo.ContainsKey(key)) echo[key] = value?.DeepClone();
        var f = new RequestFields(body, echo);

        string prompt = f.String(Field(nameof(S.Prompt)), "")!;
        string negative = f.String(Field(nameof(S.Negative)), "")!;
        var styles = f.StringList("styles") ?? [];
        long seed = f.Long(Field(nameof(S.Seed)), -1);
        long subseed = f.Long(Field(nameof(S.Subseed)), -1);
        double subseedStrength = f.Double(Field(nameof(S.SubseedStrength)), 0);
        int resizeFromH = f.Int(Field(nameof(S.SeedResizeFromHeight)), -1);
        int resizeFromW = f.Int(Field(nameof(S.SeedResizeFromWidth)), -1);
        string? samplerName = f.String(Field(nameof(S.Sampler)));
        string? samplerIndex = f.String("sampler_index", "Euler");
        string? scheduler = f.String(Field(nameof(S.Schedule)));
        int batchSize = f.Int(Field(nameof(S.BatchSize)), 1);
        int batchCount = f.Int(Field(nameof(S.BatchCount)), 1);
        int steps = f.Int(Field(nameof(S.Steps)), Steps);
        double cfg = f.Double(Field(nameof(S.Cfg)), Cfg);
        int width = f.Int(Field(nameof(S.Width)), Size);
        int height = f.Int(Field(nameof(S.Height)), Size);
        bool restoreFaces = f.Bool("restore_faces", false);
        bool tiling = f.Bool("tiling", false);
        double? eta = f.NullableDouble(Field(nameof(S.Eta)));
        double? denoising = f.NullableDouble(Field(nameof(S.Strength))) ?? (img2img ? Img2ImgStrength : null);
        double? sChurn = f.NullableDouble("s_churn"), sNoise = f.NullableDouble("s_noise"), sMinUncond = f.NullableDouble("s_min_uncond");
        var overrides = f.Object("override_settings");
        string? refiner = f.String("refiner_checkpoint");
        bool sendImages = f.Bool("send_images", true);
        f.Bool("save_images", false);
        string? scriptName = f.String("script_name");
        var alwaysOn = f.Object("alwayson_scripts");
        bool enableHr = !img2img && f.Bool("enable_hr", false);
        bool disableNetworks = f.Bool("disable_extra_networks", false);

        IReadOnlyList<string>? initImages = null;
        string? maskText = null;
        int resizeMode = 0, maskBlurX = MaskBlur, maskBlurY = MaskBlur, fill = InpaintingFill, padding = InpaintPadding, invert = 0;
        int? maskBlur = null;
        bool maskRound = true, fullRes = InpaintFullRes, includeInit = false;
        double? noiseMultiplier = null;
        if (img2img)
        {
            initImages = f.StringList("init_images");
            resizeMode = f.Int("resize_mode", 0);
            maskText = f.String("mask");
            maskBlurX = f.Int("mask_blur_x", MaskBlur);
            maskBlurY = f.Int("mask_blur_y", MaskBlur);
            maskBlur = f.Has(Field(nameof(S.MaskBlur))) ? f.Int(Field(nameof(S.MaskBlur)), MaskBlur) : null;
            maskRound = f.Bool("mask_round", true);
            fill = f.Int(Field(nameof(S.MaskedContent)), InpaintingFill);
            fullRes = f.Bool(Field(nameof(S.InpaintArea)), InpaintFullRes);
            padding = f.Int(Field(nameof(S.InpaintPadding)), InpaintPadding);
            invert = f.Int(Field(nameof(S.MaskInvert)), 0);
            noiseMultiplier = f.NullableDouble("initial_noise_multiplier");
            includeInit = f.Bool("include_init_images", false);
        }
        f.ThrowIfInvalid();
        // Before anything is decoded or queued: A1111 floors the size to a multiple of 8 first.
        RequestLimits.Check(context.Options, width >= 8 ? width / 8 * 8 : width, height >= 8 ? height / 8 * 8 : height, batchSize, batchCount, steps);

        // Features Redraft does not have yet: neutral values pass, others are refused by name.
        if (enableHr) throw Unsupported("enable_hr", "hires fix is not available in Redraft yet; send false");
        if (restoreFaces) throw Unsupported("restore_faces", "face restoration is not available in Redraft; send false");
        if (tiling) throw Unsupported("tiling", "tiling is not available in Redraft yet; send false");
        if (!string.IsNullOrWhiteSpace(refiner) && refiner != "None") throw Unsupported("refiner_checkpoint", "a refiner is not available in Redraft yet; send null");
        if (!string.IsNullOrWhiteSpace(scriptName) && !scriptName.Equals("None", StringComparison.OrdinalIgnoreCase))
            throw new ApiException(StatusCodes422, $"Script '{scriptName}' not found");
        if (alwaysOn is { Count: > 0 })
            throw new ApiException(StatusCodes422, $"always on script {alwaysOn.First().Key} not found");
        if (sChurn is { } churn && churn != 0) throw Unsupported("s_churn", "stochastic churn is not available in Redraft; send 0");
        if (sNoise is { } noise && noise != 1) throw Unsupported("s_noise", "a noise multiplier other than 1 is not available in Redraft; send 1");
        if (sMinUncond is { } minUncond && minUncond != 0) throw Unsupported("s_min_uncond", "skipping the negative prompt at low sigmas is not available in Redraft; send 0");
        if (noiseMultiplier is { } multiplier && multiplier != 1) throw Unsupported("initial_noise_multiplier", "only 1 is available in Redraft; send 1 or null");
        string resize = resizeMode switch
        {
            0 => "just-resize",
            1 => "crop",
            2 => "fill",
            3 => "latent-upscale",
            _ => throw Unsupported("resize_mode", $"{resizeMode} is not a resize mode; use 0 (just resize), 1 (crop and resize), 2 (resize and fill) or 3 (just resize, latent upscale)"),
        };
        if (fill == 3) throw Unsupported("inpainting_fill", "3 (latent nothing) is not available in Redraft; use 0 (fill), 1 (original) or 2 (latent noise)");
        if (fill is < 0 or > 3) throw Unsupported("inpainting_fill", $"{fill} is not a masked-content mode; use 0 (fill), 1 (original) or 2 (latent noise)");
        if (maskBlur is null && maskBlurX != maskBlurY) throw Unsupported("mask_blur_x", "Redraft blurs both directions alike; send mask_blur, or equal mask_blur_x and mask_blur_y");

        var choice = A1111Samplers.Resolve(samplerName, samplerIndex, scheduler);
        if (eta is { } e && e != 1 && choice.Sampler is "Euler a" or "DPM++ SDE" or "DPM++ 2M SDE")
            throw Unsupported("eta", $"an eta other than 1 for {choice.Sampler} is not available in Redraft yet; send 1 or null");
        if (choice.Sampler is not ("DDIM")) eta = null;

        var engine = A1111Options.ForRequest(overrides, context.Settings.Snapshot(), context);
        if (engine.NoiseSeedDelta != 0 && A1111Samplers.UsesNoiseSeedDelta(choice.Sampler, eta))
            throw Unsupported(engine.NoiseSeedDeltaSource, $"a seed delta (ENSD) is not available in Redraft yet, and it changes the noise {choice.Sampler} draws while sampling; send 0, or use a sampler such as Euler or DPM++ 2M");
        // As A1111: styles first (they may add tags), then the tags are taken out of the text the model reads.
        prompt = context.Styles.ApplyToPrompt(prompt, styles);
        negative = context.Styles.ApplyToNegative(negative, styles);
        var networks = PromptNetworks.Extract(prompt, context.Models, apply: !disableNetworks);
        var settings = context.BaseSettings(engine.Model) with
        {
            Prompt = networks.Prompt,
            Negative = negative,
            Loras = networks.Loras,
            Steps = steps,
            Cfg = cfg,
            Sampler = choice.Sampler,
            Schedule = choice.Schedule,
            Eta = eta,
            Seed = seed < 0 ? -1 : seed,
            Subseed = subseed < 0 ? -1 : subseed,
            SubseedStrength = subseedStrength,
            SeedResizeFromWidth = Math.Max(0, resizeFromW),
            SeedResizeFromHeight = Math.Max(0, resizeFromH),
            Rng = engine.Rng,
            // A1111 makes sizes a multiple of 8 by flooring.
            Width = width >= 8 ? width / 8 * 8 : width,
            Height = height >= 8 ? height / 8 * 8 : height,
            BatchSize = batchSize,
            BatchCount = batchCount,
            Strength = img2img ? denoising!.Value : 0,
            ResizeMode = resize,
            MaskBlur = maskBlur ?? maskBlurX,
            InpaintArea = fullRes ? "masked" : "whole",
            InpaintPadding = padding,
            MaskedContent = fill switch { 0 => "fill", 2 => "latent-noise", _ => "original" },
            MaskInvert = invert != 0,
            Vae = engine.Vae,
            PreviewEvery = engine.PreviewEvery,
        };

        GenerationInputs? inputs = null;
        if (img2img)
        {
            if (initImages is null || initImages.Count == 0) throw new ApiException(404, "Init image not found");
            if (initImages.Count > 1 && initImages.Distinct().Count() > 1)
                throw Unsupported("init_images", $"{initImages.Count} different init images; Redraft takes one per request (it is used for the whole batch)");
            var init = ApiImages.Decode(initImages[0], "init_images[0]").ToRgb();
            // A latent upscale encodes the init at its own size, which then costs what generating at it costs.
            if (resizeMode == 3 && !(fullRes && !string.IsNullOrEmpty(maskText)))
                RequestLimits.CheckEncodedInit(context.Options, init.Width, init.Height);
            MaskImage? mask = null;
            if (!string.IsNullOrEmpty(maskText))
            {
                mask = MaskImage.FromOperationImage(ApiImages.Decode(maskText, "mask"));
                if (maskRound) mask = Rounded(mask);
            }
            inputs = new GenerationInputs(init, mask);
            if (!includeInit)
            {
                echo["init_images"] = null;
                echo["mask"] = null;
            }
        }
        return new ApiGeneration(settings, inputs, echo, sendImages, denoising, styles, prompt, negative, networks.Mentions);
    }

    private const int StatusCodes422 = 422;

    private static ApiException Unsupported(string field, string why) => ApiException.Unprocessable($"{field}: {why}.");

    /// <summary>A1111's <c>mask_round</c>: above 128 is white, the rest black.</summary>
    private static MaskImage Rounded(MaskImage mask)
    {
        var pixels = mask.Pixels.ToArray();
        for (int i = 0; i < pixels.Length; i++) pixels[i] = pixels[i] > 128 ? (byte)255 : (byte)0;
        return new MaskImage(mask.Width, mask.Height, pixels);
    }
}
