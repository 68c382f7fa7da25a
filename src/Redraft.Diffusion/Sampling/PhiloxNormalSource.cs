using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// AUTOMATIC1111's "NV" random number source: reproduces, on any device, the standard normal
/// numbers that PyTorch's CUDA generator draws with <c>torch.manual_seed(seed)</c> followed by
/// <c>torch.randn(shape, device='cuda')</c> calls, so seeds shared by GPU users give the same image.
/// Pure managed code, deterministic, float32 output on the CPU.
/// </summary>
/// <remarks>
/// <para>Element <c>i</c> (row-major) of the <c>n</c>-th call (0-based, <see cref="Offset"/>) is computed from one
/// Philox4x32-10 block (see <see cref="Philox4x32"/>) with</para>
/// <list type="bullet">
/// <item>counter = (offset low 32 bits, offset high 32 bits, i, 0): CUDA's <c>curand_init(seed, subsequence: i, offset)</c>
/// state, where PyTorch advances the Philox offset by 4 draws (one counter step) per <c>randn</c> call whose elements each
/// fit in one thread, which holds for latent-sized tensors;</item>
/// <item>key = (seed low 32 bits, seed high 32 bits).</item>
/// </list>
/// <para>The first two output words <c>x, y</c> make one Box–Muller pair, of which only the sine half is kept
/// (the first value <c>curand_normal4</c> returns):
/// <c>u = x·2⁻³² + 2⁻³³</c>, <c>v = y·c + c/2</c> with <c>c = float32(2⁻³²·6.2831855)</c>,
/// value = <c>float32(sqrt(−2 ln u) · sin v)</c>. As in A1111's <c>modules/rng_philox.py</c>, the constants are float32
/// and the arithmetic is double, rounded to float32 at the end. The other two Philox words are discarded.</para>
/// <para>Fidelity: this is A1111's emulation, value for value (its layout and its double-precision transform); real CUDA
/// computes the transform with single-precision device intrinsics, so its values differ from these by up to about 1e-6
/// (checked against published CUDA output to the 4 printed decimals). For tensors with more elements than the GPU runs
/// threads at once, CUDA's grid-stride loop maps elements differently; like A1111 this class ignores that (latent-sized
/// tensors are below the cap).</para>
/// <para>Elements are computed four at a time with <see cref="Vector256"/> (Philox lanes and <c>Vector256.Log</c>/<c>Sin</c>);
/// large calls are split across threads. Results do not depend on either. At most <see cref="int.MaxValue"/> elements per
/// call (the element index is counter word 2, so A1111's own limit is 2³²). Not thread-safe: one instance per image.</para>
/// </remarks>
internal sealed class PhiloxNormalSource : INoiseSource
{
    // float32 constants, widened to double exactly as NumPy promotes them in rng_philox.py.
    private const float TwoPow32InvF = 2.3283064e-10f;                 // rounds to exactly 2^-32
    private const float TwoPow32Inv2PiF = (float)(2.3283064e-10 * 6.2831855);
    private const double UScale = TwoPow32InvF;
    private const double UHalf = TwoPow32InvF / 2f;
    private const double VScale = TwoPow32Inv2PiF;
    private const double VHalf = TwoPow32Inv2PiF / 2f;

    /// <summary>Elements per call above which the work is split across threads.</summary>
    private const int ParallelThreshold = 1 << 15;

    /// <summary>Creates the source for <paramref name="seed"/>, as <c>torch.manual_seed(seed)</c> on CUDA.</summary>
    /// <param name="seed">The seed: the 64-bit Philox key.</param>
    /// <param name="offset">Number of calls already made (0 for a fresh generator).</param>
    public PhiloxNormalSource(ulong seed, ulong offset = 0)
    {
        Seed = seed;
        Offset = offset;
    }

    /// <summary>The seed (Philox key).</summary>
    public ulong Seed { get; }

    /// <summary>Number of <see cref="Randn"/>/<see cref="Fill"/> calls made so far; the counter's first 64 bits.</summary>
    public ulong Offset { get; private set; }

