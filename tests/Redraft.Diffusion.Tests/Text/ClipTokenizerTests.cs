using System.Diagnostics;
using System.Text.Json;
using Redraft.Diffusion.Text;

namespace Redraft.Diffusion.Tests.Text;

public sealed class ClipTokenizerTests
{
    private static readonly Lazy<ClipTokenizer> Tokenizer = new(() => ClipTokenizer.Load(SharedData.ClipDir));

    internal static ClipTokenizer Shared => Tokenizer.Value;

    [SharedDataFact]
    public void Reproduces_every_oracle_sequence()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedData.Oracle("clip_tokens.json")));
        var failures = new List<string>();
        int count = 0;
        foreach (JsonElement seq in doc.RootElement.GetProperty("sequences").EnumerateArray())
        {
            string text = seq.GetProperty("text").GetString()!;
            int[] expected = seq.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            int[] actual = [ClipTokenizer.Bos, .. Shared.Encode(text), ClipTokenizer.Eos];
            if (!expected.SequenceEqual(actual))
            {
                failures.Add($"{JsonSerializer.Serialize(text)}: expected [{string.Join(",", expected)}] got [{string.Join(",", actual)}]");
            }

            count++;
        }

        Assert.True(count >= 30, $"only {count} oracle sequences read");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [SharedDataFact]
    public void Conventions_match_the_oracle()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedData.Oracle("clip_tokens.json")));
        JsonElement conv = doc.RootElement.GetProperty("conventions");
        Assert.Equal(ClipTokenizer.Bos, conv.GetProperty("bos").GetInt32());
        Assert.Equal(ClipTokenizer.Eos, conv.GetProperty("eos").GetInt32());
        Assert.Equal(conv.GetProperty("vocab_size").GetInt32(), Shared.VocabularySize);
    }

    [SharedDataFact]
    public void Byte_token_layout_matches_the_oracle_examples()
    {
        Assert.Equal([320], Shared.Encode("a"));
        Assert.Equal([267], Shared.Encode(","));
        Assert.Equal([256], Shared.Encode("!"));
        for (int d = 0; d <= 9; d++)
        {
            Assert.Equal([271 + d], Shared.Encode(d.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
    }

    [SharedDataFact]
    public void Empty_and_whitespace_give_no_ids()
    {
        Assert.Empty(Shared.Encode(""));
        Assert.Empty(Shared.Encode(" \t\n "));
    }

    [SharedDataFact]
    public void Encoding_a_75_token_prompt_is_fast_after_warm_up()
    {
        string prompt = string.Join(" ", Enumerable.Repeat("a beautiful landscape", 25));
        Assert.Equal(75, Shared.Encode(prompt).Count);
        for (int i = 0; i < 20; i++)
        {
            Shared.Encode(prompt);
        }

        const int runs = 200;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < runs; i++)
        {
            Shared.Encode(prompt);
        }

        double msPerEncode = sw.Elapsed.TotalMilliseconds / runs;
        Assert.True(msPerEncode < 1.0, $"{msPerEncode:F3} ms per encode");
    }

    [Fact]
    public void Load_reports_a_folder_without_the_files()
    {
        string dir = Directory.CreateTempSubdirectory("redraft-tok-").FullName;
        try
        {
            var e = Assert.Throws<RedraftInputException>(() => ClipTokenizer.Load(dir));
            Assert.Contains("vocab.json", e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [SharedDataFact]
    public void LowerCasesAsPythonsStrLower()
    {
        // Python: "İ".lower() == "i\u0307" (its full lowercase mapping), which CLIP tokenizes as 328 16384.
        Assert.Equal([328, 16384], Shared.Encode("İ"));
        Assert.Equal(Shared.Encode("i\u0307stanbul"), Shared.Encode("İSTANBUL"));
        // Final sigma: "ΟΔΟΣ ΣΑΣ".lower() == "οδος σας"; a lone Σ stays σ.
        Assert.Equal("οδος σας", ClipTokenizer.PythonLower("ΟΔΟΣ ΣΑΣ"));
        Assert.Equal("σ", ClipTokenizer.PythonLower("Σ"));
        Assert.Equal("οδοσ's", ClipTokenizer.PythonLower("ΟΔΟΣ's")); // the apostrophe is case-ignorable: a letter follows
        Assert.Equal("abc", ClipTokenizer.PythonLower("ABC"));
        Assert.Equal(Shared.Encode("οδος"), Shared.Encode("ΟΔΟΣ"));
        Assert.NotEqual(Shared.Encode("οδοσ"), Shared.Encode("ΟΔΟΣ"));
    }
}
