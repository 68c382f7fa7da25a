namespace Redraft.Diffusion.Text;

/// <summary>
/// One 77-token row for a CLIP text encoder: <see cref="ClipTokenizer.Bos"/>, up to 75 prompt tokens,
/// <see cref="ClipTokenizer.Eos"/>, then padding — with a per-token emphasis weight.
/// </summary>
/// <param name="Ids">The 77 token ids.</param>
/// <param name="Weights">The 77 emphasis multipliers (1 for BOS, EOS and padding).</param>
internal sealed record PromptChunk(int[] Ids, float[] Weights);
