namespace Redraft.Diffusion.Checkpoints;

/// <summary>One tensor's entry in a safetensors header.</summary>
/// <param name="Name">Tensor name (the header key).</param>
/// <param name="DType">Stored element type.</param>
/// <param name="Shape">Dimensions; empty for a scalar. Treat as read-only.</param>
/// <param name="Begin">Start of the bytes, relative to the start of the data section (after the header).</param>
/// <param name="End">End (exclusive) of the bytes, relative to the start of the data section.</param>
internal sealed record TensorInfo(string Name, SafetensorsDType DType, long[] Shape, long Begin, long End)
{
    /// <summary>Number of stored bytes (<see cref="End"/> − <see cref="Begin"/>).</summary>
    public long ByteLength => End - Begin;

    /// <summary>Number of elements (product of <see cref="Shape"/>; 1 for a scalar).</summary>
    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (var d in Shape) count *= d;
            return count;
        }
    }
}
