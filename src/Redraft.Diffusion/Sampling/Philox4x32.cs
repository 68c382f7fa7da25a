using System.Runtime.CompilerServices;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// The Philox4x32 counter-based block function of Salmon, Moraes, Dror and Shaw,
/// "Parallel random numbers: as easy as 1, 2, 3" (SC'11): a 128-bit counter (four 32-bit words)
/// and a 64-bit key (two words) are mapped to four 32-bit outputs by <c>R</c> rounds
/// (10 for Philox4x32-10, the variant cuRAND and PyTorch use).
/// </summary>
/// <remarks>
/// One round, with <c>(hi, lo)</c> the high and low halves of a 32×32→64-bit product:
/// <code>
/// (hi0, lo0) = M0 · x0;   (hi1, lo1) = M1 · x2
/// x' = (hi1 ^ x1 ^ k0,  lo1,  hi0 ^ x3 ^ k1,  lo0)
/// </code>
/// Between rounds the key is bumped by the Weyl constants: <c>k0 += W0</c>, <c>k1 += W1</c> (mod 2³²).
/// The key of round <c>r</c> (0-based) is therefore <c>k + r·W</c>.
/// </remarks>
internal static class Philox4x32
{
    /// <summary>Multiplier applied to counter word 0.</summary>
    public const uint M0 = 0xD2511F53;

    /// <summary>Multiplier applied to counter word 2.</summary>
    public const uint M1 = 0xCD9E8D57;

    /// <summary>Weyl increment of key word 0 (golden ratio, 2³²·(√5 − 1)/2).</summary>
    public const uint W0 = 0x9E3779B9;

    /// <summary>Weyl increment of key word 1 (2³²·(√3 − 1)).</summary>
    public const uint W1 = 0xBB67AE85;

    /// <summary>The standard round count (Philox4x32-10).</summary>
    public const int DefaultRounds = 10;

    /// <summary>
    /// Computes one Philox4x32 block: the four output words for counter
    /// <c>(c0, c1, c2, c3)</c> and key <c>(k0, k1)</c>.
    /// </summary>
    /// <param name="c0">Counter word 0 (least significant).</param>
    /// <param name="c1">Counter word 1.</param>
    /// <param name="c2">Counter word 2.</param>
    /// <param name="c3">Counter word 3 (most significant).</param>
    /// <param name="k0">Key word 0.</param>
    /// <param name="k1">Key word 1.</param>
    /// <param name="rounds">Number of rounds, 1 to 16; 10 is the standard Philox4x32-10.</param>
    /// <returns>The four 32-bit output words, in counter-word order.</returns>
    /// <exception cref="ArgumentOutOfRangeException">If <paramref name="rounds"/> is outside 1..16.</exception>
    public static (uint X0, uint X1, uint X2, uint X3) Block(
        uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, int rounds = DefaultRounds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rounds, 16);
        for (int r = 0; r < rounds; r++)
        {
            if (r > 0)
            {
                k0 += W0;
                k1 += W1;
            }
            Round(ref c0, ref c1, ref c2, ref c3, k0, k1);
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>
    /// Span form of <see cref="Block(uint, uint, uint, uint, uint, uint, int)"/>: <paramref name="counter"/> has 4 words,
    /// <paramref name="key"/> 2, and the 4 output words are written to <paramref name="output"/>
    /// (which may alias <paramref name="counter"/>).
    /// </summary>
    /// <exception cref="ArgumentException">If a span has the wrong length.</exception>
    public static void Block(ReadOnlySpan<uint> counter, ReadOnlySpan<uint> key, Span<uint> output, int rounds = DefaultRounds)
    {
        if (counter.Length != 4) throw new ArgumentException("A Philox4x32 counter has 4 words.", nameof(counter));
        if (key.Length != 2) throw new ArgumentException("A Philox4x32 key has 2 words.", nameof(key));
        if (output.Length != 4) throw new ArgumentException("A Philox4x32 block has 4 output words.", nameof(output));
        var (x0, x1, x2, x3) = Block(counter[0], counter[1], counter[2], counter[3], key[0], key[1], rounds);
        output[0] = x0;
        output[1] = x1;
        output[2] = x2;
        output[3] = x3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref uint x0, ref uint x1, ref uint x2, ref uint x3, uint k0, uint k1)
    {
        ulong p0 = (ulong)M0 * x0;
        ulong p1 = (ulong)M1 * x2;
        uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
        uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
        x0 = hi1 ^ x1 ^ k0;
        x1 = lo1;
        x2 = hi0 ^ x3 ^ k1;
        x3 = lo0;
    }
}
