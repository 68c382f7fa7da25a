using Redraft.Diffusion.Sampling;

namespace Redraft.Server.Api;

/// <summary>
/// AUTOMATIC1111 v1.10's way of naming a sampler and its schedule, mapped onto Redraft's samplers: the sampler comes
/// from <c>sampler_name</c>, else <c>sampler_index</c>, else "Euler"; a legacy name that ends in a scheduler
/// ("DPM++ 2M Karras") is split into sampler and scheduler; an explicit <c>scheduler</c> (name or label) wins over
/// that suffix; "Automatic" means the schedule A1111 gives that sampler by default.
/// </summary>
internal static class A1111Samplers
{
    /// <summary>One of A1111's schedulers; <paramref name="Redraft"/> is Redraft's schedule name, null when Redraft has none like it.</summary>
    public sealed record Scheduler(string Name, string Label, string[]? Aliases, double DefaultRho, bool NeedInnerModel, string? Redraft);

    /// <summary>A1111 v1.10's schedulers, in its order (the suffix split tries them in this order).</summary>
    public static IReadOnlyList<Scheduler> Schedulers { get; } =
    [
        new("automatic", "Automatic", null, -1, false, "automatic"),
        new("uniform", "Uniform", null, -1, true, null),
        new("karras", "Karras", null, 7.0, false, "karras"),
        new("exponential", "Exponential", null, -1, false, "exponential"),
        new("polyexponential", "Polyexponential", null, 1.0, false, null),
        new("sgm_uniform", "SGM Uniform", ["SGMUniform"], -1, true, "sgm_uniform"),
        new("kl_optimal", "KL Optimal", null, -1, false, null),
        new("align_your_steps", "Align Your Steps", null, -1, false, null),
        new("simple", "Simple", null, -1, true, null),
        new("normal", "Normal", null, -1, true, "normal"),
        new("ddim", "DDIM", null, -1, true, "ddim"),
        new("beta", "Beta", null, -1, true, null),
    ];

    /// <summary>
    /// The schedule A1111 v1.10 runs a sampler with when the scheduler is "Automatic" (its <c>options.scheduler</c>),
    /// where that differs from the model's plain schedule.
    /// </summary>
    private static readonly Dictionary<string, string> AutomaticSchedule = new(StringComparer.Ordinal)
    {
        ["DPM++ 2M"] = "karras",
        ["DPM++ SDE"] = "karras",
        ["DPM++ 2M SDE"] = "exponential",
        ["DPM2"] = "karras",
    };

    /// <summary>The samplers offered through the API: Redraft's, without the old names that carry a schedule ("DPM++ 2M Karras").</summary>
    public static IEnumerable<ISampler> Listed => SamplerRegistry.All.Where(s => !s.Name.EndsWith(" Karras", StringComparison.Ordinal));

    /// <summary>The A1111 default scheduler of a listed sampler (null = the model's plain schedule).</summary>
    public static string? DefaultScheduler(string sampler) => AutomaticSchedule.GetValueOrDefault(sampler);

    /// <summary>A1111's label of a Redraft schedule (<c>sd_schedulers</c>): "Karras", "SGM Uniform", "DDIM", ….</summary>
    public static string Label(ScheduleKind kind) => kind switch
    {
        ScheduleKind.Normal => "Normal",
        ScheduleKind.Karras => "Karras",
        ScheduleKind.Exponential => "Exponential",
        ScheduleKind.SgmUniform => "SGM Uniform",
        ScheduleKind.Ddim => "DDIM",
        // UniPC's own grid: A1111's UniPC with its default ("Automatic") scheduler.
        ScheduleKind.TimeUniform => "Automatic",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>
    /// What A1111 v1.10 writes as <c>Schedule type</c> for a run with <paramref name="schedule"/> as <see cref="Resolve"/>
    /// chose it. A1111 writes the request's scheduler label (<c>"Schedule type": p.scheduler</c>, "Automatic" when
    /// none was chosen); a k-diffusion sampler that runs a named schedule overwrites it with that schedule's label (its
    /// Karras default for DPM++ 2M, which <see cref="Resolve"/> gives as the schedule). So: the label of a chosen
    /// schedule, else "Automatic" (the sampler's own schedule: Euler's, DDIM's, UniPC's grid).
    /// </summary>
    public static string ScheduleType(string? schedule) => ScheduleNames.Parse(schedule) is { } kind ? Label(kind) : "Automatic";

    /// <summary>The resolved sampler: Redraft's sampler name and the schedule to run (null = the sampler's own default).</summary>
    public sealed record Choice(string Sampler, string? Schedule);

    /// <summary>Resolves A1111's <c>sampler_name</c>, <c>sampler_index</c> and <c>scheduler</c> fields.</summary>
    /// <exception cref="ApiException">422: a sampler or scheduler Redraft does not have.</exception>
    public static Choice Resolve(string? samplerName, string? samplerIndex, string? scheduler)
    {
        string name = (!string.IsNullOrWhiteSpace(samplerName) ? samplerName : !string.IsNullOrWhiteSpace(samplerIndex) ? samplerIndex : "Euler").Trim();
        Scheduler? asked = string.IsNullOrWhiteSpace(scheduler) ? null : Find(scheduler.Trim());
        Scheduler? suffix = null;
        foreach (var s in Schedulers)
        {
            foreach (var option in new[] { s.Label, s.Name }.Concat(s.Aliases ?? []))
                if (name.EndsWith(" " + option, StringComparison.Ordinal))
                {
                    suffix = s;
                    name = name[..^(option.Length + 1)];
                    break;
                }
            if (suffix is not null) break;
        }
        var sampler = Listed.FirstOrDefault(s => s.Name == name)
            ?? (SamplerRegistry.TryGet(name, out var loose) ? loose : null)
            ?? throw ApiException.Unprocessable(
                $"sampler \"{name}\" is not available in Redraft; use one of: {string.Join(", ", Listed.Select(s => s.Name))}.");
        // An unknown scheduler name is "Automatic", as in A1111 (it logs a warning and carries on).
        var chosen = asked ?? suffix ?? Schedulers[0];
        if (chosen.Redraft is null)
            throw ApiException.Unprocessable(
                $"scheduler \"{chosen.Label}\" is not available in Redraft; use one of: {string.Join(", ", Schedulers.Where(s => s.Redraft is not null).Select(s => s.Label))}.");
        string? schedule = chosen.Redraft == "automatic" ? DefaultScheduler(sampler.Name) : chosen.Redraft;
        return new Choice(sampler.Name, schedule);
    }

    /// <summary>
    /// Whether A1111's <c>eta_noise_seed_delta</c> (ENSD) changes this sampler's picture: A1111 reseeds the noise drawn
    /// after the start noise with seed + delta, which only samplers that draw noise while sampling read (the ancestral
    /// ones, LCM, DDIM with η above 0). The SDE samplers draw from a Brownian tree seeded by the seed alone.
    /// </summary>
    public static bool UsesNoiseSeedDelta(string sampler, double? eta) =>
        sampler is "Euler a" or "LCM" || (sampler == "DDIM" && eta is > 0);

    private static Scheduler? Find(string value) =>
        Schedulers.FirstOrDefault(s => s.Name == value || s.Label == value || (s.Aliases?.Contains(value) ?? false));
}
