using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// Brownian-motion noise for the SDE samplers, the counterpart of k-diffusion's <c>BrownianTreeNoiseSampler</c>:
/// one Brownian motion W_b(t) per batch row b on t = σ ∈ [σ_min, σ_max], seeded by that row's seed, and
/// <see cref="Noise"/>(σ, σ') = (W(σ') − W(σ))/sqrt|σ' − σ|, which is N(0, I) for any single interval,
/// and independent for disjoint intervals, whatever the query order.
/// </summary>
/// <remarks>
/// <para><b>Not bit-identical to k-diffusion/torchsde.</b> k-diffusion builds one torchsde <c>BrownianTree</c>
/// (a <c>BrownianInterval</c> with halfway splitting, tolerance 1e-6) per image, whose Gaussian draws come from
/// torch generators seeded through numpy <c>SeedSequence</c> spawn keys and whose values depend on its
/// caches. This class is the same mathematical object built independently: a dyadic Brownian bridge.</para>
/// <para>Construction: W(σ_min) = 0; W(σ_max) = sqrt(σ_max − σ_min)·Z_root. The midpoint m of a dyadic interval
/// [a, b] whose ends are known gets W(m) = (W(a) + W(b))/2 + sqrt((b − a)/4)·Z_node (the exact conditional law
/// of a Brownian bridge). Each Z is a float32 <c>torch.randn</c> of the row's shape drawn from a fresh CPU
/// generator seeded with a SplitMix64 hash of (row seed, depth, index), so every node's value is a pure function
/// of the seed and its position: results do not depend on query order or on what is cached. A query at t bisects
/// from the root until t is a node, or the interval is narrower than <see cref="Tolerance"/> (absolute, as
/// torchsde's tol), where W is interpolated linearly between the interval's ends (variance error ≤ tol/4).</para>
/// <para>Tensors are float32 on the CPU. Computed nodes are kept in a small least-recently-used cache per row;
/// <see cref="Dispose"/> frees them.</para>
/// </remarks>
internal sealed class BrownianTreeNoise : IDisposable
{
    /// <summary>Width below which a query stops bisecting (torchsde's BrownianTree default tol).</summary>
    public const double Tolerance = 1e-6;

    private const int MaxDepth = 60;
    private const int CacheCapacity = 96;

    private readonly Row[] _rows;
    private readonly double _t0, _t1;

