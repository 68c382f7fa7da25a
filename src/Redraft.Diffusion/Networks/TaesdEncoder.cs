using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// TAESD's encoder in its own conventions: RGB image (N, 3, H, W) in [0, 1] → latent (N, 4, H/8, W/8) on the
/// diffusion model's scale (SD-VAE latents × 0.18215). Children are named by their index in the original
/// sequential list, so parameter names equal the weight file's keys (<c>0.weight</c>, <c>1.conv.0.weight</c>, …).
/// </summary>
/// <remarks>
/// Layers: 0 conv(3→64); 1 block; 2 stride-2 conv without bias; 3–5 blocks; 6 stride-2 conv; 7–9 blocks;
/// 10 stride-2 conv; 11–13 blocks; 14 conv(64→4), no final activation. H and W should be multiples of 8.
/// </remarks>
internal sealed class TaesdEncoder : nn.Module<Tensor, Tensor>
{
    /// <summary>Width of every hidden layer.</summary>
    public const long Channels = 64;

    /// <summary>Latent channels.</summary>
    public const long LatentChannels = 4;

    private readonly List<nn.Module<Tensor, Tensor>> layers = [];

    public TaesdEncoder() : base(nameof(TaesdEncoder))
    {
        Add(0, Layers.Conv3x3(3, Channels));
        Add(1, new TaesdBlock(Channels));
        int index = 2;
        for (int stage = 0; stage < 3; stage++)
        {
            Add(index++, Layers.Conv3x3(Channels, Channels, stride: 2, hasBias: false));
            for (int i = 0; i < 3; i++) Add(index++, new TaesdBlock(Channels));
        }
        Add(index, Layers.Conv3x3(Channels, LatentChannels));
    }

    private void Add(int index, nn.Module<Tensor, Tensor> layer)
    {
        register_module(index.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
        layers.Add(layer);
    }

    public override Tensor forward(Tensor image)
    {
        using var scope = NewDisposeScope();
        var h = image;
        foreach (var layer in layers) h = layer.call(h);
        return h.MoveToOuterDisposeScope();
    }
}
