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
/// parameter path inside the component (<c>input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight</c>).
/// </summary>
internal sealed record LoraTarget(LoraComponent Component, string ParameterName, Parameter Parameter)
{
    /// <summary>The full LDM checkpoint key, for messages.</summary>
    public string LdmKey => (Component == LoraComponent.UNet ? DiffusersWeightSource.UNetPrefix : DiffusersWeightSource.TextPrefix)
        + ParameterName;

    /// <summary>The parameter's shape.</summary>
    public long[] Shape => Parameter.shape;
}
