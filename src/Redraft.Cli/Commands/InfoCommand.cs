using System.CommandLine;
using Redraft.Diffusion;
using Redraft.Imaging;

namespace Redraft.Cli.Commands;

/// <summary><c>redraft info FILE.png</c>: prints the image's generation parameters (A1111's "parameters" text).</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "A PNG written by Redraft, AUTOMATIC1111 or another tool that stores parameters" };
        var command = new Command("info", "Print the generation parameters stored in a PNG.") { file };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var chunks = ImageFiles.ReadPngText(path);
            if (!chunks.TryGetValue("parameters", out var text))
                throw new RedraftInputException($"{path}: no generation parameters stored in this PNG.");
            Console.WriteLine(text);
            return ExitCodes.Success;
        });
        return command;
    }
}
