using Redraft.Diffusion.Text;

namespace Redraft.Diffusion.Tests.Text;

public sealed class PromptChunkerTests
{
    private const int Cat = 2368;
    private const int Dog = 1929;
    private const int A = 320;
    private const int Comma = 267;
    private const int Bos = ClipTokenizer.Bos;
    private const int Eos = ClipTokenizer.Eos;

    private static ClipTokenizer Tok => ClipTokenizerTests.Shared;

    private static string Words(string word, int count) => string.Join(" ", Enumerable.Repeat(word, count));

    private static int[] Row(int pad, params int[] content)
    {
        var row = new int[PromptChunker.RowLength];
        Array.Fill(row, pad);
        row[0] = Bos;
        content.CopyTo(row, 1);
        row[1 + content.Length] = Eos;
        return row;
    }

    private static int[] Repeat(int id, int n) => Enumerable.Repeat(id, n).ToArray();

    [SharedDataFact]
    public void Short_prompt_is_one_row_padded_with_eos()
    {
        PromptChunk chunk = Assert.Single(PromptChunker.Chunk(Tok, "a photo of a cat", PromptChunker.ClipLPadToken));
        Assert.Equal(Row(Eos, A, 1125, 539, A, Cat), chunk.Ids);
        Assert.All(chunk.Weights, w => Assert.Equal(1f, w));
        Assert.Equal(77, chunk.Weights.Length);
    }

    [SharedDataFact]
    public void OpenClip_rows_pad_with_zero_after_the_eos()
    {
        PromptChunk chunk = Assert.Single(PromptChunker.Chunk(Tok, "a photo of a cat", PromptChunker.OpenClipPadToken));
        Assert.Equal(Row(0, A, 1125, 539, A, Cat), chunk.Ids);
        Assert.Equal(Eos, chunk.Ids[6]);
        Assert.Equal(0, chunk.Ids[7]);
    }

    [SharedDataFact]
    public void Empty_prompt_is_bos_eos_and_padding()
    {
        PromptChunk eosPadded = Assert.Single(PromptChunker.Chunk(Tok, "", PromptChunker.ClipLPadToken));
        Assert.Equal(Row(Eos), eosPadded.Ids);
        PromptChunk zeroPadded = Assert.Single(PromptChunker.Chunk(Tok, "", 0));
        Assert.Equal(Row(0), zeroPadded.Ids);
        Assert.All(zeroPadded.Weights, w => Assert.Equal(1f, w));
        Assert.Equal(0, PromptChunker.CountTokens(Tok, ""));
        Assert.Equal(75, PromptChunker.TokenLimit(0));
    }

    [SharedDataFact]
    public void Weights_land_on_the_tokens_of_their_fragment()
    {
        PromptChunk chunk = Assert.Single(PromptChunker.Chunk(Tok, "a (cat:1.5) and [dog]", Eos));
        Assert.Equal(Row(Eos, A, Cat, 537, Dog), chunk.Ids);
        float[] expected = Enumerable.Repeat(1f, 77).ToArray();
        expected[2] = 1.5f;
        expected[4] = (float)(1 / 1.1);
        Assert.Equal(expected, chunk.Weights);
    }

    [SharedDataFact]
    public void Fragments_are_tokenized_separately()
    {
        // "(runn)ers" is tokenized as "runn" + "ers", not as "runners".
        PromptChunk whole = Assert.Single(PromptChunker.Chunk(Tok, "runners", Eos));
        PromptChunk split = Assert.Single(PromptChunker.Chunk(Tok, "(runn)ers", Eos));
        Assert.Equal(10571, whole.Ids[1]);
        Assert.NotEqual(whole.Ids[1], split.Ids[1]);
        Assert.Equal(Tok.Encode("runn").Concat(Tok.Encode("ers")), split.Ids.Skip(1).TakeWhile(id => id != Eos));
        Assert.Equal(1.1f, split.Weights[1]);
    }

    [SharedDataFact]
    public void Long_prompt_spills_into_a_second_chunk()
    {
        IReadOnlyList<PromptChunk> chunks = PromptChunker.Chunk(Tok, Words("cat", 100), Eos);
        Assert.Equal(2, chunks.Count);
        Assert.Equal(Row(Eos, Repeat(Cat, 75)), chunks[0].Ids);
        Assert.Equal(Row(Eos, Repeat(Cat, 25)), chunks[1].Ids);
        Assert.Equal(100, PromptChunker.CountTokens(Tok, Words("cat", 100)));
        Assert.Equal(150, PromptChunker.TokenLimit(100));
    }

    [SharedDataFact]
    public void Exactly_75_tokens_fill_one_chunk_and_eos_is_last_even_with_zero_padding()
    {
        PromptChunk chunk = Assert.Single(PromptChunker.Chunk(Tok, Words("cat", 75), 0));
        Assert.Equal(Row(0, Repeat(Cat, 75)), chunk.Ids);
        Assert.Equal(Eos, chunk.Ids[76]);
        Assert.Equal(75, PromptChunker.CountTokens(Tok, Words("cat", 75)));
        Assert.Equal(75, PromptChunker.TokenLimit(75));
    }

    [SharedDataFact]
    public void Break_starts_a_new_padded_chunk()
    {
        IReadOnlyList<PromptChunk> chunks = PromptChunker.Chunk(Tok, "a cat BREAK a dog", Eos);
        Assert.Equal(2, chunks.Count);
        Assert.Equal(Row(Eos, A, Cat), chunks[0].Ids);
        Assert.Equal(Row(Eos, A, Dog), chunks[1].Ids);
        Assert.Equal(77, PromptChunker.CountTokens(Tok, "a cat BREAK a dog"));
    }

