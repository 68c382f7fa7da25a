namespace Redraft.Diffusion.Text;

/// <summary>
/// Turns a prompt into 77-token rows the way AUTOMATIC1111 does
/// (<c>FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line</c>): the prompt is parsed with
/// <see cref="PromptParser"/>, every fragment is tokenized on its own, and the tokens with their weights
/// are packed 75 to a chunk.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>BREAK</c> closes the current chunk (padding it) and starts a new one.</item>
/// <item>When a chunk is full and the next token is not a comma, and the chunk's last comma is at most
/// <see cref="CommaPaddingBacktrack"/> tokens from its end, the tokens after that comma move to the next
/// chunk, so a phrase is not cut in two.</item>
/// <item>Each chunk is framed <c>BOS, tokens, EOS</c>; the positions after the first EOS hold the padding
/// token (EOS itself for the SD 1.x CLIP-L tower, 0 for OpenCLIP towers). BOS, EOS and padding have weight 1.</item>
/// <item>An empty prompt gives one chunk (BOS, EOS, padding).</item>
/// </list>
/// Textual-inversion embeddings are not handled here.
/// </remarks>
internal static class PromptChunker
{
    /// <summary>Prompt tokens per chunk.</summary>
    public const int ChunkLength = 75;

    /// <summary>Tokens per framed row: BOS + <see cref="ChunkLength"/> + EOS.</summary>
    public const int RowLength = ChunkLength + 2;

    /// <summary>How far back (in tokens) a full chunk looks for a comma to break at (A1111's default, 20).</summary>
    public const int CommaPaddingBacktrack = 20;

    /// <summary>Padding token of the SD 1.x CLIP-L tower (<see cref="ClipTokenizer.Eos"/>).</summary>
    public const int ClipLPadToken = ClipTokenizer.Eos;

    /// <summary>Padding token of OpenCLIP towers (SD 2.x, SDXL's second encoder).</summary>
    public const int OpenClipPadToken = 0;

    /// <summary>Most 75-token chunks a prompt may have: each is a text-encoder pass, and each one more costs a UNet's cross-attention.</summary>
    public const int MaxChunks = 32;

    /// <summary>Splits <paramref name="prompt"/> into framed 77-token rows with per-token weights.</summary>
    /// <param name="tokenizer">The CLIP tokenizer.</param>
    /// <param name="prompt">The prompt in A1111 syntax.</param>
    /// <param name="padToken">The id after the first EOS: <see cref="ClipLPadToken"/> or <see cref="OpenClipPadToken"/>.</param>
    /// <returns>At least one chunk.</returns>
    public static IReadOnlyList<PromptChunk> Chunk(ClipTokenizer tokenizer, string prompt, int padToken) =>
        Build(tokenizer, prompt, padToken, out _);

    /// <summary>
    /// The token count A1111 shows next to the prompt box: every chunk except the last counts as
    /// <see cref="ChunkLength"/> (including its padding), plus the tokens of the last chunk.
    /// Show it with <see cref="TokenLimit"/> as <c>"count/limit"</c>, e.g. <c>"12/75"</c> or <c>"80/150"</c>.
    /// </summary>
    /// <param name="tokenizer">The CLIP tokenizer.</param>
    /// <param name="prompt">The prompt in A1111 syntax.</param>
    /// <returns>The token count.</returns>
    public static int CountTokens(ClipTokenizer tokenizer, string prompt)
    {
        Build(tokenizer, prompt, ClipLPadToken, out int count);
        return count;
    }

    /// <summary>
    /// The limit shown after the token count: the count rounded up to a whole number of chunks,
    /// at least one (75, 150, ...).
    /// </summary>
    /// <param name="tokenCount">A count from <see cref="CountTokens"/>.</param>
    /// <returns>A multiple of <see cref="ChunkLength"/>.</returns>
    public static int TokenLimit(int tokenCount) =>
        (Math.Max(tokenCount, 1) + ChunkLength - 1) / ChunkLength * ChunkLength;

    private static List<PromptChunk> Build(ClipTokenizer tokenizer, string prompt, int padToken, out int tokenCount)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(prompt);

        IReadOnlyList<int> commaIds = tokenizer.Encode(",");
        int comma = commaIds.Count == 1 ? commaIds[0] : -1;

        var chunks = new List<PromptChunk>();
        var ids = new List<int>(ChunkLength);
        var weights = new List<float>(ChunkLength);
        int count = 0;
        int lastComma = -1;

        void CloseChunk(bool isLast)
        {
            if (chunks.Count == MaxChunks)
                throw new RedraftInputException(
                    $"the prompt needs more than {MaxChunks} chunks of {ChunkLength} tokens (long prompts and BREAK start new ones); the limit is {MaxChunks * ChunkLength} tokens: shorten it.");
            count += isLast ? ids.Count : ChunkLength;
            chunks.Add(Frame(ids, weights, padToken));
            ids.Clear();
            weights.Clear();
            lastComma = -1;
        }

        foreach (WeightedText fragment in PromptParser.Parse(prompt))
        {
            if (fragment.IsBreak)
            {
                CloseChunk(isLast: false);
                continue;
            }

            foreach (int id in tokenizer.Encode(fragment.Text))
            {
                if (id == comma)
                {
                    lastComma = ids.Count;
                }
                else if (ids.Count == ChunkLength && lastComma != -1 && ids.Count - lastComma <= CommaPaddingBacktrack)
                {
                    // Move everything after the comma into the next chunk.
                    int cut = lastComma + 1;
                    int[] movedIds = ids.GetRange(cut, ids.Count - cut).ToArray();
                    float[] movedWeights = weights.GetRange(cut, weights.Count - cut).ToArray();
                    ids.RemoveRange(cut, ids.Count - cut);
                    weights.RemoveRange(cut, weights.Count - cut);
                    CloseChunk(isLast: false);
                    ids.AddRange(movedIds);
                    weights.AddRange(movedWeights);
                }

                if (ids.Count == ChunkLength)
                {
                    CloseChunk(isLast: false);
                }

                ids.Add(id);
                weights.Add(fragment.Weight);
            }
        }

        if (ids.Count > 0 || chunks.Count == 0)
        {
            CloseChunk(isLast: true);
        }

        tokenCount = count;
        return chunks;
    }

    private static PromptChunk Frame(List<int> ids, List<float> weights, int padToken)
    {
        var rowIds = new int[RowLength];
        var rowWeights = new float[RowLength];
        Array.Fill(rowWeights, 1f);
        rowIds[0] = ClipTokenizer.Bos;
        for (int i = 0; i < ids.Count; i++)
        {
            rowIds[1 + i] = ids[i];
            rowWeights[1 + i] = weights[i];
        }

        // A1111 pads with EOS, then (for towers whose pad differs) overwrites everything after the first EOS.
        for (int i = 1 + ids.Count; i < RowLength; i++)
        {
            rowIds[i] = ClipTokenizer.Eos;
        }

        int firstEos = Array.IndexOf(rowIds, ClipTokenizer.Eos);
        for (int i = firstEos + 1; i < RowLength; i++)
        {
            rowIds[i] = padToken;
        }

        return new PromptChunk(rowIds, rowWeights);
    }
}
