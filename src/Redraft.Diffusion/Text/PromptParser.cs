using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Redraft.Diffusion.Text;

/// <summary>
/// Parses AUTOMATIC1111's prompt-attention syntax into weighted text fragments.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>(text)</c> multiplies the weight of <c>text</c> by 1.1, <c>[text]</c> divides it by 1.1;
/// <c>(text:1.3)</c> multiplies it by 1.3 (spaces allowed around the number); nesting multiplies.</item>
/// <item><c>\(</c> <c>\)</c> <c>\[</c> <c>\]</c> <c>\\</c> are literal characters; a backslash before anything
/// else is dropped.</item>
/// <item>Brackets still open at the end of the prompt apply their multiplier (×1.1 or ÷1.1) to everything
/// after them; a closing bracket with no open partner, and a <c>:</c> that does not end a weight, are plain text.</item>
/// <item><c>BREAK</c> as a whole word (with the whitespace around it) becomes the marker
/// <see cref="WeightedText.Break"/>.</item>
/// <item>Neighbouring fragments with equal weight are merged. An empty prompt gives one empty fragment
/// with weight 1.</item>
/// </list>
/// Weights are computed in double precision, in A1111's order, and rounded to float at the end.
/// Two deliberate differences from A1111, both on input that A1111 mishandles: a weight that is not a
/// number (<c>(a:1.2.3)</c>) is kept as text instead of raising an error, and a <c>BREAK</c> inside brackets
/// still breaks (A1111 scales the marker's -1 weight, so it stops being a marker and the word "break" is
/// encoded with a negative weight).
/// </remarks>
internal static class PromptParser
{
    /// <summary>Multiplier of a pair of round brackets.</summary>
    public const double RoundBracketMultiplier = 1.1;

    /// <summary>Multiplier of a pair of square brackets.</summary>
    public const double SquareBracketMultiplier = 1 / 1.1;

    // One alternative per kind of piece, tried in this order: escapes, lone backslash, openers,
    // ":weight)" closer, plain closers, a run of ordinary text, a lone colon.
    private static readonly Regex Piece = new(
        @"\\\(|\\\)|\\\[|\\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()\[\]:]+|:",
        RegexOptions.Compiled | RegexOptions.CultureInvariant);

    private static readonly Regex BreakKeyword = new(
        @"\s*\bBREAK\b\s*",
        RegexOptions.Compiled | RegexOptions.CultureInvariant | RegexOptions.Singleline);

    /// <summary>Splits <paramref name="prompt"/> into text fragments and their weights.</summary>
    /// <param name="prompt">The prompt in A1111 syntax.</param>
    /// <returns>At least one fragment; <see cref="WeightedText.Break"/> markers stand for <c>BREAK</c>.</returns>
    public static IReadOnlyList<WeightedText> Parse(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var items = new List<Item>();
        var round = new Stack<int>();
        var square = new Stack<int>();

        for (Match m = Piece.Match(prompt); m.Success; m = m.NextMatch())
        {
            string piece = m.Value;
            Group weightGroup = m.Groups[1];

            if (piece[0] == '\\')
            {
                items.Add(new Item(piece[1..], 1.0));
            }
            else if (piece == "(")
            {
                round.Push(items.Count);
            }
            else if (piece == "[")
            {
                square.Push(items.Count);
            }
            else if (weightGroup.Success && round.Count > 0
                     && double.TryParse(weightGroup.Value, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint,
                         CultureInfo.InvariantCulture, out double weight))
            {
                Multiply(items, round.Pop(), weight);
            }
            else if (piece == ")" && round.Count > 0)
            {
                Multiply(items, round.Pop(), RoundBracketMultiplier);
            }
            else if (piece == "]" && square.Count > 0)
            {
                Multiply(items, square.Pop(), SquareBracketMultiplier);
            }
            else
            {
                AddTextWithBreaks(items, piece);
            }
        }

        // Unclosed brackets: outermost first, round before square (as A1111 iterates its stacks).
        foreach (int start in round.Reverse())
        {
            Multiply(items, start, RoundBracketMultiplier);
        }

        foreach (int start in square.Reverse())
        {
            Multiply(items, start, SquareBracketMultiplier);
        }

        if (items.Count == 0)
        {
            return [new WeightedText("", 1f)];
        }

        var result = new List<WeightedText>(items.Count);
        var text = new StringBuilder();
        for (int i = 0; i < items.Count; i++)
        {
            Item item = items[i];
            if (item.IsBreak)
            {
                result.Add(WeightedText.Break);
                continue;
            }

            text.Clear().Append(item.Text);
            while (i + 1 < items.Count && !items[i + 1].IsBreak && items[i + 1].Weight == item.Weight)
            {
                text.Append(items[++i].Text);
            }

            result.Add(new WeightedText(text.ToString(), (float)item.Weight));
        }

        return result;
    }

    private static void AddTextWithBreaks(List<Item> items, string text)
    {
        string[] parts = BreakKeyword.Split(text);
        for (int i = 0; i < parts.Length; i++)
        {
            if (i > 0)
            {
                items.Add(Item.Break);
            }

            items.Add(new Item(parts[i], 1.0));
        }
    }

    private static void Multiply(List<Item> items, int start, double multiplier)
    {
        for (int i = start; i < items.Count; i++)
        {
            if (!items[i].IsBreak)
            {
                items[i] = items[i] with { Weight = items[i].Weight * multiplier };
            }
        }
    }

    private readonly record struct Item(string Text, double Weight, bool IsBreak = false)
    {
        public static Item Break { get; } = new("BREAK", -1, true);
    }
}
