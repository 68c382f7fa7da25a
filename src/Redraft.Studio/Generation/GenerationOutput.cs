using Redraft.Diffusion.Pipelines;
using Redraft.Imaging;

namespace Redraft.Studio.Generation;

/// <summary>One image of a job: its pixels, its PNG (with the A1111 <c>parameters</c> chunk) and the seeds that make it again.</summary>
/// <param name="Image">The pixels.</param>
/// <param name="Png">PNG bytes carrying <paramref name="Info"/> as the <c>parameters</c> text chunk.</param>
/// <param name="Info">The infotext.</param>
/// <param name="Seed">Its seed.</param>
/// <param name="Subseed">Its variation seed (meaningful when the subseed strength is above 0).</param>
/// <param name="Index">Its position in the job (across runs).</param>
public sealed record GeneratedPicture(RgbImage Image, byte[] Png, GenerationInfo Info, long Seed, long Subseed, int Index);

/// <summary>What a job made and how it ran.</summary>
/// <param name="Images">The images, in seed order (skipped runs left out).</param>
/// <param name="Settings">The resolved settings: running them again gives the same bytes.</param>
/// <param name="ModelHash">The model's short hash (AutoV2).</param>
/// <param name="ModelName">The model's name.</param>
/// <param name="SamplerName">The sampler's A1111 name.</param>
/// <param name="StepsRun">Sampling steps the last run made (fewer than planned when interrupted).</param>
/// <param name="StepsPlanned">Sampling steps per run.</param>
/// <param name="Stop">Completed, or interrupted (then the images are decoded from the last step's estimate).</param>
/// <param name="SkippedRuns">Runs ended by <see cref="GenerationControl.Skip"/>, without images.</param>
/// <param name="Duration">Time from the start of the job, model load included.</param>
/// <param name="LoadDuration">Time spent loading the model (zero when it was cached).</param>
public sealed record GenerationOutput(IReadOnlyList<GeneratedPicture> Images, GenerationSettings Settings, string ModelHash, string ModelName,
    string SamplerName, int StepsRun, int StepsPlanned, StopReason Stop, int SkippedRuns, TimeSpan Duration, TimeSpan LoadDuration);
