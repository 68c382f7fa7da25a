namespace Redraft.Diffusion.Sampling;

/// <summary>
/// A sampler whose per-step noise depends on each image's seed directly rather than only on the
/// <c>nextNoise</c> stream: the SDE samplers, whose Brownian-tree noise (k-diffusion's
/// <c>BrownianTreeNoiseSampler</c>) is seeded per image, as AUTOMATIC1111 seeds it with each image's seed.
/// </summary>
/// <remarks>
/// The pipeline calls <see cref="ForSeeds"/> with the seeds of the batch (one per image, in batch order)
/// before sampling, and samples with the returned sampler. The original instance is not changed.
/// </remarks>
internal interface ISeededSampler
{
    /// <summary>
    /// A sampler like this one whose noise is seeded per image: <paramref name="seeds"/>[b] seeds batch row b,
    /// so the latent x given to <see cref="ISampler.Sample"/> must have seeds.Count rows.
    /// </summary>
    ISampler ForSeeds(IReadOnlyList<long> seeds);
}
