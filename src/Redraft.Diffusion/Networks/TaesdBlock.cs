using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// TAESD's residual block at 64 channels: conv, ReLU, conv, ReLU, conv (keys <c>conv.0</c>, <c>conv.2</c>,
/// <c>conv.4</c>; the ReLUs at 1 and 3 hold no parameters), then ReLU(result + input). The skip is the identity.
/// </summary>
internal sealed class TaesdBlock : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> conv0, conv2, conv4;

    public TaesdBlock(long channels) : base(nameof(TaesdBlock))
    {
        var conv = new ModuleSlots();
        conv0 = conv.Add("0", Layers.Conv3x3(channels, channels));
        conv2 = conv.Add("2", Layers.Conv3x3(channels, channels));
        conv4 = conv.Add("4", Layers.Conv3x3(channels, channels));
        register_module("conv", conv);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(conv0.call(x));
        h = nn.functional.relu(conv2.call(h));
        h = conv4.call(h);
        return nn.functional.relu(h + x).MoveToOuterDisposeScope();
    }
}
