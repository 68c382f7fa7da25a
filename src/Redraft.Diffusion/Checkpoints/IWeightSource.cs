using static TorchSharp.torch;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// Tensors addressed by their LDM single-file key (<c>model.diffusion_model.…</c>, <c>first_stage_model.…</c>,
/// <c>cond_stage_model.transformer.…</c>), whatever layout the files on disk use.
/// </summary>
internal interface IWeightSource : IDisposable
{
    /// <summary>Where the weights come from, for messages.</summary>
    string Origin { get; }

    /// <summary>The stored shape in LDM convention, or null when the tensor is absent.</summary>
    long[]? ShapeOf(string key);

    /// <summary>The stored element type, or null when the tensor is absent.</summary>
    SafetensorsDType? DTypeOf(string key);

    /// <summary>Loads the tensor (stored dtype, CPU, LDM shape).</summary>
    Tensor Load(string key);

    /// <summary>Loads the tensor converted to <paramref name="dtype"/> (CPU, LDM shape).</summary>
    Tensor Load(string key, ScalarType dtype);
}
