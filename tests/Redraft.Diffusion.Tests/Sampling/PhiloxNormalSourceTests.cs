using Redraft.Diffusion.Sampling;
using TorchSharp;

namespace Redraft.Diffusion.Tests.Sampling;

/// <summary>
/// The NV source against published values of AUTOMATIC1111's NV generator and of PyTorch's CUDA <c>randn</c>.
/// </summary>
public class PhiloxNormalSourceTests
{
    /// <summary>
    /// Seed 0, shape (3, 4): the "Expected output" of the module docstring of AUTOMATIC1111/stable-diffusion-webui
    /// <c>modules/rng_philox.py</c> (<c>g = Generator(seed=0); print(g.randn(shape=(3, 4)))</c>), printed with 8 decimals.
    /// These printed digits are not bit-exact float32 outputs of the module's own arithmetic (double Box–Muller on
    /// float32 constants, which this class follows): the differences are up to 2.6e-7 (about 4 float32 ulps,
    /// e.g. -0.9246624 here vs -0.92466259 printed), so the comparison allows 1e-6. Real CUDA output differs from the
    /// emulation by the same order (its sincos/log are single-precision device intrinsics).
    /// </summary>
    private static readonly double[] A1111Seed0Shape3x4 =
    [
        -0.92466259, -0.42534415, -2.6438457, 0.14518388,
        -0.12086647, -0.57972564, -0.62285122, -0.32838709,
        -1.07454231, -0.36314407, -1.67105067, 2.26550497,
    ];

    /// <summary>
    /// Seed 42, shape (2, 5), first call: flashinfer-ai/flashinfer <c>flashinfer/logits_processor/processors.py</c>,
    /// docstring of class <c>Sample</c>: <c>torch.manual_seed(42); logits = torch.randn(2, 5, device="cuda")</c> printed as
    /// <c>tensor([[ 0.1940, 2.1614, -0.1721, 0.8491, -1.9244], [ 0.6530, -0.6494, -0.8175, 0.5280, -1.2753]], device='cuda:0')</c>
    /// (4 decimals). Real CUDA output, not A1111's emulation.
    /// </summary>
    private static readonly double[] CudaSeed42Shape2x5 =
    [
        0.1940, 2.1614, -0.1721, 0.8491, -1.9244,
        0.6530, -0.6494, -0.8175, 0.5280, -1.2753,
    ];

    [Fact]
    public void Seed0_matches_A1111_rng_philox_docstring()
    {
        using var source = new PhiloxNormalSource(0);
        using var t = source.Randn([3, 4]);
        Assert.Equal(torch.float32, t.dtype);
        Assert.Equal(new long[] { 3, 4 }, t.shape);
        var values = t.data<float>().ToArray();
        for (int i = 0; i < values.Length; i++)
            Assert.True(Math.Abs(values[i] - A1111Seed0Shape3x4[i]) <= 1e-6,
                $"element {i}: {values[i]:R} vs {A1111Seed0Shape3x4[i]}");
    }

    [Fact]
    public void Seed42_matches_CUDA_randn_printed_in_flashinfer_docs()
    {
        using var source = new PhiloxNormalSource(42);
        using var t = source.Randn([2, 5]);
        var values = t.data<float>().ToArray();
        for (int i = 0; i < values.Length; i++)
            Assert.True(Math.Abs(values[i] - CudaSeed42Shape2x5[i]) <= 5.1e-5,
                $"element {i}: {values[i]:R} vs {CudaSeed42Shape2x5[i]}");
    }

    /// <summary>
    /// The offset advance per call, against CUDA: flashinfer <c>processors.py</c>, docstring of class <c>TopK</c>:
    /// after <c>torch.manual_seed(42)</c> and a first <c>torch.randn(2, 2, device="cuda")</c> (printed
    /// <c>[[0.1940, 2.1614], [-0.1721, 0.8491]]</c>; the top-k masking in between draws nothing), a second
    /// <c>probs = torch.randn(2, 2, device="cuda")</c> is row-normalised and printed as
    /// <c>probs / probs.sum(dim=-1, keepdim=True) = [[4.4998, -3.4998], [-18.2893, 19.2893]]</c>.
    /// The same docstring's TopP example gives the first draw normalised: <c>[[0.0824, 0.9176], [-0.2541, 1.2541]]</c>.
    /// </summary>
    [Fact]
    public void Second_call_matches_CUDA_second_randn_with_seed42()
    {
        using var source = new PhiloxNormalSource(42);
        using var first = source.Randn([2, 2]);
        Assert.Equal(1UL, source.Offset);
        using var second = source.Randn([2, 2]);
        Assert.Equal(2UL, source.Offset);

        AssertRowNormalised(first.data<float>().ToArray(), [0.0824, 0.9176, -0.2541, 1.2541]);
        AssertRowNormalised(second.data<float>().ToArray(), [4.4998, -3.4998, -18.2893, 19.2893]);
    }

