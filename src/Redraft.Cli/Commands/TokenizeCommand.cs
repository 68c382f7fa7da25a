using System.CommandLine;
using Redraft.Diffusion.Text;

namespace Redraft.Cli.Commands;

/// <summary>
/// <c>redraft tokenize [--tokenizer DIR] TEXT</c>: first line the CLIP token ids (BOS … EOS, no padding, weight
/// syntax not applied), second line the count against the 75-token chunk limit.
/// </summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var text = new Argument<string>("text") { Description = "The prompt text" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Folder with CLIP vocab.json and merges.txt" };
        var command = new Command("tokenize", "Show a prompt's CLIP token ids and how much of the 75-token chunk it uses.") { text, tokenizer };
        command.SetAction(parse =>
        {
            var clip = ClipTokenizer.Load(TokenizerLocator.Locate(parse.GetValue(tokenizer), null));
            var prompt = parse.GetValue(text)!;
            var ids = clip.Encode(prompt);
            Console.WriteLine(string.Join(' ', new[] { ClipTokenizer.Bos }.Concat(ids).Append(ClipTokenizer.Eos)));
            Console.WriteLine(TokenCount.Describe(ids.Count));
            return ExitCodes.Success;
        });
        return command;
    }
}

/// <summary>The "N/75" line: tokens against the chunk limit, as A1111's prompt box shows it.</summary>
internal static class TokenCount
{
    public const int ChunkSize = 75;

    public static string Describe(int tokens)
    {
        int chunks = Math.Max(1, (tokens + ChunkSize - 1) / ChunkSize);
        string line = $"{tokens}/{chunks * ChunkSize} tokens";
        return chunks == 1 ? line : $"{line} ({chunks} chunks of {ChunkSize}; the prompt is encoded in {chunks} parts)";
    }
}
