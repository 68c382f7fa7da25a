using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Redraft.Studio;
using Redraft.Studio.Generation;

namespace Redraft.Server.Api;

/// <summary>
/// The body of a document generation (<c>…/generate</c>, <c>…/harmonize</c>, <c>…/live</c>) read and checked: one
/// reading of the fields for every route that plans a step, so they take the same names, defaults and limits.
/// </summary>
/// <param name="Settings">The generation settings (model chosen, sampler resolved, previews set).</param>
/// <param name="Options">Variations, region and mask of a generate (null for a harmonize).</param>
/// <param name="Strength">The denoising strength asked.</param>
/// <param name="OperationId">The client's operation id, or null.</param>
internal sealed record DocumentGenerateRequest(GenerationSettings Settings, GenerateOptions? Options, double Strength, string? OperationId)
{
    /// <summary>
    /// Reads the body of <paramref name="http"/>: a harmonize takes no variations, region or mask; a live job
    /// (<paramref name="live"/>) one image of 1 to <see cref="LiveMaxSteps"/> steps and no operation id; any other
    /// step up to the server's <c>--max-steps</c>.
    /// </summary>
    /// <exception cref="ApiException">422 naming the field that is wrong.</exception>
    public static async Task<DocumentGenerateRequest> Read(HttpContext http, ApiContext context, bool harmonize, bool live = false)
    {
        var body = await RequestBody.ReadObject(http);
        var f = new RequestFields(body, new JsonObject());
        string prompt = f.String("prompt", "") ?? "";
        string negative = f.String("negative_prompt", "") ?? "";
        double strength = f.Double("strength", harmonize ? 0.3 : 0.75);
        int steps = f.Int("steps", live ? LiveMaxSteps : 20);
        double cfg = f.Double("cfg_scale", 7.5);
        string sampler = f.String("sampler_name", "Euler a") ?? "Euler a";
        string? scheduler = f.String("scheduler");
        long seed = f.Long("seed", -1);
        long subseed = f.Long("subseed", -1);
        double subseedStrength = f.Double("subseed_strength", 0);
        int variations = harmonize || live ? 1 : f.Int("variations", 1);
        string? operationId = live ? null : f.String("operation_id");
        string? modelName = f.String("model");
        bool previewsAsked = f.Has("preview_every");
        int previewEvery = f.Int("preview_every", 1);
        var regionBody = harmonize ? null : f.Object("region");
        bool regionNative = !harmonize && f.Bool("region_native", false);
        string? maskText = harmonize ? null : f.String("mask");
        int maskBlur = f.Int("mask_blur", 4);
        int padding = f.Int("inpaint_padding", 32);
        string? liveVae = live ? f.String("vae") : null;
        f.ThrowIfInvalid();
        if (liveVae is not (null or "taesd" or "full"))
            throw ApiException.Unprocessable($"vae: \"{liveVae}\" is not a live VAE; send taesd (fast, the default when the server has TAESD) or full (the checkpoint's).");
        // Image-to-image runs the last int(steps × strength) steps of the schedule (A1111's rule): that count is what
        // live mode limits, so "2 steps at 0.5" (SD-Turbo's one-step img2img) is a live job and "1 step at 0.5" (none) is not.
        int stepsRun = (int)(steps * strength);
        if (live && stepsRun is < 1 or > LiveMaxSteps)
            throw ApiException.Unprocessable(
                $"steps: {steps} at strength {strength} runs {stepsRun} sampling steps; live mode runs 1 to {LiveMaxSteps} (send steps = ceil(n / strength) for n steps run; use generate for more).");
        if (steps < 1 || steps > context.Options.MaxSteps)
            throw ApiException.Unprocessable($"steps: {steps} is outside 1 to {context.Options.MaxSteps} (start redraft serve with a larger --max-steps for more).");
        if (variations < 1 || variations > context.Options.MaxImages)
            throw ApiException.Unprocessable($"variations: {variations} is outside 1 to {context.Options.MaxImages} (start redraft serve with a larger --max-images for more).");
        if (strength is < 0 or > 1) throw ApiException.Unprocessable($"strength: {strength} is outside 0 to 1.");
        if (cfg is < 0 or > 100) throw ApiException.Unprocessable($"cfg_scale: {cfg} is outside 0 to 100.");
        if (subseedStrength is < 0 or > 1) throw ApiException.Unprocessable($"subseed_strength: {subseedStrength} is outside 0 to 1 (the variation strength).");
        if (maskBlur is < 0 or > 64) throw ApiException.Unprocessable($"mask_blur: {maskBlur} is outside 0 to 64 pixels.");
        if (padding is < 0 or > 1024) throw ApiException.Unprocessable($"inpaint_padding: {padding} is outside 0 to 1024 pixels.");
        if (previewEvery < 0) throw ApiException.Unprocessable($"preview_every: {previewEvery} is negative; send 0 for no previews, or every how many steps.");
        var choice = A1111Samplers.Resolve(sampler, null, scheduler);
        Region? region = null;
        if (regionBody is not null)
        {
            var r = new RequestFields(regionBody, new JsonObject());
            region = new Region(r.Int("x", 0), r.Int("y", 0), r.Int("width", 0), r.Int("height", 0));
            r.ThrowIfInvalid();
        }
        MaskImage? mask = string.IsNullOrEmpty(maskText) ? null : MaskImage.FromOperationImage(ApiImages.Decode(maskText, "mask"));
        string model = modelName is { Length: > 0 } asked ? context.Models.Resolve(asked).Path
            : context.DefaultModel ?? throw ApiException.Unprocessable(
                "no model is loaded: start redraft serve with --model, send model, or POST /sdapi/v1/options with sd_model_checkpoint.");
        // Previews need TAESD weights (the server's setting is 0 without them); with them the page gets one every step
        // unless it asks otherwise. A live job of one to four steps shows its result at once: no previews by default.
        int previews = context.PreviewEvery == 0 ? 0 : previewsAsked ? previewEvery : live ? 0 : 1;
        // Live mode encodes and decodes with TAESD when the server has it: the full VAE is most of a live run on a
        // CPU (measured: 22 of 26 s at 512² with SD 2.1's shape), TAESD about one second. An applied live result
        // records that choice, so it reruns identically; "vae": "full" keeps the checkpoint's VAE.
        string? vae = live && context.PreviewEvery > 0 && liveVae is not "full" ? "taesd" : null;
        var settings = context.BaseSettings(model) with
        {
            Prompt = prompt,
            Negative = negative,
            Strength = strength,
            Steps = steps,
            Cfg = cfg,
            Sampler = choice.Sampler,
            Schedule = scheduler is null ? null : choice.Schedule,
            Seed = seed < 0 ? -1 : seed,
            Subseed = subseed < 0 ? -1 : subseed,
            SubseedStrength = subseedStrength,
            MaskBlur = maskBlur,
            InpaintPadding = padding,
            PreviewEvery = previews,
            Vae = vae ?? context.BaseSettings(model).Vae,
        };
        var options = harmonize ? null : new GenerateOptions { Variations = variations, Region = region, Mask = mask, RegionNative = regionNative };
        return new DocumentGenerateRequest(settings, options, strength, operationId);
    }

    /// <summary>Most steps a live job runs (a turbo-class model needs 1 to 4).</summary>
    public const int LiveMaxSteps = 4;
}
