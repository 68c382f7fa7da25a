using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// Channels-last (NHWC in memory) helpers for the UNet's activations. oneDNN's convolutions run at full speed
/// only when input and weights are both channels-last; an NCHW input with channels-last weights takes a slow path
/// (measured 102 GFLOP/s instead of 500+ in bf16), so every op that may return NCHW is followed by
/// <see cref="Ensure"/>.
/// </summary>
internal static class ChannelsLast
{
    /// <summary>
    /// Whether a 4-D tensor is laid out channels-last: its NHWC view is contiguous. Dimensions of size 1 may have any
    /// stride (libtorch leaves them as they were), so a (N, C, 1, 1) tensor is both NCHW and channels-last.
    /// </summary>
    public static bool Is(Tensor x)
    {
        if (x.dim() != 4) return false;
        using var nhwc = x.permute(0, 2, 3, 1);
        return nhwc.is_contiguous();
    }

    /// <summary><paramref name="x"/> as channels-last: itself if it already is, else a channels-last copy.</summary>
    public static Tensor Ensure(Tensor x) => Is(x) ? x : x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    /// <summary>
    /// Stores every convolution weight of <paramref name="model"/> channels-last: with NCHW weights and channels-last
    /// activations oneDNN reorders the weights on every call, which at the UNet's 16×16 level made bf16
    /// convolutions 4× slower. Values and parameter names are unchanged (the storage is swapped in place with
    /// <c>set_</c>, so the NCHW copy is freed now, not when a finalizer runs); call after loading the weights.
    /// </summary>
    public static void UseForConvolutionWeights(nn.Module model)
    {
        using var noGrad = no_grad();
        var seen = new HashSet<TorchSharp.Modules.Conv2d>(ReferenceEqualityComparer.Instance);
        foreach (var (_, module) in model.named_modules())
        {
            if (module is not TorchSharp.Modules.Conv2d conv || !seen.Add(conv) || conv.weight is not { } weight || weight.stride(1) == 1) continue;
            using var channelsLast = weight.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
            weight.set_(channelsLast);
        }
    }

    /// <summary>
    /// Concatenation along channels that stays channels-last: the NHWC views are joined along their last
    /// dimension (a plain <c>cat(dim: 1)</c> of channels-last tensors returns NCHW).
    /// </summary>
    public static Tensor CatChannels(Tensor a, Tensor b)
    {
        if (!Is(a) || !Is(b)) return cat([a, b], dim: 1);
        return cat([a.permute(0, 2, 3, 1), b.permute(0, 2, 3, 1)], dim: 3).permute(0, 3, 1, 2);
    }
}