    [SharedDataFact]
    public void Break_at_the_start_gives_an_empty_first_chunk_and_at_the_end_no_extra_chunk()
    {
        IReadOnlyList<PromptChunk> leading = PromptChunker.Chunk(Tok, "BREAK a cat", Eos);
        Assert.Equal(2, leading.Count);
        Assert.Equal(Row(Eos), leading[0].Ids);
        Assert.Equal(Row(Eos, A, Cat), leading[1].Ids);

        PromptChunk trailing = Assert.Single(PromptChunker.Chunk(Tok, "a cat BREAK", Eos));
        Assert.Equal(Row(Eos, A, Cat), trailing.Ids);
        Assert.Equal(75, PromptChunker.CountTokens(Tok, "a cat BREAK"));
    }

    [SharedDataFact]
    public void Overflow_backtracks_to_a_comma_within_20_tokens()
    {
        // 70 cats, a comma, 10 dogs: the chunk fills at the 5th dog; the comma is 5 tokens back,
        // so all 10 dogs move to the second chunk.
        string prompt = Words("cat", 70) + ", " + Words("dog", 10);
        IReadOnlyList<PromptChunk> chunks = PromptChunker.Chunk(Tok, prompt, Eos);
        Assert.Equal(2, chunks.Count);
        Assert.Equal(Row(Eos, [.. Repeat(Cat, 70), Comma]), chunks[0].Ids);
        Assert.Equal(Row(Eos, Repeat(Dog, 10)), chunks[1].Ids);
        Assert.Equal(85, PromptChunker.CountTokens(Tok, prompt));
    }

    [SharedDataFact]
    public void Moved_tokens_keep_their_weights()
    {
        string prompt = Words("cat", 70) + ", (" + Words("dog", 10) + ":1.3)";
        IReadOnlyList<PromptChunk> chunks = PromptChunker.Chunk(Tok, prompt, Eos);
        Assert.Equal(2, chunks.Count);
        Assert.All(chunks[0].Weights, w => Assert.Equal(1f, w));
        Assert.Equal(Enumerable.Repeat(1.3f, 10), chunks[1].Weights.Skip(1).Take(10));
        Assert.Equal(1f, chunks[1].Weights[11]);
    }

    [SharedDataFact]
    public void No_backtrack_when_the_comma_is_further_than_20_tokens()
    {
        string prompt = Words("cat", 40) + ", " + Words("dog", 40);
        IReadOnlyList<PromptChunk> chunks = PromptChunker.Chunk(Tok, prompt, Eos);
        Assert.Equal(2, chunks.Count);
        Assert.Equal(Row(Eos, [.. Repeat(Cat, 40), Comma, .. Repeat(Dog, 34)]), chunks[0].Ids);
        Assert.Equal(Row(Eos, Repeat(Dog, 6)), chunks[1].Ids);
        Assert.Equal(81, PromptChunker.CountTokens(Tok, prompt));
    }

    [SharedDataFact]
    public void A_comma_that_overflows_opens_the_next_chunk()
    {
        string prompt = Words("cat", 75) + ", dog";
        IReadOnlyList<PromptChunk> chunks = PromptChunker.Chunk(Tok, prompt, Eos);
        Assert.Equal(2, chunks.Count);
        Assert.Equal(Row(Eos, Repeat(Cat, 75)), chunks[0].Ids);
        Assert.Equal(Row(Eos, Comma, Dog), chunks[1].Ids);
    }

    [Theory]
    [InlineData(0, 75)]
    [InlineData(1, 75)]
    [InlineData(75, 75)]
    [InlineData(76, 150)]
    [InlineData(150, 150)]
    [InlineData(151, 225)]
    public void Token_limit_rounds_up_to_whole_chunks(int count, int limit) =>
        Assert.Equal(limit, PromptChunker.TokenLimit(count));

    [SharedDataFact]
    public void PromptsArePromptlyCappedAtThirtyTwoChunks()
    {
        var tokenizer = ClipTokenizerTests.Shared;
        Assert.Equal(PromptChunker.MaxChunks, PromptChunker.Chunk(tokenizer, string.Join(" BREAK ", Enumerable.Repeat("cat", 32)), PromptChunker.ClipLPadToken).Count);
        var tooMany = Assert.Throws<RedraftInputException>(() => PromptChunker.Chunk(tokenizer, string.Join(" ", Enumerable.Repeat("cat", 33 * 75)), PromptChunker.ClipLPadToken));
        Assert.Contains("2400 tokens", tooMany.Message);

        // Refused before any model loads, in well under a second (3000 BREAKs took 66 s to encode before).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var breaks = Assert.Throws<RedraftInputException>(() => new Redraft.Diffusion.Pipelines.GenerationRequest
        {
            Prompt = string.Concat(Enumerable.Repeat("BREAK ", 2000)),
        }.Validate());
        Assert.Contains("2000 BREAKs", breaks.Message);
        var longText = Assert.Throws<RedraftInputException>(() => new Redraft.Diffusion.Pipelines.GenerationRequest
        {
            Prompt = "x", NegativePrompt = new string('y', 20000),
        }.Validate());
        Assert.Contains("negative prompt is 20000 characters", longText.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
    }
}
