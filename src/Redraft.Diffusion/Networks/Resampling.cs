using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>UNet downsampling: a stride-2 3×3 convolution (key <c>op</c>).</summary>
internal sealed class Downsample : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> op;

    public Downsample(long channels) : base(nameof(Downsample))
    {
        op = Layers.Conv3x3(channels, channels, stride: 2);
        register_module("op", op);
    }

    public override Tensor forward(Tensor x) => op.call(x);
}

/// <summary>Nearest-neighbour ×2 then a 3×3 convolution (key <c>conv</c>); used by the UNet and the VAE decoder.</summary>
internal sealed class Upsample : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> conv;

    public Upsample(long channels) : base(nameof(Upsample))
    {
        conv = Layers.Conv3x3(channels, channels);
        register_module("conv", conv);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var up = nn.functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        if (ChannelsLast.Is(x)) up = ChannelsLast.Ensure(up);
        return conv.call(up).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Nearest-neighbour to exactly <paramref name="height"/> x <paramref name="width"/> (diffusers' <c>upsample_size</c>):
    /// the UNet uses the size of the skip connection it is about to join, so latents whose sides are not divisible by
    /// 2^levels (images in multiples of 8 but not of 64) still line up. For exactly twice the size it equals <see cref="forward"/>.
    /// </summary>
    public Tensor Forward(Tensor x, long height, long width)
    {
        if (height == 2 * x.shape[2] && width == 2 * x.shape[3]) return forward(x);
        using var scope = NewDisposeScope();
        var up = nn.functional.interpolate(x, size: [height, width], mode: InterpolationMode.Nearest);
        if (ChannelsLast.Is(x)) up = ChannelsLast.Ensure(up);
        return conv.call(up).MoveToOuterDisposeScope();
    }
}
