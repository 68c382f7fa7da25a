using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Sampling;

/// <summary>Small helpers shared by the k-diffusion samplers (Heun, LMS, DPM2, DPM++).</summary>
internal static class KSampling
{
    /// <summary>Calls the model, rejecting a null result.</summary>
    public static Tensor Eval(Denoiser denoise, Tensor x, double sigma) =>
        denoise(x, sigma) ?? throw new InvalidOperationException("the denoiser returned null");

    /// <summary>Throws unless a step can start at <paramref name="sigma"/> (σ &gt; 0).</summary>
    public static void CheckFrom(double sigma)
    {
        if (!(sigma > 0)) throw new ArgumentException($"cannot step from sigma {sigma}", "sigmas");
    }

    /// <summary>
    /// A handle on <paramref name="t"/> that outlives the current step's dispose scope (for multistep
    /// history); the caller disposes it.
    /// </summary>
    public static Tensor Keep(Tensor t)
    {
        var a = t.alias();
        a.DetachFromDisposeScope();
        return a;
    }

    /// <summary>Brings Brownian noise to the dtype and device of <paramref name="like"/>.</summary>
    public static Tensor Like(Tensor noise, Tensor like) =>
        noise.dtype != like.dtype || noise.device != like.device ? noise.to(like.dtype, like.device) : noise;

    /// <summary>e^x − 1 without cancellation for small |x| (Kahan's method); expm1(−∞) = −1.</summary>
    public static double Expm1(double x)
    {
        if (double.IsNegativeInfinity(x)) return -1;
        double u = Math.Exp(x);
        if (u == 1.0) return x;
        double um1 = u - 1.0;
        if (um1 == -1.0) return -1.0;
        if (double.IsPositiveInfinity(u)) return u;
        return um1 * x / Math.Log(u);
    }

    /// <summary>
    /// The Brownian-tree noise of an SDE run on <paramref name="x"/>: seeded with <paramref name="seeds"/> (one per
    /// batch row) when given; otherwise each row's seed is a hash of that row of one tensor drawn from
    /// <paramref name="nextNoise"/> (deterministic for a seeded noise stream, but not A1111's seeding).
    /// The σ range is the run's smallest positive σ to its largest, as in k-diffusion.
    /// </summary>
    public static BrownianTreeNoise Brownian(IReadOnlyList<long>? seeds, Tensor x, double[] sigmas, Func<Tensor> nextNoise)
    {
        long rows = x.shape[0];
        if (seeds is null)
        {
            ArgumentNullException.ThrowIfNull(nextNoise);
            using var scope = NewDisposeScope();
            var n = SamplerLoop.Noise(nextNoise, x).to(float32, CPU).reshape(rows, -1).contiguous();
            float[] values = n.data<float>().ToArray();
            long per = values.Length / rows;
            var derived = new long[rows];
            for (long r = 0; r < rows; r++)
            {
                ulong h = 0x243F6A8885A308D3UL;
                for (long k = r * per; k < (r + 1) * per; k++)
                    h = BrownianTreeNoise.Mix(h ^ (uint)BitConverter.SingleToInt32Bits(values[k]));
                derived[r] = (long)h;
            }
            seeds = derived;
        }
        else if (seeds.Count != rows)
            throw new ArgumentException($"{seeds.Count} seeds for a batch of {rows}", nameof(seeds));
        var (min, max) = PositiveRange(sigmas);
        return new BrownianTreeNoise(seeds, x.shape[1..], min, max);
    }

    /// <summary>Smallest positive and largest sigma of a run (k-diffusion's Brownian-tree range).</summary>
    public static (double Min, double Max) PositiveRange(double[] sigmas)
    {
        double min = double.PositiveInfinity, max = 0;
        foreach (var s in sigmas)
        {
            if (s > 0 && s < min) min = s;
            if (s > max) max = s;
        }
        return (double.IsPositiveInfinity(min) ? max : min, max);
    }
}
