using TorchSharp.Modules;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>Which loaded network a LoRA module changes.</summary>
internal enum LoraComponent
{
    /// <summary>The UNet (LDM keys under <c>model.diffusion_model.</c>).</summary>
    UNet,
    /// <summary>The CLIP text encoder (LDM keys under <c>cond_stage_model.transformer.</c>).</summary>
    TextEncoder,
}

/// <summary>
/// One layer a LoRA can change: the weight parameter of a Linear (out, in) or Conv2d (out, in, kh, kw) layer, named by its
/// parameter path inside the component (<c>input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight</c>), or a block of
/// its rows: OpenCLIP towers (SD 2.x single files) fuse the query, key and value projections into one
/// <c>attn.in_proj_weight</c> (3·width, width), and a LoRA names each of them (<c>self_attn.q_proj</c>) on its own.
/// </summary>
/// <param name="Component">The network.</param>
/// <param name="ParameterName">The parameter's path inside the network.</param>
/// <param name="Parameter">The weight.</param>
/// <param name="RowStart">First row of the block this target is (0 for a whole weight).</param>
/// <param name="RowCount">Rows of the block, or null for the whole weight.</param>
internal sealed record LoraTarget(LoraComponent Component, string ParameterName, Parameter Parameter, long RowStart = 0, long? RowCount = null)
{
    /// <summary>The full LDM checkpoint key (with the row block, if any), for messages.</summary>
    public string LdmKey => (Component == LoraComponent.UNet ? DiffusersWeightSource.UNetPrefix
            : ParameterName.StartsWith("transformer.", StringComparison.Ordinal) ? OpenClipKeyMap.Prefix : DiffusersWeightSource.TextPrefix)
        + ParameterName + (RowCount is { } rows ? $"[{RowStart}:{RowStart + rows}]" : "");

    /// <summary>The shape a LoRA update must have: the parameter's, or the block's.</summary>
    public long[] Shape => RowCount is { } rows ? [rows, .. Parameter.shape[1..]] : Parameter.shape;

    /// <summary>The weight (or its row block) as a view that in-place updates write through.</summary>
    public TorchSharp.torch.Tensor View() => RowCount is { } rows ? Parameter.narrow(0, RowStart, rows) : Parameter.alias();
}
