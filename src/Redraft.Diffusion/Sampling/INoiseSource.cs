using TorchSharp;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// A per-image stream of standard normal noise: the starting latent noise, the img2img posterior
/// sample and ancestral/SDE step noise are all drawn, in that order, from one source seeded with the
/// image's seed. Implementations are stateful (each call continues the stream) and not thread-safe.
/// </summary>
internal interface INoiseSource : IDisposable
{
    /// <summary>Draws a float32 tensor of N(0, 1) values with the given shape, on the CPU.</summary>
    torch.Tensor Randn(long[] shape);
}
