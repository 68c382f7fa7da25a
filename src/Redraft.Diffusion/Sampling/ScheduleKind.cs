namespace Redraft.Diffusion.Sampling;

/// <summary>
/// How the sigmas of an N-step run are spaced, selectable independently of the sampler (A1111's "Schedule type",
/// ComfyUI's "scheduler").
/// </summary>
public enum ScheduleKind
{
    /// <summary>k-diffusion's discrete schedule: timesteps evenly spaced from 999 to 0, then σ = 0 (A1111 "Automatic" for k-samplers).</summary>
    Normal,
    /// <summary>Karras et al. (2022), ρ = 7 between the model's σ_min and σ_max.</summary>
    Karras,
    /// <summary>Evenly spaced in log σ between σ_max and σ_min.</summary>
    Exponential,
    /// <summary>Timesteps evenly spaced over steps + 1 points, the last dropped (SDXL-Turbo / LCM style).</summary>
    SgmUniform,
    /// <summary>The original DDIM/PLMS timesteps: "leading" spacing with offset 1 (1, 51, …, 951 for 20 steps), ending at ᾱ_0.</summary>
    Ddim,
    /// <summary>
    /// AUTOMATIC1111's UniPC grid (its "time_uniform" skip type): continuous VP time (<see cref="DiscreteVpTime"/>)
    /// evenly spaced from 1 to 1/N over as many steps as the CompVis DDIM timesteps (30 → 31), the UNet told timestep
    /// N·t − 1. UniPC only.
    /// </summary>
    TimeUniform,
}

/// <summary>Names of the schedule kinds on the command line and in the API.</summary>
public static class ScheduleNames
{
    private static readonly (ScheduleKind Kind, string Name)[] Table =
    [
        (ScheduleKind.Normal, "normal"),
        (ScheduleKind.Karras, "karras"),
        (ScheduleKind.Exponential, "exponential"),
        (ScheduleKind.SgmUniform, "sgm_uniform"),
        (ScheduleKind.Ddim, "ddim"),
        (ScheduleKind.TimeUniform, "time_uniform"),
    ];

    public static string Name(ScheduleKind kind) => Table.First(t => t.Kind == kind).Name;

    /// <summary>Parses a name (case-insensitive; "automatic" or null = the sampler's default → null).</summary>
    public static ScheduleKind? Parse(string? name)
    {
        var key = name?.Trim();
        if (string.IsNullOrEmpty(key) || key.Equals("automatic", StringComparison.OrdinalIgnoreCase)) return null;
        foreach (var (kind, n) in Table)
            if (n.Equals(key, StringComparison.OrdinalIgnoreCase) || n.Replace("_", " ").Equals(key, StringComparison.OrdinalIgnoreCase))
                return kind;
        throw new RedraftInputException($"unknown schedule \"{name}\"; valid: automatic, {string.Join(", ", Table.Select(t => t.Name))}.");
    }
}
