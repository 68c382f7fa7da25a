using System.Diagnostics;

namespace Redraft.Cli.Bench;

/// <summary>Runs a piece of work once to warm up (and count FLOPs), then N times; reports median, min and max.</summary>
internal static class Timing
{
    public static (double Median, double Min, double Max) Measure(Action work, int runs, CancellationToken ct)
    {
        work();
        var seconds = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            ct.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            work();
            seconds.Add(clock.Elapsed.TotalSeconds);
        }
        return (Median(seconds), seconds.Min(), seconds.Max());
    }

    /// <summary>The median (mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
