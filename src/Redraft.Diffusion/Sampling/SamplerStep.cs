using TorchSharp;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// Progress report of one sampler step, raised after the model has been evaluated and before
/// the latent is moved to the next noise level (k-diffusion's callback convention).
/// </summary>
/// <param name="Index">0-based index of the step within this run.</param>
/// <param name="Total">Number of steps of this run (sigmas.Length − 1).</param>
/// <param name="Sigma">Noise level the model was evaluated at.</param>
/// <param name="Latent">The current latent x at <paramref name="Sigma"/> (sigma space).</param>
/// <param name="Denoised">The model's x0 estimate at this step (use it for previews).</param>
/// <remarks>
/// Both tensors belong to the sampler and are disposed when the step ends: read them during the
/// callback, or <c>clone()</c> them (and move the clone out of the current dispose scope) to keep them.
/// </remarks>
internal sealed record SamplerStep(int Index, int Total, double Sigma, torch.Tensor Latent, torch.Tensor Denoised);
