using static TorchSharp.torch;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// One low-rank update of one layer, as read from a LoRA file: <c>ΔW = Scale · (Up @ Down)</c> reshaped to the layer's
/// weight. Down is (rank, in) for a Linear layer or (rank, in, kh, kw) for a convolution; Up is (out, rank) or
/// (out, rank, 1, 1). A 1×1 convolution also accepts the Linear form and vice versa. The tensors are fp32 on the CPU and
/// owned by this object.
/// </summary>
internal sealed class LoraLayer : IDisposable
{
    /// <summary>The module name as written in the file (for messages).</summary>
    public string Name { get; }
    /// <summary>The layer it changes.</summary>
    public LoraTarget Target { get; }
    /// <summary>The down projection (fp32, CPU).</summary>
    public Tensor Down { get; }
    /// <summary>The up projection (fp32, CPU).</summary>
    public Tensor Up { get; }
    /// <summary>alpha / rank, or 1 when the file stores no alpha.</summary>
    public double Scale { get; }
    /// <summary>The rank (rows of Down).</summary>
    public long Rank => Down.shape[0];

    /// <summary>Wraps already validated fp32 CPU tensors (see <see cref="CheckShapes"/>); takes ownership of them.</summary>
    public LoraLayer(string name, LoraTarget target, Tensor down, Tensor up, double scale)
    {
        Name = name;
        Target = target;
        Down = down;
        Up = up;
        Scale = scale;
    }

    /// <summary>Checks that down and up shapes fit each other and the target layer.</summary>
    /// <exception cref="CheckpointFormatException">They do not; the message names the file, module, shapes and target.</exception>
    public static void CheckShapes(string origin, string name, LoraTarget target, long[] d, long[] u)
    {
        var w = target.Shape;
        string Shapes() =>
            $"down [{string.Join(", ", d)}], up [{string.Join(", ", u)}] for {target.LdmKey} [{string.Join(", ", w)}]";
        bool upOk = u.Length == 2 || (u.Length == 4 && u[2] == 1 && u[3] == 1);
        bool downOk = d.Length is 2 or 4;
        if (!upOk || !downOk || d[0] == 0)
            throw new CheckpointFormatException(
                $"{origin}: LoRA module {name} has unusable shapes ({Shapes()}); expected down (rank, in[, kh, kw]) and up (out, rank[, 1, 1]).");
        long kh = w.Length == 4 ? w[2] : 1, kw = w.Length == 4 ? w[3] : 1;
        long dkh = d.Length == 4 ? d[2] : 1, dkw = d.Length == 4 ? d[3] : 1;
        if (u[1] != d[0] || u[0] != w[0] || d[1] != w[1] || dkh != kh || dkw != kw)
            throw new CheckpointFormatException(
                $"{origin}: LoRA module {name} does not fit this model ({Shapes()}); is it a LoRA for another model family?");
    }

    /// <summary>
    /// <c>multiplier · Scale · (Up @ Down)</c> in fp32 on <paramref name="device"/>, shaped like the target's weight.
    /// </summary>
    public Tensor Delta(double multiplier, Device device)
    {
        using var scope = NewDisposeScope();
        var up = Up.to(device).reshape(Up.shape[0], Up.shape[1]);
        var down = Down.to(device).reshape(Down.shape[0], -1);
        var delta = matmul(up, down).mul_(multiplier * Scale).reshape(Target.Shape);
        return delta.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Down.Dispose();
        Up.Dispose();
    }
}
