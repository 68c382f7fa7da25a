using System.Text.Json.Nodes;
using Redraft.Studio.Generation;
using S = Redraft.Studio.Generation.GenerationSettings;

namespace Redraft.Server.Api;

/// <summary>
/// A1111 v1.10's request models for <c>txt2img</c> and <c>img2img</c> with the API's defaults (its processing
/// classes' defaults, not the web UI's and not the command line's): the start of every request echo
/// (<c>parameters</c>). Fields that are generation settings are named through <see cref="GenerationParameters"/>.
/// </summary>
internal static class RequestDefaults
{
    /// <summary>A1111's field name for a <see cref="GenerationSettings"/> property.</summary>
    public static string Field(string property) => GenerationParameters.Of(property).A1111
        ?? throw new KeyNotFoundException($"{property} has no A1111 field");

    public const int Steps = 50;
    public const double Cfg = 7.0;
    public const int Size = 512;
    public const double Img2ImgStrength = 0.75;
    public const int MaskBlur = 4;
    /// <summary>A1111's API default for "only masked" is on (the web UI's is off).</summary>
    public const bool InpaintFullRes = true;
    public const int InpaintPadding = 0;
    /// <summary>0 = fill.</summary>
    public const int InpaintingFill = 0;

    /// <summary>A fresh echo object with every field of the request model at its default.</summary>
    public static JsonObject For(bool img2img)
    {
        var o = new JsonObject
        {
            [Field(nameof(S.Prompt))] = "",
            [Field(nameof(S.Negative))] = "",
            ["styles"] = null,
            [Field(nameof(S.Seed))] = -1,
            [Field(nameof(S.Subseed))] = -1,
            [Field(nameof(S.SubseedStrength))] = 0,
            [Field(nameof(S.SeedResizeFromHeight))] = -1,
            [Field(nameof(S.SeedResizeFromWidth))] = -1,
            [Field(nameof(S.Sampler))] = null,
            [Field(nameof(S.Schedule))] = null,
            [Field(nameof(S.BatchSize))] = 1,
            [Field(nameof(S.BatchCount))] = 1,
            [Field(nameof(S.Steps))] = Steps,
            [Field(nameof(S.Cfg))] = Cfg,
            [Field(nameof(S.Width))] = Size,
            [Field(nameof(S.Height))] = Size,
            ["restore_faces"] = null,
            ["tiling"] = null,
            ["do_not_save_samples"] = false,
            ["do_not_save_grid"] = false,
            [Field(nameof(S.Eta))] = null,
            [Field(nameof(S.Strength))] = img2img ? Img2ImgStrength : null,
            ["s_min_uncond"] = null,
            ["s_churn"] = null,
            ["s_tmax"] = null,
            ["s_tmin"] = null,
            ["s_noise"] = null,
            ["override_settings"] = null,
            ["override_settings_restore_afterwards"] = true,
            ["refiner_checkpoint"] = null,
            ["refiner_switch_at"] = null,
            ["disable_extra_networks"] = false,
            ["firstpass_image"] = null,
            ["comments"] = null,
        };
        if (img2img)
        {
            o["init_images"] = null;
            o["resize_mode"] = 0;
            o["image_cfg_scale"] = null;
            o["mask"] = null;
            o["mask_blur_x"] = MaskBlur;
            o["mask_blur_y"] = MaskBlur;
            o[Field(nameof(S.MaskBlur))] = null;
            o["mask_round"] = true;
            o[Field(nameof(S.MaskedContent))] = InpaintingFill;
            o[Field(nameof(S.InpaintArea))] = InpaintFullRes;
            o[Field(nameof(S.InpaintPadding))] = InpaintPadding;
            o[Field(nameof(S.MaskInvert))] = 0;
            o["initial_noise_multiplier"] = null;
            o["latent_mask"] = null;
            o["force_task_id"] = null;
            o["include_init_images"] = false;
        }
        else
        {
            o["enable_hr"] = false;
            o["firstphase_width"] = 0;
            o["firstphase_height"] = 0;
            o["hr_scale"] = 2.0;
            o["hr_upscaler"] = null;
            o["hr_second_pass_steps"] = 0;
            o["hr_resize_x"] = 0;
            o["hr_resize_y"] = 0;
            o["hr_checkpoint_name"] = null;
            o["hr_sampler_name"] = null;
            o["hr_scheduler"] = null;
            o["hr_prompt"] = "";
            o["hr_negative_prompt"] = "";
            o["force_task_id"] = null;
        }
        o["sampler_index"] = "Euler";
        o["script_name"] = null;
        o["script_args"] = new JsonArray();
        o["send_images"] = true;
        o["save_images"] = false;
        o["alwayson_scripts"] = new JsonObject();
        o["infotext"] = null;
        return o;
    }
}
