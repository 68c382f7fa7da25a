using TorchSharp;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// The model as samplers see it: given <paramref name="x"/> in k-diffusion "sigma space"
/// (x = x0 + σ·ε) and the noise level <paramref name="sigma"/> (the same for the whole batch),
/// returns the denoised estimate x0, shaped like <paramref name="x"/>.
/// </summary>
/// <remarks>
/// The pipeline implements this on top of the UNet: it scales x to DDPM space
/// (÷ sqrt(σ²+1)), converts σ to a timestep with <see cref="NoiseSchedule.TimestepAt"/> (on AUTOMATIC1111's UniPC
/// grid, <see cref="ScheduleKind.TimeUniform"/>, through the continuous time of <see cref="DiscreteVpTime"/>),
/// applies classifier-free guidance and turns the predicted noise ε into x0 = x − σ·ε.
/// Samplers call it inside a per-step dispose scope: the returned tensor may be a temporary,
/// and the sampler frees it (and everything else created in the step) when the step ends.
/// </remarks>
internal delegate torch.Tensor Denoiser(torch.Tensor x, double sigma);
