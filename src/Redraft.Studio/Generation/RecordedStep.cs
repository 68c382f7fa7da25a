using System.Text.Json.Nodes;
using Redraft.Diffusion.Checkpoints;
using static Redraft.Studio.Generation.GenerationParameters;

namespace Redraft.Studio.Generation;

/// <summary>How a document step mapped its region (or mask) onto the model.</summary>
internal enum RegionMode
{
    /// <summary>
    /// The region is cropped, run at the settings' size (default: its own size rounded to 8) and stretched back as
    /// an opaque layer; a mask is cropped with it. Whole-canvas steps, harmonize, <c>--region-native</c>, and every
    /// step recorded before working sizes existed (their rows have no mode).
    /// </summary>
    Crop,

    /// <summary>
    /// The region (or mask) is regenerated through the operation mask over the whole composite: its box plus padding
    /// runs at the working size (the model's native size on the short side) and is pasted back through the blurred
    /// mask; the candidate is the changed rectangle.
    /// </summary>
    Working,
}

/// <summary>
/// One generate or harmonize step as the history stores it (the row's parameters JSON): the resolved settings
/// (keys from <see cref="GenerationParameters"/>) plus where on the canvas it worked. Enough to run it again byte
/// for byte. Rows written before a key existed read it as that key's behaviour at the time.
/// </summary>
internal sealed record RecordedStep
{
    public required string Kind { get; init; }
    public required GenerationSettings Settings { get; init; }
    public required Region Region { get; init; }
    public RegionMode Mode { get; init; }
    /// <summary>The operation mask over the canvas; stored in the document under <see cref="MaskHash"/>.</summary>
    public MaskImage? Mask { get; init; }
    public string? MaskHash { get; init; }

    public JsonObject ToJson()
    {
        var s = Settings;
        return new JsonObject
        {
            ["kind"] = Kind,
            [History(nameof(s.Prompt))] = s.Prompt,
            [History(nameof(s.Negative))] = s.Negative,
            [History(nameof(s.Steps))] = s.Steps,
            [History(nameof(s.Cfg))] = s.Cfg,
            [History(nameof(s.Sampler))] = s.Sampler,
            [History(nameof(s.Schedule))] = s.Schedule,
            [History(nameof(s.Eta))] = s.Eta,
            [History(nameof(s.Seed))] = s.Seed,
            [History(nameof(s.Subseed))] = s.Subseed,
            [History(nameof(s.SubseedStrength))] = s.SubseedStrength,
            [History(nameof(s.SeedResizeFromWidth))] = s.SeedResizeFromWidth,
            [History(nameof(s.SeedResizeFromHeight))] = s.SeedResizeFromHeight,
            [History(nameof(s.Rng))] = s.Rng,
            [History(nameof(s.Strength))] = s.Strength,
            [History(nameof(s.BatchSize))] = s.BatchSize,
            [History(nameof(s.BatchCount))] = s.BatchCount,
            [History(nameof(s.Width))] = s.Width,
            [History(nameof(s.Height))] = s.Height,
            ["region"] = Region.ToString(),
            ["region_mode"] = Mode == RegionMode.Working ? "working" : "crop",
            ["mask"] = MaskHash,
            [History(nameof(s.ResizeMode))] = s.ResizeMode,
            [History(nameof(s.MaskBlur))] = s.MaskBlur,
            [History(nameof(s.InpaintArea))] = s.InpaintArea,
            [History(nameof(s.InpaintPadding))] = s.InpaintPadding,
            [History(nameof(s.MaskedContent))] = s.MaskedContent,
            [History(nameof(s.MaskInvert))] = s.MaskInvert,
            [History(nameof(s.Model))] = s.Model,
            [History(nameof(s.Config))] = s.Config,
            [History(nameof(s.Vae))] = s.Vae,
            [History(nameof(s.Tokenizer))] = s.Tokenizer,
            [History(nameof(s.Taesd))] = s.Taesd,
            [History(nameof(s.Loras))] = new JsonArray([.. s.Loras.Select(l => (JsonNode)JsonValue.Create(l.ToString()))]),
            [History(nameof(s.DType))] = s.DType,
            [History(nameof(s.VaeDType))] = s.VaeDType,
            [History(nameof(s.Kernels))] = s.Kernels,
            [History(nameof(s.Device))] = s.Device,
            [History(nameof(s.Threads))] = s.Threads,
            [History(nameof(s.LowMemory))] = s.LowMemory,
            [History(nameof(s.VaeTiling))] = s.VaeTiling,
            [History(nameof(s.Prediction))] = s.Prediction,
            [History(nameof(s.ZeroTerminalSnr))] = s.ZeroTerminalSnr,
        };
    }

