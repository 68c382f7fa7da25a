namespace Redraft.Imaging;

/// <summary>
/// The order of the parameters line in AUTOMATIC1111 v1.10's infotext. Its <c>create_infotext</c>
/// (stable-diffusion-webui v1.10.x, <c>modules/processing.py</c>: the version whose dict starts
/// <c>"Steps", "Sampler", "Schedule type": p.scheduler, "CFG scale"</c> and has <c>FP8 weight</c>) writes a dict literal
/// of fixed keys, then the job's <c>extra_generation_params</c> in the order they were added, then <c>Version</c> and
/// <c>User</c>. A key of <c>extra_generation_params</c> that is also a fixed key (<c>Denoising strength</c>,
/// <c>Schedule type</c>) keeps the fixed key's place, as Python dicts do. Some clients of A1111's API read the line by
/// position, so the API server writes this order (<see cref="GenerationInfo.FormatInA1111Order"/>).
/// </summary>
public static class InfotextOrder
{
    /// <summary>The fixed keys of <c>create_infotext</c>, in its order (A1111 leaves out those that are null).</summary>
    public static IReadOnlyList<string> FixedKeys { get; } =
    [
        "Steps", "Sampler", "Schedule type", "CFG scale", "Image CFG scale", "Seed", "Face restoration", "Size",
        "Model hash", "Model", "FP8 weight", "Cache FP16 weight for LoRA", "VAE hash", "VAE", "Variation seed",
        "Variation seed strength", "Seed resize from", "Denoising strength", "Conditional mask weight", "Clip skip",
        "ENSD", "Token merging ratio", "Token merging ratio hr", "Init image hash", "RNG", "Tiling",
    ];

    /// <summary>The keys written after every other one, in this order.</summary>
    public static IReadOnlyList<string> TrailingKeys { get; } = ["Version", "User"];

    private static readonly Dictionary<string, int> Rank = BuildRank();

    /// <summary>
    /// <paramref name="pairs"/> in A1111's order: fixed keys first in <see cref="FixedKeys"/> order, then the others
    /// in their given order, then <see cref="TrailingKeys"/>. Stable: pairs of equal rank keep their order.
    /// </summary>
    public static List<(string Key, string Value)> Sort(IEnumerable<(string Key, string Value)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        // OrderBy is a stable sort: keys outside both lists share one rank and keep their order.
        return [.. pairs.OrderBy(p => Rank.GetValueOrDefault(p.Key, FixedKeys.Count))];
    }

    private static Dictionary<string, int> BuildRank()
    {
        var rank = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < FixedKeys.Count; i++) rank[FixedKeys[i]] = i;
        for (int i = 0; i < TrailingKeys.Count; i++) rank[TrailingKeys[i]] = FixedKeys.Count + 1 + i;
        return rank;
    }
}
