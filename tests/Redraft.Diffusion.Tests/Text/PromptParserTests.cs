using Redraft.Diffusion.Text;

namespace Redraft.Diffusion.Tests.Text;

public sealed class PromptParserTests
{
    private static void AssertParsed(string prompt, params (string Text, double Weight)[] expected)
    {
        IReadOnlyList<WeightedText> actual = PromptParser.Parse(prompt);
        string Show(IEnumerable<(string, double)> xs) => string.Join(" | ", xs.Select(x => $"'{x.Item1}' {x.Item2:R}"));
        string message = $"expected {Show(expected)}{Environment.NewLine}actual   {Show(actual.Select(a => (a.Text, (double)a.Weight)))}";
        Assert.True(expected.Length == actual.Count, message);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(expected[i].Text == actual[i].Text, message);
            Assert.True(Math.Abs(expected[i].Weight - actual[i].Weight) < 1e-6, message);
        }
    }

    // The examples of A1111's parse_prompt_attention documentation.
    [Fact]
    public void Plain_text_is_one_fragment() => AssertParsed("normal text", ("normal text", 1.0));

    [Fact]
    public void Round_brackets_multiply_by_1_1() =>
        AssertParsed("an (important) word", ("an ", 1.0), ("important", 1.1), (" word", 1.0));

    [Fact]
    public void An_unclosed_bracket_applies_to_the_rest() => AssertParsed("(unbalanced", ("unbalanced", 1.1));

    [Fact]
    public void Escaped_brackets_are_literal() => AssertParsed(@"\(literal\]", ("(literal]", 1.0));

    [Fact]
    public void Adjacent_equal_weights_are_merged() =>
        AssertParsed("(unnecessary)(parens)", ("unnecessaryparens", 1.1));

    [Fact]
    public void Nesting_explicit_weights_and_an_unclosed_outer_bracket() =>
        AssertParsed(
            "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
            ("a ", 1.0),
            ("house", 1.5730000000000004),
            (" ", 1.1),
            ("on", 1.0),
            (" a ", 1.1),
            ("hill", 0.55),
            (", sun, ", 1.1),
            ("sky", 1.4641000000000006),
            (".", 1.1));

    // Further behaviour of the same algorithm.
    [Fact]
    public void Square_brackets_divide_by_1_1() =>
        AssertParsed("a [cat] here", ("a ", 1.0), ("cat", 1 / 1.1), (" here", 1.0));

    [Fact]
    public void Nested_square_brackets_multiply() => AssertParsed("[[cat]]", ("cat", 1 / 1.1 / 1.1));

    [Fact]
    public void Explicit_weight_allows_spaces_and_signs() =>
        AssertParsed("(cat : 1.5 ) (dog:-0.5)", ("cat ", 1.5), (" ", 1.0), ("dog", -0.5));

    [Fact]
    public void Empty_prompt_is_one_empty_fragment() => AssertParsed("", ("", 1.0));

    [Fact]
    public void Unmatched_closers_and_colons_are_text() =>
        AssertParsed("a) b] c:d :1.2)", ("a) b] c:d :1.2)", 1.0));

    [Fact]
    public void Backslash_escapes_and_a_lone_backslash() =>
        AssertParsed(@"\\ \[x\) \q", (@"\ [x) q", 1.0));

    [Fact]
    public void Unclosed_square_bracket_applies_to_the_rest() =>
        AssertParsed("a [b (c)", ("a ", 1.0), ("b ", 1 / 1.1), ("c", 1.1 / 1.1));

    [Fact]
    public void Break_becomes_a_marker_and_eats_surrounding_spaces()
    {
        IReadOnlyList<WeightedText> parsed = PromptParser.Parse("a cat  BREAK\na dog");
        Assert.Equal(3, parsed.Count);
        Assert.Equal(new WeightedText("a cat", 1f), parsed[0]);
        Assert.True(parsed[1].IsBreak);
        Assert.Equal(WeightedText.Break, parsed[1]);
        Assert.Equal(new WeightedText("a dog", 1f), parsed[2]);
    }

    [Fact]
    public void Break_must_be_a_whole_upper_case_word()
    {
        Assert.Equal([new WeightedText("BREAKING break news", 1f)], PromptParser.Parse("BREAKING break news"));
    }

    [Fact]
    public void Break_at_the_start_leaves_an_empty_fragment_before_it()
    {
        IReadOnlyList<WeightedText> parsed = PromptParser.Parse("BREAK a");
        Assert.Equal([new WeightedText("", 1f), WeightedText.Break, new WeightedText("a", 1f)], parsed);
    }

    [Fact]
    public void Break_inside_brackets_still_breaks()
    {
        IReadOnlyList<WeightedText> parsed = PromptParser.Parse("(a BREAK b)");
        Assert.Equal([new WeightedText("a", 1.1f), WeightedText.Break, new WeightedText("b", 1.1f)], parsed);
    }

    [Fact]
    public void A_non_numeric_weight_is_text()
    {
        // A1111 raises an error here; Redraft keeps the text and closes the bracket at the end.
        AssertParsed("(a:1.2.3)", ("a:1.2.3)", 1.1));
    }
}
