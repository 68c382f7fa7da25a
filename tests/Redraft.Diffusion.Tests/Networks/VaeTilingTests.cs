using Redraft.Diffusion.Networks;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Networks;

/// <summary>Tiled VAE decoding: layout of the stitched result, pass-through when one tile suffices, exact first tile.</summary>
public sealed class VaeTilingTests
{
    private static AutoencoderKL TinyVae()
    {
        var vae = new AutoencoderKL(new AutoencoderConfig { Channels = 32, ChannelMult = [1, 1, 2, 2], NumResBlocks = 1 });
        vae.eval();
        return vae;
    }

    [Fact]
    public void TiledDecodeStitchesTilesWithTheRightLayout()
    {
        using var noGrad = no_grad();
        using var vae = TinyVae();
        using var generator = new Generator(4);
        using var latent = randn(new long[] { 1, 4, 20, 28 }, generator: generator);
        using var tiled = vae.DecodeTiled(latent, tileLatent: 8, overlap: 0.25);
        Assert.Equal(new long[] { 1, 3, 160, 224 }, tiled.shape);
        Assert.True(isfinite(tiled).all().item<bool>());

        // The first tile's unblended part (rows and columns before the first overlap) is that tile's own decode.
        using var first = vae.Decode(latent[.., .., ..8, ..8]);
        int keep = 64 - 16;
        Assert.True(tiled[.., .., ..keep, ..keep].eq(first[.., .., ..keep, ..keep]).all().item<bool>());
    }

    [Fact]
    public void LatentThatFitsOneTileDecodesAsUsual()
    {
        using var noGrad = no_grad();
        using var vae = TinyVae();
        using var generator = new Generator(5);
        using var latent = randn(new long[] { 1, 4, 8, 8 }, generator: generator);
        using var plain = vae.Decode(latent);
        using var tiled = vae.DecodeTiled(latent, tileLatent: 8);
        Assert.True(tiled.eq(plain).all().item<bool>());
    }
}
