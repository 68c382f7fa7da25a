using TorchSharp;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// Raw access to the bytes of contiguous CPU tensors.
/// TorchSharp 0.107 has no <c>data_ptr()</c>; its <c>Tensor.bytes</c> getter returns a live
/// <see cref="Span{T}"/> over the tensor's native storage (starting at its storage offset), but the
/// span's length is an <see cref="int"/>. Tensors larger than <see cref="ChunkBytes"/> are therefore
/// walked as 1-D slices of a flattened view.
/// </summary>
internal static class TensorMemory
{
    /// <summary>Largest number of bytes taken from one <c>Tensor.bytes</c> span.</summary>
    internal const long ChunkBytes = 256L << 20;

    /// <summary>Delegate receiving one chunk of a tensor's bytes and its offset within the tensor.</summary>
    internal delegate void ChunkAction(Span<byte> chunk, long byteOffset);

    /// <summary>
    /// Calls <paramref name="action"/> for consecutive chunks covering all bytes of
    /// <paramref name="tensor"/>, which must be contiguous and on the CPU. The spans alias the
    /// tensor's storage: writing to them writes the tensor.
    /// </summary>
    internal static void ForEachChunk(torch.Tensor tensor, ChunkAction action) => ForEachChunk(tensor, action, ChunkBytes);

    /// <summary>As <see cref="ForEachChunk(torch.Tensor, ChunkAction)"/> with a chosen chunk size (tests use small ones).</summary>
    internal static void ForEachChunk(torch.Tensor tensor, ChunkAction action, long chunkBytes)
    {
        if (tensor.device_type != DeviceType.CPU) throw new ArgumentException("tensor must be on the CPU", nameof(tensor));
        if (!tensor.is_contiguous()) throw new ArgumentException("tensor must be contiguous", nameof(tensor));

        long elementSize = tensor.element_size();
        long count = tensor.numel();
        long total = count * elementSize;
        if (total == 0) return;
        if (total <= chunkBytes)
        {
            var span = tensor.bytes;
            if (span.Length != total) throw new InvalidOperationException($"Tensor.bytes gave {span.Length} bytes, expected {total}");
            action(span, 0);
            return;
        }

        long perChunk = Math.Max(1, chunkBytes / elementSize);
        using var flat = tensor.view(-1);
        for (long start = 0; start < count; start += perChunk)
        {
            long length = Math.Min(perChunk, count - start);
            using var slice = flat.narrow(0, start, length);
            var span = slice.bytes;
            if (span.Length != length * elementSize) throw new InvalidOperationException($"Tensor.bytes gave {span.Length} bytes, expected {length * elementSize}");
            action(span, start * elementSize);
        }
    }
}
