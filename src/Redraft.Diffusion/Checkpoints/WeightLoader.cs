using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>Fills a module tree from a weight source by name: every parameter must be present with its exact shape.</summary>
public static class WeightLoader
{
    /// <summary>
    /// Copies each parameter <c>name</c> of <paramref name="module"/> from <c>prefix + name</c> in the source,
    /// converting to the parameter's dtype. A missing or misshapen tensor is a user-facing error naming it.
    /// </summary>
    public static void Load(nn.Module module, string prefix, IWeightSource source, string? hint = null)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in module.named_parameters())
        {
            string key = prefix + name;
            var shape = source.ShapeOf(key)
                ?? throw new CheckpointFormatException($"{source.Origin}: missing tensor {key}{(hint is null ? "" : "; " + hint)}.");
            if (!shape.SequenceEqual(parameter.shape))
                throw new CheckpointFormatException(
                    $"{source.Origin}: tensor {key} has shape [{string.Join(", ", shape)}] but the model needs [{string.Join(", ", parameter.shape)}]{(hint is null ? "" : "; " + hint)}.");
            using var value = source.Load(key);
            parameter.copy_(value);
        }
    }
}
