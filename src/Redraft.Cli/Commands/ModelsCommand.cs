using System.CommandLine;
using Redraft.Models;

namespace Redraft.Cli.Commands;

/// <summary><c>redraft models list | pull NAME|URL | rm NAME | verify [NAME] | path NAME</c> over <see cref="ModelLibrary"/>.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var group = new Command("models", "List, download, check and remove models (the catalogue's, and those found in the Hugging Face cache or an AUTOMATIC1111 folder).");
        group.Subcommands.Add(List());
        group.Subcommands.Add(Pull());
        group.Subcommands.Add(Remove());
        group.Subcommands.Add(Verify());
        group.Subcommands.Add(PathOf());
        return group;
    }

    private static string Where(InstalledModel m) => m.Source switch
    {
        ModelSource.Redraft => m.Path,
        ModelSource.ModelsFolder => $"{m.Path} (yours)",
        ModelSource.HuggingFaceCache => $"{m.Path} (Hugging Face cache)",
        _ => $"{m.Path} (AUTOMATIC1111)",
    };

    private static string Role(ModelRole role) => role.ToString().ToLowerInvariant();

    private static Command List()
    {
        var o = new ModelOptions();
        var command = new Command("list", "Installed models and the catalogue's, with sizes");
        o.AddTo(command, licence: false);
        command.SetAction(parse =>
        {
            var library = o.Library(parse);
            var installed = library.Installed();
            var rows = new List<string[]> { new[] { "NAME", "ROLE", "SIZE", "STATUS" } };
            foreach (var entry in library.Catalogue.Entries)
            {
                var have = installed.FirstOrDefault(m => m.CatalogueName == entry.Name);
                string size = have is not null ? ModelDownloader.Bytes(have.Size) : entry.Size is { } s ? ModelDownloader.Bytes(s) : "?";
                string name = entry == library.Catalogue.Default ? entry.Name + " *" : entry.Name;
                rows.Add([name, Role(entry.Role), size, have is null ? $"available ({entry.Licence?.Name})" : Where(have)]);
            }
            foreach (var m in installed.Where(m => m.CatalogueName is null))
                rows.Add([m.Name, Role(m.Role), ModelDownloader.Bytes(m.Size), Where(m)]);
            int[] widths = [.. Enumerable.Range(0, 3).Select(c => rows.Max(r => r[c].Length))];
            foreach (var r in rows)
                Console.WriteLine($"{r[0].PadRight(widths[0])}  {r[1].PadRight(widths[1])}  {r[2].PadLeft(widths[2])}  {r[3]}".TrimEnd());
            Console.WriteLine($"* the default, used when a command names no --model. Models folder: {library.Places.ModelsDir}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Pull()
    {
        var o = new ModelOptions();
        var what = new Argument<string>("NAME|URL") { Description = "A catalogue name (redraft models list), or a download URL (named from the server's Content-Disposition)" };
        var role = new Option<string>("--role") { Description = "For a URL: checkpoint, vae or lora (where it is installed)", DefaultValueFactory = _ => "checkpoint" };
        var command = new Command("pull", "Download a model: progress, resume after an interruption, SHA-256 checked before it is put in place") { what, role };
        o.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var library = o.Library(parse);
            string name = parse.GetValue(what)!;
            try
            {
                if (Uri.TryCreate(name, UriKind.Absolute, out var url) && url.Scheme is "http" or "https")
                {
                    var r = parse.GetValue(role) switch
                    {
                        "checkpoint" => ModelRole.Checkpoint,
                        "vae" => ModelRole.Vae,
                        "lora" => ModelRole.Lora,
                        var other => throw new RedraftInputException($"--role {other}: give checkpoint, vae or lora."),
                    };
                    var m = await DownloadConsole.RunAsync("pull", p => library.PullUrlAsync(url, r, p, ct));
                    Console.WriteLine(m.Path);
                    return ExitCodes.Success;
                }
                var entry = library.Catalogue.Find(name)
                    ?? throw new RedraftInputException($"{name}: not in the catalogue; 'redraft models list' shows the names, or give a download URL.");
                if (library.FindInstalled(entry) is { } have)
                {
                    Console.Error.WriteLine($"pull: {entry.Name} is already installed: {Where(have)}");
                    Console.WriteLine(have.Path);
                    return ExitCodes.Success;
                }
                string size = entry.Size is { } bytes ? ModelDownloader.Bytes(bytes) : "size announced by the hub";
                Console.Error.WriteLine($"pull: {entry.Name}: {entry.Title} ({size}, {entry.Licence?.Name})");
                var (model, _) = await DownloadConsole.RunAsync("pull", p => library.PullAsync(entry, parse.GetValue(o.AcceptLicence), DownloadConsole.AskLicence, p, ct));
                Console.WriteLine(model.Path);
                return ExitCodes.Success;
            }
            catch (OperationCanceledException)
            {
                ConsoleProgress.RestoreCursor();
                Console.Error.WriteLine("redraft: cancelled; what was downloaded is kept (.part): run the same command to resume.");
                return ExitCodes.Cancelled;
            }
        });
        return command;
    }

    private static Command Remove()
    {
        var o = new ModelOptions();
        var name = new Argument<string>("NAME") { Description = "A model Redraft downloaded" };
        var command = new Command("rm", "Delete a model Redraft downloaded (never files in the Hugging Face cache, an A1111 folder or your own)") { name };
        o.AddTo(command, licence: false);
        command.SetAction(async (parse, ct) =>
        {
            foreach (var file in await o.Library(parse).RemoveAsync(parse.GetValue(name)!, ct)) Console.WriteLine($"removed {file}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Verify()
    {
        var o = new ModelOptions();
        var name = new Argument<string?>("NAME") { Description = "One model (default: every model Redraft downloaded)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("verify", "Hash Redraft's downloads again and compare with the SHA-256 recorded when they arrived") { name };
        o.AddTo(command, licence: false);
        command.SetAction(parse =>
        {
            var results = o.Library(parse).Verify(parse.GetValue(name));
            foreach (var r in results) Console.WriteLine($"{(r.Problem is null ? "ok" : "BAD")}  {r.Model}  {r.Path}{(r.Problem is null ? "" : ": " + r.Problem)}");
            if (results.Count == 0) Console.Error.WriteLine("verify: Redraft has downloaded no models yet.");
            return results.Any(r => r.Problem is not null) ? ExitCodes.InternalError : ExitCodes.Success;
        });
        return command;
    }

    private static Command PathOf()
    {
        var o = new ModelOptions();
        var name = new Argument<string>("NAME") { Description = "A catalogue or installed model's name" };
        var command = new Command("path", "Print where an installed model is (for other tools)") { name };
        o.AddTo(command, licence: false);
        command.SetAction(parse =>
        {
            var library = o.Library(parse);
            string asked = parse.GetValue(name)!;
            var installed = library.Installed().FirstOrDefault(m => string.Equals(m.Name, asked, StringComparison.OrdinalIgnoreCase))
                ?? throw new RedraftInputException(library.Catalogue.Find(asked) is null
                    ? $"{asked}: no such model; 'redraft models list' shows the names."
                    : $"{asked} is not installed; 'redraft models pull {asked}' downloads it.");
            Console.WriteLine(installed.Path);
            return ExitCodes.Success;
        });
        return command;
    }
}
