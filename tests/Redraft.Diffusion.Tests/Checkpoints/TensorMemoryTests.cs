using Redraft.Diffusion.Checkpoints;
using TorchSharp;

namespace Redraft.Diffusion.Tests.Checkpoints;

public sealed class TensorMemoryTests
{
    [Theory]
    [InlineData(1 << 20)] // one chunk
    [InlineData(24)]      // several chunks, the last one shorter
    [InlineData(3)]       // smaller than an element: one element per chunk
    public void Chunks_cover_the_tensor_bytes_in_order(long chunkBytes)
    {
        using var t = torch.arange(0, 50, dtype: torch.ScalarType.Float32).reshape(5, 10);
        byte[] expected = t.bytes.ToArray();
        var seen = new List<byte>();
        long next = 0;
        TensorMemory.ForEachChunk(t, (chunk, offset) =>
        {
            Assert.Equal(next, offset);
            seen.AddRange(chunk.ToArray());
            next += chunk.Length;
        }, chunkBytes);
        Assert.Equal(expected, seen.ToArray());
    }

    [Fact]
    public void Writing_chunks_writes_the_tensor()
    {
        using var t = torch.zeros(7, dtype: torch.ScalarType.Int16);
        TensorMemory.ForEachChunk(t, (chunk, offset) =>
        {
            for (int i = 0; i < chunk.Length; i++) chunk[i] = (byte)(offset + i);
        }, 4);
        Assert.Equal(Enumerable.Range(0, 14).Select(i => (byte)i).ToArray(), t.bytes.ToArray());
    }

    [Fact]
    public void Non_contiguous_tensors_are_refused()
    {
        using var t = torch.zeros(2, 3).t();
        Assert.Throws<ArgumentException>(() => TensorMemory.ForEachChunk(t, (_, _) => { }));
    }
}
