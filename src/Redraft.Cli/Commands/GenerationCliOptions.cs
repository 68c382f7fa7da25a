using System.CommandLine;
using Redraft.Diffusion.Checkpoints;
using Redraft.Studio.Generation;
using S = Redraft.Studio.Generation.GenerationSettings;

namespace Redraft.Cli.Commands;

/// <summary>Which command the generation options are for: they share names, and differ in defaults and in which apply.</summary>
internal enum GenerationCommand { Txt2Img, Img2Img, DocGenerate, DocHarmonize }

/// <summary>
/// The generation options of <c>txt2img</c>, <c>img2img</c>, <c>doc generate</c> and <c>doc harmonize</c>, named
/// from <see cref="GenerationParameters"/> (the option names are a contract for scripts) and read into one
/// <see cref="GenerationSettings"/>. The command line's defaults live here: 20 steps, CFG 7.5, Euler a.
/// </summary>
internal sealed class GenerationCliOptions
{
    private static string Name(string property) => GenerationParameters.Cli(property);
    private static string Help(string property) => GenerationParameters.Of(property).Description;

    private static Option<T> Make<T>(string property, Func<T>? defaultValue = null, bool required = false)
    {
        var option = new Option<T>(Name(property)) { Description = Help(property), Required = required };
        if (defaultValue is not null) option.DefaultValueFactory = _ => defaultValue();
        return option;
    }

    private readonly GenerationCommand _command;

    public readonly Option<string> Model = Make<string>(nameof(S.Model), required: true);
    public readonly Option<string?> Config = Make<string?>(nameof(S.Config));
    public readonly Option<string?> Vae = Make<string?>(nameof(S.Vae));
    public readonly Option<string> Prompt = Make<string>(nameof(S.Prompt), required: true);
    public readonly Option<string> Negative = Make(nameof(S.Negative), () => "");
    public readonly Option<int?> Width;
    public readonly Option<int?> Height;
    public readonly Option<int> Steps = Make(nameof(S.Steps), () => 20);
    public readonly Option<double> Cfg = Make(nameof(S.Cfg), () => 7.5);
    public readonly Option<string> Sampler = Make(nameof(S.Sampler), () => "Euler a");
    public readonly Option<string?> Schedule = Make<string?>(nameof(S.Schedule));
    public readonly Option<double?> Eta = Make<double?>(nameof(S.Eta));
    public readonly Option<long> Seed = Make(nameof(S.Seed), () => -1L);
    public readonly Option<long> Subseed = Make(nameof(S.Subseed), () => -1L);
    public readonly Option<double> SubseedStrength = Make(nameof(S.SubseedStrength), () => 0.0);
    public readonly Option<int> SeedResizeFromWidth = Make(nameof(S.SeedResizeFromWidth), () => 0);
    public readonly Option<int> SeedResizeFromHeight = Make(nameof(S.SeedResizeFromHeight), () => 0);
    public readonly Option<string> Rng = Make(nameof(S.Rng), () => "cpu");
    public readonly Option<int> Batch = Make(nameof(S.BatchSize), () => 1);
    public readonly Option<int> BatchCount = Make(nameof(S.BatchCount), () => 1);
    public readonly Option<double> Strength;
    public readonly Option<int> MaskBlur = Make(nameof(S.MaskBlur), () => 4);
    public readonly Option<string?> InpaintArea;
    public readonly Option<int> InpaintPadding = Make(nameof(S.InpaintPadding), () => 32);
    public readonly Option<string> MaskedContent = Make(nameof(S.MaskedContent), () => "original");
    public readonly Option<bool> MaskInvert = Make<bool>(nameof(S.MaskInvert));
    public readonly Option<string?> Tokenizer = Make<string?>(nameof(S.Tokenizer));
    public readonly Option<string?> Taesd = Make<string?>(nameof(S.Taesd));
    public readonly Option<string[]> Lora = Make<string[]>(nameof(S.Loras));
    public readonly Option<string> DType = Make(nameof(S.DType), () => "auto");
    public readonly Option<string> VaeDType = Make(nameof(S.VaeDType), () => "fp32");
    public readonly Option<string> Kernels = Make(nameof(S.Kernels), () => "auto");
    public readonly Option<string> Device = Make(nameof(S.Device), () => "cpu");
    public readonly Option<int?> Threads = Make<int?>(nameof(S.Threads));
    public readonly Option<bool> LowMemory = Make<bool>(nameof(S.LowMemory));
    public readonly Option<bool?> VaeTiling = Make<bool?>(nameof(S.VaeTiling));
    public readonly Option<string?> Prediction = Make<string?>(nameof(S.Prediction));
    public readonly Option<bool> ZeroTerminalSnr = Make<bool>(nameof(S.ZeroTerminalSnr));
    public readonly Option<string?> Preview = new("--preview") { Description = "Write a live preview PNG (TAESD decode of the current estimate) to this file while sampling" };
    public readonly Option<int> PreviewEvery = Make(nameof(S.PreviewEvery), () => 2);

