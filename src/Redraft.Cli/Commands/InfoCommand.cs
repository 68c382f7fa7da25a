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
            Console.WriteLine(Printable(text));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// The text with control characters other than newline and tab escaped (<c>\u001b</c>), so a PNG's text can
    /// neither drive the terminal (escape sequences) nor hide lines (carriage returns).
    /// </summary>
    internal static string Printable(string text)
    {
        var result = new System.Text.StringBuilder(text.Length);
        foreach (char c in text)
        {
            if (c is '\n' or '\t' || !(char.IsControl(c) || c is '\u2028' or '\u2029' or '\u200E' or '\u200F' || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069'))
                result.Append(c);
            else
                result.Append($"\\u{(int)c:x4}");
        }
        return result.ToString();
    }
}
