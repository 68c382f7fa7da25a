namespace Redraft.Bench.Canvas;

/// <summary>Order statistics of a set of timings (milliseconds).</summary>
public sealed record Stats(int Count, double Median, double P95, double Max)
{
    /// <summary>
    /// Median (the mean of the two middle values for an even count), 95th percentile (nearest rank) and maximum.
    /// </summary>
    public static Stats Of(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no timings", nameof(values));
        double[] sorted = [.. values.Order()];
        int n = sorted.Length;
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        double p95 = sorted[Math.Clamp((int)Math.Ceiling(0.95 * n) - 1, 0, n - 1)];
        return new Stats(n, median, p95, sorted[^1]);
    }

    /// <summary>The median of <paramref name="values"/>.</summary>
    public static double MedianOf(IReadOnlyCollection<double> values) => Of(values).Median;
}
