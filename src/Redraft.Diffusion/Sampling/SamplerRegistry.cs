using System.Diagnostics.CodeAnalysis;

namespace Redraft.Diffusion.Sampling;

/// <summary>
/// The samplers Redraft knows, found by AUTOMATIC1111 name or alias (case-insensitive).
/// </summary>
internal static class SamplerRegistry
{
    private static readonly ISampler[] Samplers =
    [
        new EulerSampler(), new EulerAncestralSampler(), new DdimSampler(),
        new HeunSampler(), new LmsSampler(), new Dpm2Sampler(),
        new DpmPp2MSampler(), new DpmPp2MSampler(karras: true), new DpmPp2MSdeSampler(),
        new DpmPpSdeSampler(karras: true), new DpmPpSdeSampler(),
        new PlmsSampler(), new UniPcSampler(), new LcmSampler(),
    ];

    /// <summary>All samplers, in the order they are listed to users.</summary>
    public static IReadOnlyList<ISampler> All => Samplers;

    /// <summary>Finds a sampler by name or alias, ignoring case and surrounding spaces.</summary>
    public static bool TryGet(string? name, [MaybeNullWhen(false)] out ISampler sampler)
    {
        var key = name?.Trim();
        if (!string.IsNullOrEmpty(key))
        {
            foreach (var s in Samplers)
            {
                if (string.Equals(s.Name, key, StringComparison.OrdinalIgnoreCase) ||
                    s.Aliases.Any(a => string.Equals(a, key, StringComparison.OrdinalIgnoreCase)))
                {
                    sampler = s;
                    return true;
                }
            }
        }
        sampler = null;
        return false;
    }

    /// <summary>Finds a sampler by name or alias, ignoring case.</summary>
    /// <exception cref="RedraftInputException">No sampler has that name; the message lists the valid names.</exception>
    public static ISampler Get(string? name)
    {
        if (TryGet(name, out var s)) return s;
        throw new RedraftInputException($"unknown sampler \"{name}\"; valid: {string.Join(", ", Samplers.Select(x => x.Name))}");
    }
}