    /// <summary>
    /// Draws a float32 tensor of standard normal values of the given shape on the CPU,
    /// then advances <see cref="Offset"/> by one.
    /// </summary>
    /// <param name="shape">The tensor shape; its element count must not exceed 2³².</param>
    /// <exception cref="ArgumentException">If a dimension is negative or the shape has more than 2³² elements.</exception>
    public torch.Tensor Randn(long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Negative dimension {d} in shape.", nameof(shape));
            n = checked(n * d);
        }
        if (n > int.MaxValue) throw new ArgumentException($"Shape has {n} elements; at most {int.MaxValue} per call are supported.", nameof(shape));
        var values = new float[n];
        Fill(values);
        return torch.tensor(values, shape, dtype: torch.float32);
    }

    /// <summary>
    /// Fills <paramref name="destination"/> with the values one <see cref="Randn"/> call of that many
    /// elements would return (row-major), then advances <see cref="Offset"/> by one.
    /// </summary>
    public void Fill(Span<float> destination)
    {
        FillAt(Seed, Offset, destination);
        Offset++;
    }

    /// <summary>
    /// The value of element <paramref name="index"/> in call number <paramref name="offset"/> of the
    /// generator seeded with <paramref name="seed"/>; a pure function, identical to what <see cref="Fill"/> writes.
    /// </summary>
    public static float ValueAt(ulong seed, ulong offset, uint index)
    {
        Span<float> one = stackalloc float[1];
        FillRange(seed, offset, one, index);
        return one[0];
    }

    private static void FillAt(ulong seed, ulong offset, Span<float> destination)
    {
        if (destination.Length <= ParallelThreshold)
        {
            FillRange(seed, offset, destination, 0);
            return;
        }
        // Elements are independent: split into chunks, each written by one task. Same result as serial.
        int length = destination.Length;
        int chunks = Math.Min(Environment.ProcessorCount * 4, (length + ParallelThreshold - 1) / ParallelThreshold);
        int chunkSize = (length + chunks - 1) / chunks;
        unsafe
        {
            fixed (float* p = destination)
            {
                nint basePtr = (nint)p;
                Parallel.For(0, chunks, c =>
                {
                    int start = c * chunkSize;
                    int count = Math.Min(chunkSize, length - start);
                    if (count <= 0) return;
                    var span = new Span<float>((float*)basePtr + start, count);
                    FillRange(seed, offset, span, (uint)start);
                });
            }
        }
    }

    /// <summary>
    /// Writes elements <paramref name="firstIndex"/>.. into <paramref name="destination"/>, four at a time:
    /// Philox on 64-bit lanes holding 32-bit words, then the Box–Muller in double. Every element, including a
    /// partial last group, goes through the same vector code, so results never depend on position or length.
    /// </summary>
    private static void FillRange(ulong seed, ulong offset, Span<float> destination, uint firstIndex)
    {
        var c0 = Vector256.Create((ulong)(uint)offset);
        var c1 = Vector256.Create(offset >> 32);
        var k0 = Vector256.Create((ulong)(uint)seed);
        var k1 = Vector256.Create(seed >> 32);
        var lanes = Vector256.Create(0UL, 1UL, 2UL, 3UL);
        Span<float> tail = stackalloc float[4];
        for (int i = 0; i < destination.Length; i += 4)
        {
            // Element indices wrap at 2^32 like the uint32 counter word they live in.
            var index = (Vector256.Create((ulong)(uint)(firstIndex + (uint)i)) + lanes) & Vector256.Create(0xFFFF_FFFFUL);
            var (x, y) = Philox10First2(c0, c1, index, Vector256<ulong>.Zero, k0, k1);
            var values = BoxMullerSin(x, y);
            if (destination.Length - i >= 4)
            {
                values.CopyTo(destination[i..]);
            }
            else
            {
                values.CopyTo(tail);
                tail[..(destination.Length - i)].CopyTo(destination[i..]);
            }
        }
    }

    /// <summary>Philox4x32-10 on four counters at once; each 64-bit lane holds one 32-bit word. Returns words 0 and 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<ulong> X0, Vector256<ulong> X1) Philox10First2(
        Vector256<ulong> x0, Vector256<ulong> x1, Vector256<ulong> x2, Vector256<ulong> x3, Vector256<ulong> k0, Vector256<ulong> k1)
    {
        var m0 = Vector256.Create((ulong)Philox4x32.M0);
        var m1 = Vector256.Create((ulong)Philox4x32.M1);
        var w0 = Vector256.Create((ulong)Philox4x32.W0);
        var w1 = Vector256.Create((ulong)Philox4x32.W1);
        var low32 = Vector256.Create(0xFFFF_FFFFUL);
        for (int r = 0; r < Philox4x32.DefaultRounds; r++)
        {
            if (r > 0)
            {
                k0 = (k0 + w0) & low32;
                k1 = (k1 + w1) & low32;
            }
            var p0 = MulWide(x0, m0);
            var p1 = MulWide(x2, m1);
            var y0 = (p1 >>> 32) ^ x1 ^ k0;
            var y1 = p1 & low32;
            var y2 = (p0 >>> 32) ^ x3 ^ k1;
            var y3 = p0 & low32;
            x0 = y0; x1 = y1; x2 = y2; x3 = y3;
        }
        return (x0, x1);
    }

    /// <summary>Full 64-bit products of lanes holding values below 2³².</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> MulWide(Vector256<ulong> a, Vector256<ulong> b) =>
        Avx2.IsSupported ? Avx2.Multiply(a.AsUInt32(), b.AsUInt32()) : a * b;

    /// <summary>Box–Muller of four pairs of 32-bit words (in 64-bit lanes), keeping the sine half, rounded to float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> BoxMullerSin(Vector256<ulong> x, Vector256<ulong> y)
    {
        // Separate multiply and add (no fused multiply-add), as NumPy evaluates them.
        var u = Vector256.ConvertToDouble(x) * Vector256.Create(UScale) + Vector256.Create(UHalf);
        var v = Vector256.ConvertToDouble(y) * Vector256.Create(VScale) + Vector256.Create(VHalf);
        var s = Vector256.Sqrt(Vector256.Create(-2.0) * Vector256.Log(u));
        var r = s * Vector256.Sin(v);
        return Vector256.Narrow(r, r).GetLower();
    }

    /// <summary>Nothing to release; present for <see cref="INoiseSource"/>.</summary>
    public void Dispose() { }
}
