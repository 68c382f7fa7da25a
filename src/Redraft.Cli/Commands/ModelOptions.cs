using System.CommandLine;
using Redraft.Models;

namespace Redraft.Cli.Commands;

/// <summary>The options that say where models live and whether the network may be used, shared by <c>models</c> and the generating commands.</summary>
internal sealed class ModelOptions
{
    public readonly Option<string?> ModelsDir = new("--models-dir") { Description = "Folder Redraft installs checkpoints into (VAEs in VAE/, LoRAs in Lora/); default: $REDRAFT_HOME/models" };
    public readonly Option<string?> A1111Dir = new("--a1111-dir") { Description = "An AUTOMATIC1111 folder whose models/Stable-diffusion, models/VAE and models/Lora are used in place (default: $REDRAFT_A1111_DIR)" };
    public readonly Option<bool> Offline = new("--offline") { Description = "Never use the network (as HF_HUB_OFFLINE=1): a missing model is an error naming the command that fetches it" };
    public readonly Option<bool> AcceptLicence = new("--accept-licence") { Description = "Accept the licence of a model that asks for it without asking (for scripts)" };

    public void AddTo(Command command, bool licence = true)
    {
        command.Options.Add(ModelsDir);
        command.Options.Add(A1111Dir);
        command.Options.Add(Offline);
        if (licence) command.Options.Add(AcceptLicence);
    }

    /// <summary>The library for these options and the environment.</summary>
    public ModelLibrary Library(ParseResult parse)
    {
        var hub = HubEnvironment.Current;
        if (parse.GetValue(Offline)) hub = hub with { Offline = true };
        return new ModelLibrary(ModelCatalogue.Load(), ModelPlaces.From(parse.GetValue(ModelsDir), parse.GetValue(A1111Dir), hub), new ModelDownloader(hub));
    }

    /// <summary>
    /// Makes sure a catalogue entry is on disk: says what it downloads and how big, then downloads it with the bar;
    /// with <c>--offline</c> (or <c>HF_HUB_OFFLINE</c>) refuses, naming the command that fetches it.
    /// </summary>
    public static async Task<InstalledModel> EnsureAsync(ModelLibrary library, CatalogueEntry entry, bool acceptLicence, string command, CancellationToken ct)
    {
        if (library.FindInstalled(entry) is { } have) return have;
        string size = entry.Size is { } bytes ? ModelDownloader.Bytes(bytes) : "size announced by the hub";
        var places = library.Places;
        if (library.Offline)
            throw new RedraftInputException($"{entry.Name} ({entry.Title}) is not installed and the network is off; run 'redraft models pull {entry.Name}' with network access first.");
        Console.Error.WriteLine($"{command}: {entry.Name} is not installed; downloading it ({entry.Title}, {size}) into {places.FolderFor(entry.Role)}");
        var (model, _) = await DownloadConsole.RunAsync(command, progress => library.PullAsync(entry, acceptLicence, DownloadConsole.AskLicence, progress, ct));
        return model;
    }
}
