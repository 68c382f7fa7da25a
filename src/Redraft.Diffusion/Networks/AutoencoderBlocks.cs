using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>The VAE's residual block (<c>norm1, conv1, norm2, conv2, nin_shortcut</c>); GroupNorm eps 1e-6, no timestep input.</summary>
internal sealed class VaeResnetBlock : nn.Module<Tensor, Tensor>
{
    private readonly GroupNormF32 norm1, norm2;
    private readonly nn.Module<Tensor, Tensor> conv1, conv2;
    private readonly nn.Module<Tensor, Tensor>? shortcut;

    public VaeResnetBlock(long inChannels, long outChannels) : base(nameof(VaeResnetBlock))
    {
        norm1 = Layers.GroupNorm32(inChannels, 1e-6);
        conv1 = Layers.Conv3x3(inChannels, outChannels);
        norm2 = Layers.GroupNorm32(outChannels, 1e-6);
        conv2 = Layers.Conv3x3(outChannels, outChannels);
        register_module("norm1", norm1);
        register_module("conv1", conv1);
        register_module("norm2", norm2);
        register_module("conv2", conv2);
        if (inChannels != outChannels)
        {
            shortcut = Layers.Conv1x1(inChannels, outChannels);
            register_module("nin_shortcut", shortcut);
        }
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = conv1.call(norm1.ForwardThenSilu(x));
        h = conv2.call(norm2.ForwardThenSilu(h));
        return ((shortcut is null ? x : shortcut.call(x)) + h).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Single-head spatial self-attention of the VAE's middle (<c>norm, q, k, v, proj_out</c> as 1×1 convs). The
/// softmax(q·kᵀ)·v core runs in fp32 whatever the weights' dtype: its 512-wide head is beyond the fused kernel, and
/// libtorch's attention is no faster in bf16.
/// </summary>
internal sealed class VaeAttentionBlock : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> norm, q, k, v, projOut;

    public VaeAttentionBlock(long channels) : base(nameof(VaeAttentionBlock))
    {
        norm = Layers.GroupNorm32(channels, 1e-6);
        q = Layers.Conv1x1(channels, channels);
        k = Layers.Conv1x1(channels, channels);
        v = Layers.Conv1x1(channels, channels);
        projOut = Layers.Conv1x1(channels, channels);
        register_module("norm", norm);
        register_module("q", q);
        register_module("k", k);
        register_module("v", v);
        register_module("proj_out", projOut);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        var n = norm.call(x);
        Tensor Tokens(Tensor t) => t.reshape(b, 1, c, h * w).transpose(2, 3);
        FlopCounter.AddAttention(b, h * w, h * w, c);
        Tensor Fp32Tokens(Tensor t) => Tokens(t).to(ScalarType.Float32);
        var o = nn.functional.scaled_dot_product_attention(Fp32Tokens(q.call(n)), Fp32Tokens(k.call(n)), Fp32Tokens(v.call(n)));
        var spatial = o.transpose(2, 3).reshape(b, c, h, w).to(x.dtype);
        if (ChannelsLast.Is(x)) spatial = ChannelsLast.Ensure(spatial);
        return (x + projOut.call(spatial)).MoveToOuterDisposeScope();
    }
}

/// <summary>VAE encoder downsampling: pad right and bottom by one, then a stride-2 3×3 convolution without padding (key <c>conv</c>).</summary>
internal sealed class VaeDownsample : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> conv;

    public VaeDownsample(long channels) : base(nameof(VaeDownsample))
    {
        conv = Layers.Conv2d(channels, channels, 3, 2, 0);
        register_module("conv", conv);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var padded = nn.functional.pad(x, [0, 1, 0, 1]);
        if (ChannelsLast.Is(x)) padded = ChannelsLast.Ensure(padded);
        return conv.call(padded).MoveToOuterDisposeScope();
    }
}
