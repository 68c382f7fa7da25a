using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// The lists A1111 clients read on connect (models, samplers, schedulers, VAEs, LoRAs, …), <c>png-info</c>,
/// <c>memory</c> and <c>cmd-flags</c>. Lists of features Redraft does not have answer as an A1111 without them:
/// empty.
/// </summary>
internal static class ListEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapGet("/sdapi/v1/sd-models", () => Results.Json(new JsonArray([.. context.Models.Checkpoints().Select(c => (JsonNode)Checkpoint(context.Models, c))])));
        app.MapGet("/sdapi/v1/samplers", () => Results.Json(new JsonArray([.. A1111Samplers.Listed.Select(s => (JsonNode)new JsonObject
        {
            ["name"] = s.Name,
            ["aliases"] = new JsonArray([.. s.Aliases.Select(a => (JsonNode)a)]),
            ["options"] = A1111Samplers.DefaultScheduler(s.Name) is { } scheduler ? new JsonObject { ["scheduler"] = scheduler } : new JsonObject(),
        })])));
        app.MapGet("/sdapi/v1/schedulers", () => Results.Json(new JsonArray([.. A1111Samplers.Schedulers.Where(s => s.Redraft is not null).Select(s => (JsonNode)new JsonObject
        {
            ["name"] = s.Name,
            ["label"] = s.Label,
            ["aliases"] = s.Aliases is null ? null : new JsonArray([.. s.Aliases.Select(a => (JsonNode)a)]),
            ["default_rho"] = s.DefaultRho,
            ["need_inner_model"] = s.NeedInnerModel,
        })])));
        app.MapGet("/sdapi/v1/sd-vae", () => Results.Json(new JsonArray([.. context.Models.Vaes().Select(v => (JsonNode)new JsonObject
        {
            ["model_name"] = Path.GetFileName(v),
            ["filename"] = v,
        })])));
        app.MapGet("/sdapi/v1/loras", () => Results.Json(new JsonArray([.. context.Models.Loras().Select(l => (JsonNode)new JsonObject
        {
            ["name"] = Path.GetFileNameWithoutExtension(l),
            ["alias"] = Path.GetFileNameWithoutExtension(l),
            ["path"] = l,
            ["metadata"] = new JsonObject(),
        })])));
        foreach (var empty in new[] { "upscalers", "latent-upscale-modes", "hypernetworks", "face-restorers", "realesrgan-models", "prompt-styles", "script-info", "extensions", "sd-modules" })
            app.MapGet("/sdapi/v1/" + empty, () => Results.Json(new JsonArray()));
        app.MapGet("/sdapi/v1/scripts", () => Results.Json(new JsonObject { ["txt2img"] = new JsonArray(), ["img2img"] = new JsonArray() }));
        app.MapGet("/sdapi/v1/embeddings", () => Results.Json(new JsonObject { ["loaded"] = new JsonObject(), ["skipped"] = new JsonObject() }));
        foreach (var refresh in new[] { "refresh-checkpoints", "refresh-vae", "refresh-loras", "refresh-embeddings" })
            app.MapPost("/sdapi/v1/" + refresh, () => JsonNull.Result()); // the lists are read from disk on every call
        app.MapGet("/sdapi/v1/cmd-flags", () => Results.Json(new JsonObject
        {
            ["api"] = true,
            ["nowebui"] = true,
            ["port"] = context.Options.Port,
            ["listen"] = context.Options.Listen,
            ["ckpt_dir"] = context.Models.Root,
            ["lora_dir"] = Path.Combine(context.Models.Root, "Lora"),
            ["vae_dir"] = Path.Combine(context.Models.Root, "VAE"),
            ["cors_allow_origins"] = context.Options.CorsAllowOrigins.Count == 0 ? null : string.Join(',', context.Options.CorsAllowOrigins),
            ["cors_allow_origins_regex"] = context.Options.CorsAllowOriginsRegex,
            ["lowram"] = context.Options.LowMemory,
        }));
        app.MapGet("/sdapi/v1/memory", () => Results.Json(Memory()));
        app.MapPost("/sdapi/v1/png-info", (Delegate)(async (HttpContext http) => Results.Json(PngInfo(await RequestBody.ReadObject(http)))));
        app.MapGet("/internal/ping", () => Results.Json(new JsonObject()));
        app.MapPost("/login", () => Results.Json(new JsonObject { ["success"] = true }));
    }

    /// <summary>An <c>sd-models</c> entry; the hash only once known (A1111 does not hash every file to list it).</summary>
    internal static JsonObject Checkpoint(ModelFolder models, ModelFolder.Checkpoint c)
    {
        string? sha = models.KnownSha256(c.Path);
        string config = Path.ChangeExtension(c.Path, ".yaml");
        return new JsonObject
        {
            ["title"] = sha is null ? c.Name : $"{c.Name} [{sha[..10]}]",
            ["model_name"] = c.ModelName,
            ["hash"] = sha?[..10],
            ["sha256"] = sha,
            ["filename"] = c.Path,
            ["config"] = File.Exists(config) ? config : null,
        };
    }

    private static JsonObject PngInfo(JsonObject body)
    {
        string? image = body["image"] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        if (string.IsNullOrWhiteSpace(image)) throw new ApiException(404, "Image not found");
        var bytes = ApiImages.Bytes(image, "image");
        IReadOnlyDictionary<string, string> chunks;
        try
        {
            chunks = ImageFiles.ReadPngText(bytes, "image");
        }
        catch (ImageInputException)
        {
            chunks = new Dictionary<string, string>(); // not a PNG: no text chunks (EXIF comments are not read yet)
        }
        string info = chunks.TryGetValue("parameters", out var p) ? p : "";
        var items = new JsonObject();
        foreach (var (key, value) in chunks)
            if (key != "parameters") items[key] = value;
        var parameters = new JsonObject();
        if (info.Length > 0)
        {
            try
            {
                var parsed = GenerationInfo.Parse(info);
                parameters["Prompt"] = parsed.Prompt;
                parameters["Negative prompt"] = parsed.NegativePrompt;
                parameters["Steps"] = parsed.Steps.ToString(System.Globalization.CultureInfo.InvariantCulture);
                parameters["Sampler"] = parsed.Sampler;
                parameters["CFG scale"] = parsed.CfgScale.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                parameters["Seed"] = parsed.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture);
                parameters["Size-1"] = parsed.Width.ToString(System.Globalization.CultureInfo.InvariantCulture);
                parameters["Size-2"] = parsed.Height.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (parsed.ModelHash is { } hash) parameters["Model hash"] = hash;
                if (parsed.ModelName is { } model) parameters["Model"] = model;
                if (parsed.DenoisingStrength is { } strength) parameters["Denoising strength"] = strength.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                foreach (var (key, value) in parsed.Extra) parameters[key] = value;
            }
            catch (FormatException)
            {
                parameters["Prompt"] = info; // text without a parameters line: all prompt, as A1111 reads it
            }
        }
        return new JsonObject { ["info"] = info, ["items"] = items, ["parameters"] = parameters };
    }

    /// <summary>A1111's <c>memory</c>: the process's resident memory against the machine's; no CUDA here.</summary>
    private static JsonObject Memory()
    {
        long used = Environment.WorkingSet;
        long total = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return new JsonObject
        {
            ["ram"] = new JsonObject { ["free"] = (double)Math.Max(0, total - used), ["used"] = (double)used, ["total"] = (double)total },
            ["cuda"] = new JsonObject { ["error"] = "CUDA is not used by this server (CPU)" },
        };
    }
}
