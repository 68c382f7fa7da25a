using Redraft.Diffusion.Sampling;

namespace Redraft.Diffusion.Tests.Sampling;

/// <summary>
/// Philox4x32 against the published known-answer vectors of Random123, the reference implementation
/// accompanying Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11): file
/// <c>tests/kat_vectors</c> of the Random123 distribution, lines
/// <c>philox4x32 R CTR[4] KEY[2] EXPECTED[4]</c>. Read here as reproduced verbatim in E. Sarmas' philox.py
/// ("copied verbatim from original source") and in TensorFlow's stateful random ops test
/// (<c>testPhilox4x32</c>, citing DEShawResearch/Random123-Boost libs/random/test/test_philox.cpp), which agree.
/// The third vector's counter and key are the leading hex digits of π.
/// </summary>
public class Philox4x32Tests
{
    public static TheoryData<int, uint[], uint[], uint[]> Vectors => new()
    {
        // philox4x32 10 (the standard variant)
        { 10, [0x00000000, 0x00000000, 0x00000000, 0x00000000], [0x00000000, 0x00000000], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8] },
        { 10, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd] },
        { 10, [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1] },
        // philox4x32 7 (same file): checks the round count is honoured, not hard-wired
        { 7, [0x00000000, 0x00000000, 0x00000000, 0x00000000], [0x00000000, 0x00000000], [0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48] },
        { 7, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x5207ddc2, 0x45165e59, 0x4d8ee751, 0x8c52f662] },
        { 7, [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0x4dfccaba, 0x190a87f0, 0xc47362ba, 0xb6b5242a] },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Block_matches_Random123_known_answers(int rounds, uint[] counter, uint[] key, uint[] expected)
    {
        var (x0, x1, x2, x3) = Philox4x32.Block(counter[0], counter[1], counter[2], counter[3], key[0], key[1], rounds);
        Assert.Equal(expected, new[] { x0, x1, x2, x3 });

        var output = new uint[4];
        Philox4x32.Block(counter, key, output, rounds);
        Assert.Equal(expected, output);
    }

    [Fact]
    public void Span_form_may_write_over_its_counter()
    {
        uint[] buffer = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344];
        Philox4x32.Block(buffer, [0xa4093822, 0x299f31d0], buffer);
        Assert.Equal(new uint[] { 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 }, buffer);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(17)]
    public void Rejects_round_counts_outside_1_to_16(int rounds)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Philox4x32.Block(0, 0, 0, 0, 0, 0, rounds));
    }
}
