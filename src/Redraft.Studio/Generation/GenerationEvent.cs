using Redraft.Diffusion.Pipelines;
using Redraft.Imaging;

namespace Redraft.Studio.Generation;

/// <summary>
/// Progress of a job in <see cref="GenerationService"/>: its phase, the sampling step of the current run, which run
/// of <see cref="GenerationSettings.BatchCount"/> it is, how much of the run's decode is done, an estimate of the time
/// left, and on preview steps a fast TAESD picture of the current estimate of the run's first image.
/// </summary>
/// <param name="Phase">What the job is doing.</param>
/// <param name="Step">Sampling steps done in the current run.</param>
/// <param name="Total">Sampling steps of a run.</param>
/// <param name="Iteration">The current run, 0-based.</param>
/// <param name="Iterations">Runs in the job.</param>
/// <param name="Elapsed">Time since the job started.</param>
/// <param name="Eta">Estimated time left, sampling and decoding (null until a step has been timed).</param>
/// <param name="Preview">The live preview, on preview steps.</param>
/// <param name="DecodeFraction">While decoding: the share of the run's VAE decode done, 0–1.</param>
public sealed record GenerationEvent(GenerationPhase Phase, int Step, int Total, int Iteration, int Iterations,
    TimeSpan Elapsed, TimeSpan? Eta, RgbImage? Preview = null, double? DecodeFraction = null)
{
    /// <summary>
    /// Fraction of the job done, 0–1 over all runs; each run counts its sampling steps plus one step's worth for its
    /// decode, so the bar keeps moving while a large image decodes instead of sitting at 100 %.
    /// </summary>
    public double Fraction => Phase == GenerationPhase.Done ? 1
        : Total <= 0 || Iterations <= 0 ? 0
        : Math.Clamp((Iteration * (Total + 1.0) + Step + (Phase == GenerationPhase.Decode ? DecodeFraction ?? 0 : 0)) / (Iterations * (Total + 1.0)), 0, 1);
}
