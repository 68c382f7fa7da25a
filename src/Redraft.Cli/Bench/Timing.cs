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
        seconds.Sort();
        double median = seconds.Count % 2 == 1 ? seconds[seconds.Count / 2] : (seconds[seconds.Count / 2 - 1] + seconds[seconds.Count / 2]) / 2;
        return (median, seconds[0], seconds[^1]);
    }
}
