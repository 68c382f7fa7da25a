using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// Counts the floating-point operations a forward pass performs, from the layers that actually run: forward hooks on
/// every Linear and Conv2d (2·MACs) plus the attention matmuls (q·kᵀ and ·v), which are not modules and report
/// themselves. Used by <c>redraft bench</c> so FLOP figures follow the model, not a table.
/// </summary>
internal sealed class FlopCounter : IDisposable
{
    [ThreadStatic] private static FlopCounter? active;
    private readonly List<Action> removers = [];
    private readonly FlopCounter? previous;

    /// <summary>Multiply-adds counted as 2 operations.</summary>
    public long Flops { get; private set; }

    private FlopCounter(IEnumerable<nn.Module> roots)
    {
        // named_modules() can list one layer twice (under its registered name and under a field's name): hook each once.
        var seen = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
        foreach (var root in roots)
            foreach (var (_, module) in root.named_modules())
            {
                if (!seen.Add(module)) continue;
                if (module is Linear linear)
                {
                    var hook = linear.register_forward_hook((m, input, result) =>
                    {
                        Flops += 2L * result.numel() * linear.weight!.shape[1];
                        return null!;
                    });
                    removers.Add(() => hook.remove());
                }
                else if (module is Conv2d conv)
                {
                    var hook = conv.register_forward_hook((m, input, result) =>
                    {
                        var w = conv.weight!.shape;
                        Flops += 2L * result.numel() * w[1] * w[2] * w[3];
                        return null!;
                    });
                    removers.Add(() => hook.remove());
                }
            }
        previous = active;
        active = this;
    }

    /// <summary>Starts counting the given modules' layers and the attention on this thread.</summary>
    public static FlopCounter Attach(params nn.Module[] roots) => new(roots);

    /// <summary>Called by code that runs a layer's work without calling the module (the GEMM form of a convolution).</summary>
    internal static void AddMatmul(long rows, long inner, long columns)
    {
        if (active is { } counter) counter.Flops += 2L * rows * inner * columns;
    }

    /// <summary>Called by attention code: softmax(q·kᵀ)·v over (batch·heads) × n queries × m keys × d channels.</summary>
    internal static void AddAttention(long batchHeads, long queries, long keys, long headDim)
    {
        if (active is { } counter) counter.Flops += 2L * 2L * batchHeads * queries * keys * headDim;
    }

    public void Dispose()
    {
        foreach (var remove in removers) remove();
        active = previous;
    }
}
