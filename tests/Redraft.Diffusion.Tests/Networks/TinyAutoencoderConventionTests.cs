using Redraft.Diffusion.Networks;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Networks;

/// <summary>
/// TAESD's <see cref="TinyAutoencoder.Decode"/> takes the same latent the pipeline gives the full VAE (before the
/// pipeline divides by the scale factor) and returns the same layout in the same range.
/// </summary>
[Collection(TinyModelCollection.Name)]
public sealed class TinyAutoencoderConventionTests(TinyModelFixture fixture)
{
    [SharedDataFact]
    public void DecodesTheDiffusionLatentToTheFullVaesLayoutAndRange()
    {
        var model = fixture.Model;
        using var taesd = TinyAutoencoder.LoadFromFolder(Path.Combine(SharedData.DataDir, "taesd"));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        // A latent on the diffusion model's scale, as the sampler leaves it: TAESD's encoding of a real image.
        var latent = taesd.Encode(TinyAutoencoderTests.TestImage(64)).to(model.Device);
        Assert.Equal([1, 4, 8, 8], latent.shape);
        double scale = model.Description.Vae.ScaleFactor;

        var full = model.Vae.Decode(latent / scale);
        var tiny = taesd.Decode(latent);

        Assert.Equal(full.shape, tiny.shape);
        Assert.Equal([1, 3, 64, 64], tiny.shape);
        Assert.Equal(full.dtype, tiny.dtype);
        Assert.Equal(full.device_type, tiny.device_type);
        Assert.True(tiny.min().item<float>() >= -1f && tiny.max().item<float>() <= 1f);
        // The full VAE is not clamped (random weights here); the pipeline clamps it to [-1, 1] when making pixels.
        Assert.True(isfinite(full).all().item<bool>());
        var clamped = full.clamp(-1.0, 1.0);
        Assert.True(clamped.min().item<float>() >= -1f && clamped.max().item<float>() <= 1f);
    }

    [SharedDataFact]
    public void TheTinyModelsVaeScaleIsStableDiffusions()
    {
        // TAESD's latents are SD's scaled latents only for the SD 1.x/2.x factor.
        Assert.Equal(0.18215, fixture.Model.Description.Vae.ScaleFactor);
    }
}