    public GenerationCliOptions(GenerationCommand command)
    {
        _command = command;
        bool document = command is GenerationCommand.DocGenerate or GenerationCommand.DocHarmonize;
        Width = document ? Make<int?>(nameof(S.Width)) : Make<int?>(nameof(S.Width), () => 512);
        Height = document ? Make<int?>(nameof(S.Height)) : Make<int?>(nameof(S.Height), () => 512);
        if (document)
        {
            Width.Description += command == GenerationCommand.DocHarmonize
                ? " (default: the canvas's, rounded to 8)"
                : " (default: a region's working size, else the canvas's rounded to 8)";
            Height.Description += " (default: as --width)";
        }
        Strength = Make(nameof(S.Strength), () => command == GenerationCommand.DocHarmonize ? 0.3 : 0.75);
        InpaintArea = Make<string?>(nameof(S.InpaintArea), () => command == GenerationCommand.DocGenerate ? "masked" : "whole");
        if (command == GenerationCommand.DocHarmonize)
        {
            // One picture per harmonize: the "image i" of the seed options does not arise.
            Seed.Description = "Seed; -1 = random";
            Subseed.Description = "Variation seed mixed into the seed's noise; -1 = random";
        }
        SubseedStrength.Aliases.Add("--variation-strength");
        if (command is GenerationCommand.Txt2Img or GenerationCommand.Img2Img)
        {
            // The generating commands fetch the catalogue's default on first use (ModelSetup).
            Model.Required = false;
            Model.Description += "; or a catalogue or installed model's name (redraft models list); default: the catalogue's default, downloaded on first use";
        }
        Lora.AllowMultipleArgumentsPerToken = false;
    }

    /// <summary>The options that apply to this command, in help order.</summary>
    public IEnumerable<Option> All()
    {
        yield return Model; yield return Config; yield return Vae; yield return Prompt; yield return Negative;
        yield return Width; yield return Height; yield return Steps; yield return Cfg; yield return Sampler; yield return Schedule;
        yield return Eta; yield return Seed; yield return Subseed; yield return SubseedStrength;
        yield return SeedResizeFromWidth; yield return SeedResizeFromHeight; yield return Rng;
        if (_command is GenerationCommand.Txt2Img or GenerationCommand.Img2Img)
        {
            yield return Batch;
            yield return BatchCount;
        }
        if (_command != GenerationCommand.Txt2Img) yield return Strength;
        if (_command is GenerationCommand.Img2Img or GenerationCommand.DocGenerate)
        {
            yield return MaskBlur; yield return InpaintArea; yield return InpaintPadding; yield return MaskedContent; yield return MaskInvert;
        }
        yield return Tokenizer; yield return Taesd; yield return Lora; yield return DType; yield return VaeDType; yield return Kernels;
        yield return Device; yield return Threads; yield return LowMemory; yield return VaeTiling; yield return Prediction;
        yield return ZeroTerminalSnr; yield return Preview; yield return PreviewEvery;
    }

    public void AddTo(Command command)
    {
        foreach (var option in All()) command.Options.Add(option);
    }

    /// <summary>The settings the command line asked for (unresolved: seeds may be -1).</summary>
    public GenerationSettings Read(ParseResult p) => new()
    {
        Prompt = p.GetValue(Prompt)!,
        Negative = p.GetValue(Negative) ?? "",
        Steps = p.GetValue(Steps),
        Cfg = p.GetValue(Cfg),
        Sampler = p.GetValue(Sampler)!,
        Schedule = p.GetValue(Schedule),
        Eta = p.GetValue(Eta),
        Seed = p.GetValue(Seed),
        Subseed = p.GetValue(Subseed),
        SubseedStrength = p.GetValue(SubseedStrength),
        SeedResizeFromWidth = p.GetValue(SeedResizeFromWidth),
        SeedResizeFromHeight = p.GetValue(SeedResizeFromHeight),
        Rng = p.GetValue(Rng)!,
        Width = p.GetValue(Width),
        Height = p.GetValue(Height),
        BatchSize = p.GetValue(Batch),
        BatchCount = p.GetValue(BatchCount),
        Strength = _command == GenerationCommand.Txt2Img ? 0 : p.GetValue(Strength),
        MaskBlur = p.GetValue(MaskBlur),
        InpaintArea = p.GetValue(InpaintArea),
        InpaintPadding = p.GetValue(InpaintPadding),
        MaskedContent = p.GetValue(MaskedContent)!,
        MaskInvert = p.GetValue(MaskInvert),
        Model = p.GetValue(Model)!,
        Config = p.GetValue(Config),
        Vae = p.GetValue(Vae),
        Tokenizer = p.GetValue(Tokenizer),
        Taesd = p.GetValue(Taesd),
        Loras = [.. (p.GetValue(Lora) ?? []).Select(LoraSpec.Parse)],
        DType = p.GetValue(DType)!,
        VaeDType = p.GetValue(VaeDType)!,
        Kernels = p.GetValue(Kernels)!,
        Device = p.GetValue(Device)!,
        Threads = p.GetValue(Threads),
        LowMemory = p.GetValue(LowMemory),
        VaeTiling = p.GetValue(VaeTiling),
        Prediction = p.GetValue(Prediction),
        ZeroTerminalSnr = p.GetValue(ZeroTerminalSnr),
        PreviewEvery = p.GetValue(PreviewEvery) < 1
            ? throw new RedraftInputException($"--preview-every must be a number of steps (1 or more), got {p.GetValue(PreviewEvery)}.")
            : p.GetValue(Preview) is null ? 0 : p.GetValue(PreviewEvery),
    };

    /// <summary>Says on stderr, in one line, when the decode was tiled because the request would not fit in memory otherwise.</summary>
    public static void NoteTiling(string command, GenerationSettings requested, GenerationSettings? resolved)
    {
        if (requested.VaeTiling is null && resolved is { VaeTiling: true, Width: { } width, Height: { } height })
            Console.Error.WriteLine($"{command}: note: {width}x{height} does not fit in memory with a whole-image decode; the VAE decodes in tiles (as with {Name(nameof(S.VaeTiling))}).");
    }

    /// <summary>Where <c>--preview</c> writes, checked before any work starts.</summary>
    public string? PreviewPath(ParseResult p)
    {
        var path = p.GetValue(Preview);
        if (path is not null) OutputFiles.Paths(path, 1);
        return path;
    }
}
