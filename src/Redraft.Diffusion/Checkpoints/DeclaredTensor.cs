using TorchSharp;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// A tensor known by name, dtype and shape before its values exist: enough to write a safetensors header, so the
/// values can be produced and written one at a time (<see cref="SafetensorsWriter"/>).
/// </summary>
/// <param name="Name">Tensor name (the header key).</param>
/// <param name="DType">Element type the value will have.</param>
/// <param name="Shape">Dimensions; empty for a scalar. Treat as read-only.</param>
internal sealed record DeclaredTensor(string Name, torch.ScalarType DType, long[] Shape)
{
    /// <summary>Whether <paramref name="value"/> has this declaration's dtype and shape.</summary>
    public bool Matches(torch.Tensor value) => value.dtype == DType && value.shape.AsSpan().SequenceEqual(Shape);
}