    /// <param name="seeds">One seed per batch row.</param>
    /// <param name="rowShape">Shape of one row (x.shape without the batch dimension).</param>
    /// <param name="sigmaMin">Lower end of the σ range (the run's smallest positive σ).</param>
    /// <param name="sigmaMax">Upper end (the run's largest σ).</param>
    public BrownianTreeNoise(IReadOnlyList<long> seeds, long[] rowShape, double sigmaMin, double sigmaMax)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        ArgumentNullException.ThrowIfNull(rowShape);
        if (seeds.Count == 0) throw new ArgumentException("need at least one seed", nameof(seeds));
        if (!(sigmaMin >= 0 && sigmaMax >= sigmaMin) || double.IsInfinity(sigmaMax))
            throw new ArgumentOutOfRangeException(nameof(sigmaMin), $"need 0 ≤ sigmaMin ≤ sigmaMax (got {sigmaMin}, {sigmaMax})");
        _t0 = sigmaMin;
        _t1 = sigmaMax;
        _rows = seeds.Select(s => new Row(s, (long[])rowShape.Clone(), sigmaMin, sigmaMax)).ToArray();
    }

    /// <summary>Number of batch rows (seeds).</summary>
    public int Rows => _rows.Length;

    /// <summary>
    /// (W(σNext) − W(σ))/sqrt|σNext − σ| for every row, stacked: shape [rows, ..rowShape], float32, CPU.
    /// Both σ must lie in [σ_min, σ_max] (up to rounding) and differ.
    /// </summary>
    public Tensor Noise(double sigma, double sigmaNext)
    {
        double a = Clamp(sigma), b = Clamp(sigmaNext);
        if (a == b) throw new ArgumentException($"empty interval [{sigma}, {sigmaNext}]");
        using var scope = NewDisposeScope();
        var parts = _rows.Select(r => r.W(b) - r.W(a)).ToArray();
        var w = stack(parts) / Math.Sqrt(Math.Abs(b - a));
        return w.MoveToOuterDisposeScope();
    }

    /// <summary>W(σ) of one row (shape rowShape), for tests; W(σ_min) = 0.</summary>
    public Tensor W(int row, double sigma)
    {
        using var scope = NewDisposeScope();
        return _rows[row].W(Clamp(sigma)).clone().MoveToOuterDisposeScope();
    }

    private double Clamp(double t)
    {
        double slack = 1e-9 * Math.Max(1.0, _t1);
        if (!(t >= _t0 - slack && t <= _t1 + slack))
            throw new ArgumentOutOfRangeException(nameof(t), t, $"outside the Brownian tree's range [{_t0}, {_t1}]");
        return Math.Clamp(t, _t0, _t1);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var r in _rows) r.Dispose();
    }

    /// <summary>SplitMix64 finaliser.</summary>
    internal static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private sealed class Row : IDisposable
    {
        private readonly ulong _seed;
        private readonly long[] _shape;
        private readonly double _t0, _t1;
        private readonly Dictionary<(int Depth, long Index), LinkedListNode<((int, long) Key, Tensor Value)>> _cache = new();
        private readonly LinkedList<((int, long) Key, Tensor Value)> _lru = new();
        private Tensor? _zero, _top;

        public Row(long seed, long[] shape, double t0, double t1)
        {
            _seed = Mix((ulong)seed ^ 0x5DEECE66DUL);
            _shape = shape;
            _t0 = t0;
            _t1 = t1;
        }

        private Tensor Gaussian(int depth, long index)
        {
            ulong s = Mix(Mix(_seed + (ulong)depth) ^ (ulong)index);
            using var gen = new Generator(s & 0x7FFF_FFFF_FFFF_FFFFUL);
            return randn(_shape, dtype: float32, generator: gen);
        }

        private Tensor Zero => _zero ??= KSampling.Keep(zeros(_shape, dtype: float32));

        private Tensor Top => _top ??= KSampling.Keep(Gaussian(0, 1) * Math.Sqrt(_t1 - _t0));

        /// <summary>W(t) for t in [t0, t1]; the result belongs to the current dispose scope or the cache (do not dispose).</summary>
        public Tensor W(double t)
        {
            if (t <= _t0) return Zero;
            if (t >= _t1) return Top;
            double a = _t0, b = _t1;
            Tensor wa = Zero, wb = Top;
            long index = 0;   // interval [index, index + 1] at depth d, in units of (t1 − t0)/2^d
            for (int depth = 0; ; depth++)
            {
                if (depth >= MaxDepth || b - a <= Tolerance)
                    return wa + (wb - wa) * ((t - a) / (b - a));
                double m = a + (b - a) / 2;
                if (!(m > a && m < b))
                    return wa + (wb - wa) * ((t - a) / (b - a));
                var wm = Midpoint(depth + 1, 2 * index + 1, wa, wb, b - a);
                if (t == m) return wm;
                if (t < m) { b = m; wb = wm; index = 2 * index; }
                else { a = m; wa = wm; index = 2 * index + 1; }
            }
        }

        private Tensor Midpoint(int depth, long index, Tensor wa, Tensor wb, double width)
        {
            var key = (depth, index);
            if (_cache.TryGetValue(key, out var node))
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
                return node.Value.Value;
            }
            Tensor value;
            using (var scope = NewDisposeScope())
                value = ((wa + wb) * 0.5 + Gaussian(depth, index) * Math.Sqrt(width / 4)).DetachFromDisposeScope();
            _cache[key] = _lru.AddFirst((key, value));
            if (_lru.Count > CacheCapacity)
            {
                var last = _lru.Last!;
                _lru.RemoveLast();
                _cache.Remove(last.Value.Key);
                // A query touches at most MaxDepth nodes, and Noise holds one earlier result while it makes its
                // second query: the capacity exceeds MaxDepth + 1,
                // so neither the nodes of the current path nor the one held result is ever the evicted one.
                last.Value.Value.Dispose();
            }
            return value;
        }

        public void Dispose()
        {
            foreach (var (_, v) in _lru) v.Dispose();
            _lru.Clear();
            _cache.Clear();
            _zero?.Dispose();
            _top?.Dispose();
            _zero = _top = null;
        }
    }
}
