using static TorchSharp.torch;

namespace Redraft.Cli.Bench;

/// <summary>This machine's square-matmul rate per dtype at the current thread count: the yardstick for "floor" ratios.</summary>
internal static class MatmulRate
{
    public static double Gflops(ScalarType dtype, CancellationToken ct, int n = 2048, int runs = 5)
    {
        using var noGrad = no_grad();
        using var generator = new Generator(3);
        using var a = randn(new long[] { n, n }, generator: generator).to(dtype);
        using var b = randn(new long[] { n, n }, generator: generator).to(dtype);
        var (median, _, _) = Timing.Measure(() => { using var _ = a.matmul(b); }, runs, ct);
        return 2.0 * n * n * n / median / 1e9;
    }
}
