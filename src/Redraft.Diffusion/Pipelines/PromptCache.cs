using static TorchSharp.torch;

namespace Redraft.Diffusion.Pipelines;

/// <summary>
/// Encoded prompts of one loaded model, by prompt text: iterating on an image with the same prompt must not
/// re-run the text encoder. Bounded so a long session of changing prompts does not grow without limit.
/// </summary>
internal sealed class PromptCache
{
    private const int Capacity = 32;
    private readonly Dictionary<string, Tensor> entries = [];
    private readonly LinkedList<string> order = new();
    private readonly Lock gate = new();

    public Tensor GetOrAdd(string prompt, Func<Tensor> encode)
    {
        lock (gate)
        {
            if (entries.TryGetValue(prompt, out var hit))
            {
                order.Remove(prompt);
                order.AddFirst(prompt);
                return hit;
            }
        }
        var value = encode();
        value.DetachFromDisposeScope();
        lock (gate)
        {
            if (entries.TryGetValue(prompt, out var raced))
            {
                value.Dispose();
                return raced;
            }
            entries[prompt] = value;
            order.AddFirst(prompt);
            while (order.Count > Capacity)
            {
                var last = order.Last!.Value;
                order.RemoveLast();
                entries.Remove(last, out var evicted);
                evicted?.Dispose();
            }
            return value;
        }
    }

    public int Count { get { lock (gate) return entries.Count; } }

    public void Clear()
    {
        lock (gate)
        {
            foreach (var t in entries.Values) t.Dispose();
            entries.Clear();
            order.Clear();
        }
    }
}
