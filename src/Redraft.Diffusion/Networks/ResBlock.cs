using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// The UNet's residual block (openaimodel.ResBlock): GroupNorm→SiLU→conv, plus the projected timestep
/// embedding, then GroupNorm→SiLU→(dropout)→conv, added to a 1×1-projected skip when channels change.
/// Keys: <c>in_layers.{0,2}</c>, <c>emb_layers.1</c>, <c>out_layers.{0,3}</c>, <c>skip_connection</c>.
/// </summary>
internal sealed class ResBlock : nn.Module
{
    private readonly GroupNormF32 inNorm, outNorm;
    private readonly nn.Module<Tensor, Tensor> inConv, embLinear, outConv;
    private readonly nn.Module<Tensor, Tensor>? skip;

    public ResBlock(long channels, long embedChannels, long outChannels) : base(nameof(ResBlock))
    {
        var inLayers = new ModuleSlots();
        inNorm = inLayers.Add("0", Layers.GroupNorm32(channels));
        inConv = inLayers.Add("2", Layers.Conv3x3(channels, outChannels));
        register_module("in_layers", inLayers);

        var embLayers = new ModuleSlots();
        embLinear = embLayers.Add("1", Layers.Linear(embedChannels, outChannels));
        register_module("emb_layers", embLayers);

        var outLayers = new ModuleSlots();
        outNorm = outLayers.Add("0", Layers.GroupNorm32(outChannels));
        outConv = outLayers.Add("3", Layers.Conv3x3(outChannels, outChannels));
        register_module("out_layers", outLayers);

        if (channels != outChannels)
        {
            skip = Layers.Conv1x1(channels, outChannels);
            register_module("skip_connection", skip);
        }
    }

    public Tensor Forward(Tensor x, Tensor emb)
    {
        using var scope = NewDisposeScope();
        var h = SmallImageConvolution.Apply(inConv, inNorm.ForwardThenSilu(x));
        var e = embLinear.call(nn.functional.silu(emb)).to(h.dtype);
        h = h + e.unsqueeze(-1).unsqueeze(-1);
        h = SmallImageConvolution.Apply(outConv, outNorm.ForwardThenSilu(h));
        var result = (skip is null ? x : skip.call(x)) + h;
        return result.MoveToOuterDisposeScope();
    }
}
