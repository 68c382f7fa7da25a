using TorchSharp;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// The default source: a CPU <c>torch.Generator</c> seeded with the seed and <c>torch.randn(shape, generator)</c>,
/// i.e. PyTorch's CPU stream (mt19937) exactly as diffusers on CPU draws it.
/// </summary>
internal sealed class CpuNoiseSource : INoiseSource
{
    private readonly torch.Generator _generator;

    /// <summary>Creates a source whose generator is seeded with <paramref name="seed"/>.</summary>
    public CpuNoiseSource(ulong seed)
    {
        Seed = seed;
        _generator = new torch.Generator(seed);
    }

    /// <summary>The seed the generator was created with.</summary>
    public ulong Seed { get; }

    /// <inheritdoc />
    public torch.Tensor Randn(long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return torch.randn(shape, dtype: torch.float32, generator: _generator);
    }

    /// <summary>Releases the native generator.</summary>
    public void Dispose() => _generator.Dispose();
}
