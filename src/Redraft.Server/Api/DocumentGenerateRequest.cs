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
        f.ThrowIfInvalid();
        if (live && steps is < 1 or > LiveMaxSteps)
            throw ApiException.Unprocessable($"steps: {steps} is outside 1 to {LiveMaxSteps} (live mode runs a few steps of a turbo-class model; use generate for more).");
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
        // Previews need TAESD weights (the server's setting is 0 without them); with them the page gets one every step unless it asks otherwise.
        int previews = context.PreviewEvery == 0 ? 0 : previewsAsked ? previewEvery : 1;
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
        };
        var options = harmonize ? null : new GenerateOptions { Variations = variations, Region = region, Mask = mask, RegionNative = regionNative };
        return new DocumentGenerateRequest(settings, options, strength, operationId);
    }

    /// <summary>Most steps a live job runs (a turbo-class model needs 1 to 4).</summary>
    public const int LiveMaxSteps = 4;
}
