using System.Diagnostics;
using Redraft.Diffusion.Pipelines;
using Redraft.Diffusion.Sampling;

namespace Redraft.Cli.Bench;

/// <summary>
/// For each sampler: the fewest steps N whose image differs from the 2N-step image by less than a threshold
/// (mean absolute difference, 0–255 units), and the seconds per step. Samplers that inject fresh noise each step
/// (Euler a, DPM2 a style ancestral ones, LCM) do not converge pathwise and are reported as such.
/// </summary>
internal static class SamplerConvergence
{
    public sealed record Row(string Sampler, int? ConvergedSteps, double LastDifference, double SecondsPerStep);

    private static readonly int[] StepCounts = [2, 3, 4, 6, 8, 12, 16, 24, 32, 48];

    public static IEnumerable<Row> Run(DiffusionPipeline pipeline, GenerationRequest baseRequest, double threshold, CancellationToken ct)
    {
        foreach (var sampler in SamplerRegistry.All)
        {
            var images = new Dictionary<int, byte[]>();
            double seconds = 0;
            int totalSteps = 0;
            byte[] Image(int steps)
            {
                if (images.TryGetValue(steps, out var cached)) return cached;
                var clock = Stopwatch.StartNew();
                var image = pipeline.Generate(baseRequest with { Sampler = sampler.Name, Steps = steps }, null, ct).Images[0].Image.Rgb;
                seconds += clock.Elapsed.TotalSeconds;
                totalSteps += steps;
                return images[steps] = image;
            }
            int? converged = null;
            double difference = double.NaN;
            foreach (var n in StepCounts)
            {
                ct.ThrowIfCancellationRequested();
                var a = Image(n);
                var b = Image(n * 2);
                difference = a.Zip(b, (x, y) => Math.Abs(x - y)).Average();
                if (difference < threshold)
                {
                    converged = n;
                    break;
                }
            }
            yield return new Row(sampler.Name, converged, difference, seconds / totalSteps);
        }
    }
}