    /// <exception cref="StudioInputException">The row is not a generation's parameters.</exception>
    public static RecordedStep FromJson(JsonObject o)
    {
        try
        {
            var defaults = new GenerationSettings { Prompt = "", Model = "" };
            T Get<T>(string property, T fallback) => o[History(property)] is { } node ? node.GetValue<T>() : fallback;
            T? Optional<T>(string property) where T : struct => o[History(property)] is { } node ? node.GetValue<T>() : null;
            string? Text(string property) => (string?)o[History(property)];
            return new RecordedStep
            {
                Kind = (string)o["kind"]!,
                Settings = new GenerationSettings
                {
                    Prompt = Text(nameof(defaults.Prompt))!,
                    Negative = Text(nameof(defaults.Negative)) ?? "",
                    Steps = (int)o[History(nameof(defaults.Steps))]!,
                    Cfg = (double)o[History(nameof(defaults.Cfg))]!,
                    Sampler = Text(nameof(defaults.Sampler))!,
                    Schedule = Text(nameof(defaults.Schedule)),
                    Eta = Optional<double>(nameof(defaults.Eta)),
                    Seed = (long)o[History(nameof(defaults.Seed))]!,
                    Subseed = Get(nameof(defaults.Subseed), 0L),
                    SubseedStrength = Get(nameof(defaults.SubseedStrength), 0.0),
                    SeedResizeFromWidth = Get(nameof(defaults.SeedResizeFromWidth), 0),
                    SeedResizeFromHeight = Get(nameof(defaults.SeedResizeFromHeight), 0),
                    Rng = Text(nameof(defaults.Rng)) ?? "cpu",
                    Strength = (double)o[History(nameof(defaults.Strength))]!,
                    BatchSize = (int)o[History(nameof(defaults.BatchSize))]!,
                    BatchCount = Get(nameof(defaults.BatchCount), 1),
                    Width = (int)o[History(nameof(defaults.Width))]!,
                    Height = (int)o[History(nameof(defaults.Height))]!,
                    ResizeMode = Text(nameof(defaults.ResizeMode)) ?? "just-resize",
                    MaskBlur = Get(nameof(defaults.MaskBlur), 4),
                    // Before the key existed every masked document step ran "only masked".
                    InpaintArea = Text(nameof(defaults.InpaintArea)) ?? "masked",
                    InpaintPadding = Get(nameof(defaults.InpaintPadding), 32),
                    MaskedContent = Text(nameof(defaults.MaskedContent)) ?? "original",
                    MaskInvert = Get(nameof(defaults.MaskInvert), false),
                    Model = Text(nameof(defaults.Model))!,
                    Config = Text(nameof(defaults.Config)),
                    Vae = Text(nameof(defaults.Vae)),
                    Tokenizer = Text(nameof(defaults.Tokenizer)),
                    Taesd = Text(nameof(defaults.Taesd)),
                    Loras = o[History(nameof(defaults.Loras))] is JsonArray loras ? [.. loras.Select(l => LoraSpec.Parse((string)l!))] : [],
                    DType = Text(nameof(defaults.DType)) ?? "auto",
                    VaeDType = Text(nameof(defaults.VaeDType)) ?? "fp32",
                    Kernels = Text(nameof(defaults.Kernels)) ?? "auto",
                    Device = Text(nameof(defaults.Device)) ?? "cpu",
                    Threads = Optional<int>(nameof(defaults.Threads)),
                    LowMemory = Get(nameof(defaults.LowMemory), false),
                    VaeTiling = Get(nameof(defaults.VaeTiling), false),
                    Prediction = Text(nameof(defaults.Prediction)),
                    ZeroTerminalSnr = Get(nameof(defaults.ZeroTerminalSnr), false),
                },
                Region = Region.Parse((string)o["region"]!),
                Mode = (string?)o["region_mode"] == "working" ? RegionMode.Working : RegionMode.Crop,
                MaskHash = (string?)o["mask"],
            };
        }
        catch (Exception ex) when (ex is NullReferenceException or InvalidOperationException or FormatException or RedraftInputException)
        {
            throw new StudioInputException($"the step's recorded parameters are incomplete or malformed ({ex.Message}); it cannot be re-run.", ex);
        }
    }
}
