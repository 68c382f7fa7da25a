using System.CommandLine;
using Redraft.Models;
using Redraft.Studio.Generation;

namespace Redraft.Cli.Commands;

/// <summary>
/// A generating command's models before it runs: <c>--model</c> (a path, a catalogue name or an installed model's
/// name; none = the catalogue's default) made a path, downloading it on first use; the CLIP vocabulary and, for
/// <c>--preview</c>, TAESD the same way; and a catalogue model's own settings (SD-Turbo: 1 step, CFG 1) for the
/// sampling options the command line left at their defaults.
/// </summary>
internal static class ModelSetup
{
    public static async Task<GenerationSettings> PrepareAsync(GenerationSettings requested, ParseResult parse, GenerationCliOptions o, ModelOptions mo, string command, CancellationToken ct)
    {
        var library = mo.Library(parse);
        bool accept = parse.GetValue(mo.AcceptLicence);
        var choice = library.Choose(string.IsNullOrEmpty(requested.Model) ? null : requested.Model);
        string path = choice.Path ?? (await ModelOptions.EnsureAsync(library, choice.Download!, accept, command, ct)).Path;
        var settings = requested with { Model = path };

        if (choice.Entry?.Settings is { } tuned)
        {
            var applied = new List<string>();
            if (tuned.Steps is { } steps && NotGiven(parse, o.Steps)) { settings = settings with { Steps = steps }; applied.Add($"{GenerationParameters.Cli(nameof(GenerationSettings.Steps))} {steps}"); }
            if (tuned.Cfg is { } cfg && NotGiven(parse, o.Cfg)) { settings = settings with { Cfg = cfg }; applied.Add($"{GenerationParameters.Cli(nameof(GenerationSettings.Cfg))} {cfg}"); }
            if (tuned.Sampler is { } sampler && NotGiven(parse, o.Sampler)) { settings = settings with { Sampler = sampler }; applied.Add($"{GenerationParameters.Cli(nameof(GenerationSettings.Sampler))} \"{sampler}\""); }
            if (applied.Count > 0) Console.Error.WriteLine($"{command}: note: {choice.Entry.Name} runs with {string.Join(", ", applied)} unless given.");
        }

        // The vocabulary: a diffusers folder brings its own; otherwise the catalogue's, unless found (HF cache, $REDRAFT_HOME/clip).
        if (settings.Tokenizer is null && !Directory.Exists(path) && library.Catalogue.Entries.FirstOrDefault(e => e.Role == ModelRole.Tokenizer) is { } tokenizer)
            await ModelOptions.EnsureAsync(library, tokenizer, accept, command, ct);
        if (settings.PreviewEvery > 0 && settings.Taesd is null && library.Catalogue.Entries.FirstOrDefault(e => e.Role == ModelRole.Taesd) is { } taesd)
            await ModelOptions.EnsureAsync(library, taesd, accept, command, ct);
        return settings;
    }

    private static bool NotGiven(ParseResult parse, Option option) => parse.GetResult(option) is null or { Implicit: true };
}