    private static void AssertRowNormalised(float[] v, double[] expected)
    {
        var actual = new double[4];
        for (int row = 0; row < 2; row++)
        {
            double sum = (double)v[2 * row] + v[2 * row + 1];
            actual[2 * row] = v[2 * row] / sum;
            actual[2 * row + 1] = v[2 * row + 1] / sum;
        }
        for (int i = 0; i < 4; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 2e-4, $"element {i}: {actual[i]:R} vs {expected[i]}");
    }

    [Fact]
    public void Element_i_depends_only_on_seed_offset_and_index()
    {
        using var a = new PhiloxNormalSource(42);
        using var b = new PhiloxNormalSource(42);
        using var small = a.Randn([3]);
        using var large = b.Randn([1, 4, 8, 8]);
        Assert.Equal(small.data<float>().ToArray(), large.data<float>().ToArray().Take(3).ToArray());

        var values = large.data<float>().ToArray();
        for (uint i = 0; i < values.Length; i += 7)
            Assert.Equal(PhiloxNormalSource.ValueAt(42, 0, i), values[i]);
    }

    /// <summary>
    /// The vectorised fill against a plain scalar transcription of the layout (counter = (offset, 0, i, 0),
    /// key = seed halves, Box–Muller sine half in double from the float32 constants) built on the checked
    /// <see cref="Philox4x32.Block(uint, uint, uint, uint, uint, uint, int)"/>. Lengths not divisible by 4
    /// exercise the partial last group; offset 1 the second call.
    /// </summary>
    [Theory]
    [InlineData(0UL, 0UL, 4099)]
    [InlineData(42UL, 1UL, 16384)]
    [InlineData(0xFFFF_FFFF_0000_0001UL, 5UL, 7)]
    public void Fill_equals_a_scalar_transcription(ulong seed, ulong offset, int count)
    {
        var expected = new float[count];
        float a = 2.3283064e-10f, b = (float)(2.3283064e-10 * 6.2831855);
        for (uint i = 0; i < count; i++)
        {
            var (x, y, _, _) = Philox4x32.Block((uint)offset, (uint)(offset >> 32), i, 0, (uint)seed, (uint)(seed >> 32));
            double u = x * (double)a + (double)(a / 2);
            double v = y * (double)b + (double)(b / 2);
            expected[i] = (float)(Math.Sqrt(-2.0 * Math.Log(u)) * Math.Sin(v));
        }
        var actual = new float[count];
        new PhiloxNormalSource(seed, offset).Fill(actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Offset_constructor_resumes_the_stream()
    {
        using var a = new PhiloxNormalSource(7);
        a.Randn([4]).Dispose();
        a.Randn([4]).Dispose();
        using var third = a.Randn([4]);
        using var b = new PhiloxNormalSource(7, offset: 2);
        using var resumed = b.Randn([4]);
        Assert.Equal(third.data<float>().ToArray(), resumed.data<float>().ToArray());
        Assert.NotEqual(PhiloxNormalSource.ValueAt(7, 0, 0), PhiloxNormalSource.ValueAt(7, 1, 0));
    }

    [Fact]
    public void Seed_uses_all_64_bits_as_the_key()
    {
        Assert.NotEqual(PhiloxNormalSource.ValueAt(1, 0, 0), PhiloxNormalSource.ValueAt(1 | (1UL << 32), 0, 0));
    }

    [Fact]
    public void Parallel_path_equals_the_element_formula_and_is_deterministic()
    {
        // 1x4x128x128 = 65536 elements: above the threshold where the fill is split across threads.
        using var a = new PhiloxNormalSource(1234);
        using var b = new PhiloxNormalSource(1234);
        var x = a.Randn([1, 4, 128, 128]).data<float>().ToArray();
        var y = b.Randn([1, 4, 128, 128]).data<float>().ToArray();
        Assert.Equal(x, y);
        foreach (uint i in new uint[] { 0, 1, 16383, 16384, 32767, 32768, 50000, 65535 })
            Assert.Equal(PhiloxNormalSource.ValueAt(1234, 0, i), x[i]);

        // Standard normal: mean ≈ 0, variance ≈ 1 (65536 samples: 5 standard errors ≈ 0.02 / 0.028).
        double mean = x.Average(v => (double)v);
        double variance = x.Average(v => (v - mean) * (v - mean));
        Assert.InRange(mean, -0.02, 0.02);
        Assert.InRange(variance, 0.972, 1.028);
    }

    [Fact]
    public void Empty_shape_and_bad_shapes()
    {
        using var s = new PhiloxNormalSource(0);
        using var empty = s.Randn([0, 4]);
        Assert.Equal(0, empty.numel());
        Assert.Throws<ArgumentException>(() => s.Randn([-1]));
    }
}
