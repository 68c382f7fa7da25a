using Redraft.Diffusion.Text;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Pipelines;

/// <summary>
/// Prompt → text-encoder hidden states the way AUTOMATIC1111 builds them: 77-token chunks (BOS, 75, EOS),
/// each encoded alone and concatenated along the sequence; emphasis weights multiply the hidden states and the
/// chunk's mean is then restored.
/// </summary>
internal static class TextConditioning
{
    /// <summary>(1, 77·chunks, width) hidden states for <paramref name="prompt"/>, from the model's cache when possible.</summary>
    public static Tensor Encode(StableDiffusionModel model, string prompt) =>
        model.Prompts.GetOrAdd(prompt, () => EncodeUncached(model, prompt));

    private static Tensor EncodeUncached(StableDiffusionModel model, string prompt)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var chunks = PromptChunker.Chunk(model.Tokenizer, prompt, model.Description.PadToken);
        var parts = new List<Tensor>();
        foreach (var chunk in chunks)
        {
            var ids = tensor(chunk.Ids.Select(i => (long)i).ToArray(), dtype: ScalarType.Int64).unsqueeze(0).to(model.Device);
            var z = model.TextEncoder.Encode(ids).to(ScalarType.Float32);
            if (chunk.Weights.Any(w => w != 1f))
            {
                var weights = tensor(chunk.Weights, dtype: ScalarType.Float32).to(model.Device).reshape(1, -1, 1);
                var originalMean = z.mean();
                z = z * weights;
                z = z * (originalMean / z.mean());
            }
            parts.Add(z);
        }
        return cat(parts, dim: 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Pads the shorter of two conditionings with encodings of the empty prompt until both have the same number of
    /// chunks, as A1111 does when the positive and negative prompts differ in length.
    /// </summary>
    public static (Tensor Cond, Tensor Uncond) MatchLengths(StableDiffusionModel model, Tensor cond, Tensor uncond)
    {
        if (cond.shape[1] == uncond.shape[1]) return (cond.alias(), uncond.alias());
        var empty = Encode(model, "");
        Tensor Pad(Tensor t, long target)
        {
            long repeats = (target - t.shape[1]) / empty.shape[1];
            return cat([t, empty.repeat(1, repeats, 1)], dim: 1);
        }
        long max = Math.Max(cond.shape[1], uncond.shape[1]);
        return (cond.shape[1] < max ? Pad(cond, max) : cond.alias(), uncond.shape[1] < max ? Pad(uncond, max) : uncond.alias());
    }
}
