using System.Text.Json.Nodes;

namespace Redraft.Studio.Generation;

/// <summary>
/// One generate or harmonize step as the history stores it (the row's parameters JSON): the settings with paths
/// made absolute and the seed resolved, plus where on the canvas it worked. Enough to run it again byte for byte.
/// </summary>
internal sealed record RecordedStep
{
    public required string Kind { get; init; }
    public required GenerationSettings Settings { get; init; }
    public double Strength { get; init; }
    public int Variations { get; init; } = 1;
    public int Width { get; init; }
    public int Height { get; init; }
    public required Region Region { get; init; }
    /// <summary>The inpainting mask over the canvas; stored in the document under <see cref="MaskHash"/>.</summary>
    public MaskImage? Mask { get; init; }
    public string? MaskHash { get; init; }
    public int MaskBlur { get; init; } = 4;
    public int InpaintPadding { get; init; } = 32;

    public JsonObject ToJson()
    {
        var s = Settings;
        return new JsonObject
        {
            ["kind"] = Kind,
            ["prompt"] = s.Prompt,
            ["negative"] = s.Negative,
            ["steps"] = s.Steps,
            ["cfg"] = s.Cfg,
            ["sampler"] = s.Sampler,
            ["schedule"] = s.Schedule,
            ["eta"] = s.Eta,
            ["seed"] = s.Seed,
            ["rng"] = s.Rng,
            ["strength"] = Strength,
            ["variations"] = Variations,
            ["width"] = Width,
            ["height"] = Height,
            ["region"] = Region.ToString(),
            ["mask"] = MaskHash,
            ["mask_blur"] = MaskBlur,
            ["inpaint_padding"] = InpaintPadding,
            ["model"] = s.Model,
            ["config"] = s.Config,
            ["vae"] = s.Vae,
            ["tokenizer"] = s.Tokenizer,
            ["dtype"] = s.DType,
            ["vae_dtype"] = s.VaeDType,
            ["device"] = s.Device,
            ["threads"] = s.Threads,
        };
    }

    /// <exception cref="StudioInputException">The row is not a generation's parameters.</exception>
    public static RecordedStep FromJson(JsonObject o)
    {
        try
        {
            return new RecordedStep
            {
                Kind = (string)o["kind"]!,
                Settings = new GenerationSettings
                {
                    Prompt = (string)o["prompt"]!,
                    Negative = (string?)o["negative"] ?? "",
                    Steps = (int)o["steps"]!,
                    Cfg = (double)o["cfg"]!,
                    Sampler = (string)o["sampler"]!,
                    Schedule = (string?)o["schedule"],
                    Eta = (double?)o["eta"],
                    Seed = (long)o["seed"]!,
                    Rng = (string?)o["rng"] ?? "cpu",
                    Model = (string)o["model"]!,
                    Config = (string?)o["config"],
                    Vae = (string?)o["vae"],
                    Tokenizer = (string?)o["tokenizer"],
                    DType = (string?)o["dtype"] ?? "auto",
                    VaeDType = (string?)o["vae_dtype"] ?? "fp32",
                    Device = (string?)o["device"] ?? "cpu",
                    Threads = (int?)o["threads"],
                },
                Strength = (double)o["strength"]!,
                Variations = (int)o["variations"]!,
                Width = (int)o["width"]!,
                Height = (int)o["height"]!,
                Region = Region.Parse((string)o["region"]!),
                MaskHash = (string?)o["mask"],
                MaskBlur = (int?)o["mask_blur"] ?? 4,
                InpaintPadding = (int?)o["inpaint_padding"] ?? 32,
            };
        }
        catch (Exception ex) when (ex is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new StudioInputException($"the step's recorded parameters are incomplete or malformed ({ex.Message}); it cannot be re-run.", ex);
        }
    }
}
