namespace Redraft.Diffusion.Sampling;

/// <summary>Creates noise sources by the names used on the command line and in the API (<c>--rng</c>).</summary>
internal static class NoiseSources
{
    /// <summary>PyTorch's CPU generator (the default): <see cref="CpuNoiseSource"/>.</summary>
    public const string Cpu = "cpu";

    /// <summary>AUTOMATIC1111's "NV" source, CUDA's Philox stream reproduced on any device: <see cref="PhiloxNormalSource"/>.</summary>
    public const string Nv = "nv";

    /// <summary>The accepted kinds, in display order.</summary>
    public static IReadOnlyList<string> Kinds { get; } = [Cpu, Nv];

    /// <summary>
    /// Creates a fresh source of the given kind (case-insensitive, surrounding blanks ignored) seeded with <paramref name="seed"/>.
    /// </summary>
    /// <exception cref="RedraftInputException">If <paramref name="kind"/> is not one of <see cref="Kinds"/>.</exception>
    public static INoiseSource Create(string kind, ulong seed)
    {
        switch (kind?.Trim().ToLowerInvariant())
        {
            case Cpu: return new CpuNoiseSource(seed);
            case Nv: return new PhiloxNormalSource(seed);
            default:
                throw new RedraftInputException(
                    $"Unknown random number source '{kind}'. Valid sources: {string.Join(", ", Kinds)}.");
        }
    }
}
