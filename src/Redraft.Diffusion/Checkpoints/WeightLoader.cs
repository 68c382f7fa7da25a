using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>Fills a module tree from a weight source by name: every parameter must be present with its exact shape.</summary>
internal static class WeightLoader
{
    /// <summary>
    /// Gives each parameter <c>name</c> of <paramref name="module"/> the tensor <c>prefix + name</c> of the source,
    /// converted to the parameter's dtype. The tensor becomes the parameter (no copy into a preallocated one), so a
    /// module built on the meta device is materialised here. A missing or misshapen tensor, or one stored as integers
    /// or booleans for a floating-point parameter, is a user-facing error naming it. (Tensors that are not parameters,
    /// such as a CLIP text encoder's integer <c>position_ids</c>, are never loaded and may have any dtype.)
    /// </summary>
    public static void Load(nn.Module module, string prefix, IWeightSource source, string? hint = null)
    {
        using var noGrad = no_grad();
        string suffix = hint is null ? "" : "; " + hint;
        var children = new Dictionary<nn.Module, Dictionary<string, nn.Module>>(ReferenceEqualityComparer.Instance);
        // named_parameters() gives the registered (checkpoint) names; the owner of each is found by walking them.
        foreach (var (name, parameter) in module.named_parameters().ToList())
        {
            string key = prefix + name;
            var shape = source.ShapeOf(key)
                ?? throw new CheckpointFormatException($"{source.Origin}: missing tensor {key}{suffix}.");
            if (!shape.SequenceEqual(parameter.shape))
                throw new CheckpointFormatException(
                    $"{source.Origin}: tensor {key} has shape [{string.Join(", ", shape)}] but the model needs [{string.Join(", ", parameter.shape)}]{suffix}.");
            // Converting integers or booleans would give a network that runs and produces garbage.
            if (parameter.is_floating_point() && source.DTypeOf(key) is { } stored && !stored.IsFloatingPoint())
                throw new CheckpointFormatException(
                    $"{source.Origin}: tensor {key} is stored as {stored}, but the model uses it as a floating-point weight (F32, F16, BF16 or F64); the file is corrupt or not a Stable Diffusion checkpoint.");
            var value = source.Load(key, parameter.dtype);
            int dot = name.LastIndexOf('.');
            var owner = dot < 0 ? module : Resolve(module, name[..dot], children);
            Assign(owner, name[(dot + 1)..], parameter, value);
        }
    }

    private static nn.Module Resolve(nn.Module root, string path, Dictionary<nn.Module, Dictionary<string, nn.Module>> cache)
    {
        var current = root;
        foreach (var segment in path.Split('.'))
        {
            if (!cache.TryGetValue(current, out var named))
                cache[current] = named = current.named_children().ToDictionary(c => c.name, c => c.module);
            current = named[segment];
        }
        return current;
    }

    private static void Assign(nn.Module owner, string localName, Parameter parameter, Tensor value)
    {
        // TorchSharp's layers expose their parameters as settable properties named like the keys ("weight", "bias");
        // setting one re-registers it. A parameter without such a property can only be filled in place.
        var property = owner.GetType().GetProperty(localName);
        if (property is not null && property.CanWrite && property.PropertyType == typeof(Parameter))
        {
            property.SetValue(owner, new Parameter(value, requires_grad: false));
            return;
        }
        if (parameter.device_type == DeviceType.META)
            throw new InvalidOperationException($"{owner.GetType().Name}.{localName} cannot be materialised from the meta device.");
        parameter.copy_(value);
        value.Dispose();
    }
}
