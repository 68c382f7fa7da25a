using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// The lists A1111 clients read on connect (models, samplers, schedulers, VAEs, LoRAs, …), <c>png-info</c>,
/// <c>memory</c> and <c>cmd-flags</c>, written as A1111's response models (<c>ApiModels.cs</c>). Lists of features
/// Redraft does not have answer as an A1111 without them: empty.
/// </summary>
internal static class ListEndpoints
{
    public static void Map(WebApplication app, ApiContext context)
    {
        app.MapGet("/sdapi/v1/sd-models", () => ApiJson.Ok(FleetCanRun(context).Select(c => Checkpoint(context.Models, c)).ToList()));
        app.MapGet("/sdapi/v1/samplers", () => ApiJson.Ok(A1111Samplers.Listed.Select(s => new SamplerItem(s.Name, s.Aliases,
            A1111Samplers.DefaultScheduler(s.Name) is { } scheduler ? new Dictionary<string, string> { ["scheduler"] = scheduler } : new Dictionary<string, string>())).ToList()));
        app.MapGet("/sdapi/v1/schedulers", () => ApiJson.Ok(A1111Samplers.Schedulers.Where(s => s.Redraft is not null)
            .Select(s => new SchedulerItem(s.Name, s.Label, s.Aliases, s.DefaultRho, s.NeedInnerModel)).ToList()));
        app.MapGet("/sdapi/v1/sd-vae", () => ApiJson.Ok(Vaes(context)));
        // Forge's list of VAEs and text encoders; clients probe it to tell Forge from A1111. Redraft's modules are its VAEs.
        app.MapGet("/sdapi/v1/sd-modules", () => ApiJson.Ok(Vaes(context)));
        app.MapGet("/sdapi/v1/loras", () => ApiJson.Ok(context.Models.Loras().Select(l => LoraMetadata.Item(l)).ToList()));
        // Features Redraft does not have answer as an A1111 without them: empty lists of A1111's item models.
        app.MapGet("/sdapi/v1/upscalers", () => ApiJson.Ok(Array.Empty<UpscalerItem>()));
        app.MapGet("/sdapi/v1/latent-upscale-modes", () => ApiJson.Ok(Array.Empty<LatentUpscalerModeItem>()));
        app.MapGet("/sdapi/v1/hypernetworks", () => ApiJson.Ok(Array.Empty<HypernetworkItem>()));
        app.MapGet("/sdapi/v1/face-restorers", () => ApiJson.Ok(Array.Empty<FaceRestorerItem>()));
        app.MapGet("/sdapi/v1/realesrgan-models", () => ApiJson.Ok(Array.Empty<RealesrganItem>()));
        app.MapGet("/sdapi/v1/prompt-styles", () => ApiJson.Ok(context.Styles.All().Select(s => new PromptStyleItem(s.Name, s.Prompt, s.NegativePrompt)).ToArray()));
        app.MapGet("/sdapi/v1/script-info", () => ApiJson.Ok(Array.Empty<ScriptInfo>()));
        app.MapGet("/sdapi/v1/extensions", () => ApiJson.Ok(Array.Empty<ExtensionItem>()));
        app.MapGet("/sdapi/v1/scripts", () => ApiJson.Ok(new ScriptsList([], [])));
        app.MapGet("/sdapi/v1/embeddings", () => ApiJson.Ok(new EmbeddingsResponse(new Dictionary<string, EmbeddingItem>(), new Dictionary<string, EmbeddingItem>())));
        foreach (var refresh in new[] { "refresh-vae", "refresh-loras", "refresh-embeddings" })
            app.MapPost("/sdapi/v1/" + refresh, () => ApiJson.Null); // these lists are read from disk on every call
        app.MapGet("/sdapi/v1/cmd-flags", (HttpContext http) => ApiJson.Ok(CmdFlags.Of(context.Options, context.Models, http.Connection.LocalPort, context.Styles.FilePath)));
        app.MapGet("/sdapi/v1/memory", () => ApiJson.Ok(Memory()));
        app.MapPost("/sdapi/v1/png-info", (Delegate)(async (HttpContext http) => ApiJson.Ok(PngInfo(await RequestBody.ReadObject(http)))));
        app.MapGet("/internal/ping", () => ApiJson.Ok(new EmptyObject()));
        app.MapPost("/login", () => ApiJson.Ok(new LoginResponse(true)));
    }

    /// <summary>
    /// The checkpoints a request may name: with <c>--broker</c> and workers heard from, those whose bytes a live
    /// worker serves (jobs go by content, so only those can run); otherwise all of the server's.
    /// </summary>
    private static IEnumerable<ModelFolder.Checkpoint> FleetCanRun(ApiContext context)
    {
        var all = context.Models.Checkpoints();
        if (context.Queue is not Jobs.BrokerJobQueue broker || broker.Workers.Models() is not { Count: > 0 } fleet) return all;
        var served = fleet.Select(m => m.Sha256).ToHashSet(StringComparer.Ordinal);
        return all.Where(c => served.Contains(context.Models.Sha256(c.Path)));
    }

    /// <summary>An <c>sd-models</c> entry; the hash only once known (A1111 does not hash every file to list it).</summary>
    internal static SdModelItem Checkpoint(ModelFolder models, ModelFolder.Checkpoint c)
    {
        string? sha = models.KnownSha256(c.Path);
        string config = Path.ChangeExtension(c.Path, ".yaml");
        return new SdModelItem(ModelFolder.Title(c, sha), c.ModelName, sha?[..10], sha, c.Path, File.Exists(config) ? config : null);
    }

    private static List<SdVaeItem> Vaes(ApiContext context) =>
        context.Models.Vaes().Select(v => new SdVaeItem(Path.GetFileName(v), v)).ToList();

    private static PngInfoResponse PngInfo(JsonObject body)
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
        return new PngInfoResponse(info, items, parameters);
    }

    /// <summary>A1111's <c>memory</c>: the process's resident memory against the machine's; no CUDA ("unavailable", as A1111 on a CPU).</summary>
    private static MemoryResponse Memory()
    {
        long used = Environment.WorkingSet;
        long total = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return new MemoryResponse(new MemoryRam(Math.Max(0, total - used), used, total), new MemoryError("unavailable"));
    }
}
