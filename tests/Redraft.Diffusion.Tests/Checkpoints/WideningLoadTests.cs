using Redraft.Diffusion.Checkpoints;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Tests.Checkpoints;

/// <summary>The direct F16/BF16 → F32 load path must give exactly libtorch's own conversion.</summary>
public sealed class WideningLoadTests
{
    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void WideningLoadEqualsLibtorchConversion(ScalarType stored)
    {
        var path = Path.Combine(Path.GetTempPath(), $"{Guid.NewGuid():N}.safetensors");
        try
        {
            using var generator = new Generator(5);
            // Odd sizes (not multiples of the vector width or of the parallel piece), extremes and specials.
            var big = (randn(new long[] { 3, 100_003 }, generator: generator) * 1000).to(stored);
            var specials = tensor(new float[] { 0f, -0f, 1e-7f, -65504f, 65504f, float.PositiveInfinity, float.NegativeInfinity, 3.14159f, 1e30f }).to(stored);
            SafetensorsWriter.Write(path, [KeyValuePair.Create("big", big), KeyValuePair.Create("specials", specials)]);
            using var file = SafetensorsFile.Open(path);
            foreach (var (name, original) in new[] { ("big", big), ("specials", specials) })
            {
                using var widened = file.Load(name, ScalarType.Float32);
                using var expected = original.to(ScalarType.Float32);
                Assert.Equal(ScalarType.Float32, widened.dtype);
                Assert.Equal(expected.shape, widened.shape);
                Assert.Equal(expected.data<float>().ToArray(), widened.data<float>().ToArray());
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
