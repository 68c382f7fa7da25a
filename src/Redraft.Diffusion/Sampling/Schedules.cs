namespace Redraft.Diffusion.Sampling;

/// <summary>
/// Sigma schedules: which noise levels a sampling run visits. Each returns the levels of a full
/// run, descending, of length steps + 1 (the last entry is the terminal level).
/// </summary>
internal static class Schedules
{
    /// <summary>
    /// k-diffusion's discrete <c>get_sigmas</c> (AUTOMATIC1111's "normal" schedule, the default for
    /// Euler and Euler a): t = linspace(N−1, 0, steps), σ = <see cref="NoiseSchedule.SigmaAt"/>(t), then 0.
    /// </summary>
    public static double[] Normal(NoiseSchedule schedule, int steps)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ValidateSteps(steps);
        var result = new double[steps + 1];
        double[] t = Linspace(schedule.TrainSteps - 1, 0, steps);
        for (int i = 0; i < steps; i++) result[i] = schedule.SigmaAt(t[i]);
        result[steps] = 0;
        return result;
    }

    /// <summary>
    /// The DDIM timesteps with "leading" spacing, highest first: i·(N / steps) + offset for
    /// i = steps−1 … 0, with N / steps an integer division (diffusers' <c>timestep_spacing="leading"</c>;
    /// SD's config uses offset 1, giving 951, 901, …, 1 for 20 steps).
    /// </summary>
    /// <exception cref="RedraftInputException">steps is not usable with this schedule.</exception>
    public static int[] DdimLeadingTimesteps(int trainSteps, int steps, int offset = 1)
    {
        ValidateSteps(steps);
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset), "offset must be ≥ 0");
        int ratio = trainSteps / steps;
        int highest = (steps - 1) * ratio + offset;
        if (ratio == 0 || highest > trainSteps - 1)
            throw new RedraftInputException(
                $"DDIM cannot take {steps} steps on a {trainSteps}-timestep schedule; use at most {MaxDdimSteps(trainSteps, offset)} steps");
        var ts = new int[steps];
        for (int i = 0; i < steps; i++) ts[i] = (steps - 1 - i) * ratio + offset;
        return ts;
    }

    private static int MaxDdimSteps(int trainSteps, int offset)
    {
        for (int s = trainSteps; s > 1; s--)
            if ((s - 1) * (trainSteps / s) + offset <= trainSteps - 1) return s;
        return 1;
    }

    /// <summary>
    /// The DDIM timesteps as the original CompVis script and AUTOMATIC1111 make them, highest first:
    /// <c>range(0, N, N // steps) + 1</c>, clipped to N − 1. When <paramref name="steps"/> does not divide N this is
    /// more than <paramref name="steps"/> timesteps (30 → 31, 6 → 7), and that many steps run; same seed and settings
    /// then give A1111's picture.
    /// </summary>
    /// <exception cref="RedraftInputException">More steps than the schedule has timesteps.</exception>
    public static int[] CompVisDdimTimesteps(int trainSteps, int steps)
    {
        ValidateSteps(steps);
        int spacing = trainSteps / steps;
        if (spacing == 0)
            throw new RedraftInputException($"DDIM cannot take {steps} steps on a {trainSteps}-timestep schedule; use at most {trainSteps} steps.");
        var ascending = new List<int>();
        for (int t = 0; t < trainSteps; t += spacing) ascending.Add(Math.Min(t + 1, trainSteps - 1));
        ascending.Reverse();
        return [.. ascending];
    }

    /// <summary>
    /// Sigmas of <see cref="CompVisDdimTimesteps"/>, followed by the terminal level σ(ᾱ_0) (the original script ends
    /// at ᾱ_0): the schedule DDIM and PLMS run on.
    /// </summary>
    public static double[] CompVisDdim(NoiseSchedule schedule, int steps)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        int[] ts = CompVisDdimTimesteps(schedule.TrainSteps, steps);
        var result = new double[ts.Length + 1];
        for (int i = 0; i < ts.Length; i++) result[i] = schedule.Sigmas[ts[i]];
        result[^1] = NoiseSchedule.SigmaOfAlphaCumprod(schedule.AlphasCumprod[0]);
        return result;
    }

    /// <summary>
    /// The times of AUTOMATIC1111's UniPC txt2img run (<see cref="ScheduleKind.TimeUniform"/>): A1111 hands UniPC the
    /// CompVis timesteps (<see cref="CompVisDdimTimesteps"/>) and UniPC takes as many steps as there are of them, evenly
    /// spaced in continuous time from 1 to 1/N (<see cref="DiscreteVpTime.TimeUniform"/>); the timesteps' values are
    /// not used. 30 steps run 31, from t = 1 to t = 0.001.
    /// </summary>
    public static double[] UniPcTimes(int trainSteps, int steps) =>
        DiscreteVpTime.TimeUniform(DiscreteVpTime.Start, 1.0 / trainSteps, CompVisDdimTimesteps(trainSteps, steps).Length);

    /// <summary>
    /// Sigmas of <see cref="UniPcTimes"/> (<see cref="DiscreteVpTime.Sigma"/>); the last is σ(ᾱ_0), where A1111's
    /// UniPC stops.
    /// </summary>
    public static double[] UniPcTimeUniform(NoiseSchedule schedule, int steps)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var time = new DiscreteVpTime(schedule);
        return [.. UniPcTimes(schedule.TrainSteps, steps).Select(time.Sigma)];
    }

    /// <summary>
    /// Sigmas of the DDIM "leading" timesteps (<see cref="DdimLeadingTimesteps"/>), followed by the
    /// terminal level: σ(ᾱ_0) when <paramref name="setAlphaToOne"/> is false (SD's config and the
    /// original script end at ᾱ_0), 0 when true (ᾱ_prev = 1 at the last step).
    /// </summary>
    public static double[] DdimLeading(NoiseSchedule schedule, int steps, int offset = 1, bool setAlphaToOne = false)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        int[] ts = DdimLeadingTimesteps(schedule.TrainSteps, steps, offset);
        var result = new double[steps + 1];
        for (int i = 0; i < steps; i++) result[i] = schedule.Sigmas[ts[i]];
        result[steps] = setAlphaToOne ? 0.0 : NoiseSchedule.SigmaOfAlphaCumprod(schedule.AlphasCumprod[0]);
        return result;
    }

    /// <summary>
    /// Karras et al. (2022) schedule, as k-diffusion's <c>get_sigmas_karras</c>:
    /// σ_i = (σmax^(1/ρ) + i/(steps−1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ, then 0.
    /// </summary>
    public static double[] Karras(double sigmaMin, double sigmaMax, int steps, double rho = 7.0)
    {
        ValidateSteps(steps);
        if (!(sigmaMin > 0 && sigmaMax >= sigmaMin)) throw new ArgumentOutOfRangeException(nameof(sigmaMin), "need 0 < sigmaMin ≤ sigmaMax");
        if (!(rho > 0)) throw new ArgumentOutOfRangeException(nameof(rho));
        double minInv = Math.Pow(sigmaMin, 1 / rho), maxInv = Math.Pow(sigmaMax, 1 / rho);
        double[] ramp = Linspace(0, 1, steps);
        var result = new double[steps + 1];
        for (int i = 0; i < steps; i++) result[i] = Math.Pow(maxInv + ramp[i] * (minInv - maxInv), rho);
        result[steps] = 0;
        return result;
    }

    /// <summary>The Karras schedule between the schedule's <see cref="NoiseSchedule.SigmaMin"/> and <see cref="NoiseSchedule.SigmaMax"/>.</summary>
    public static double[] Karras(NoiseSchedule schedule, int steps, double rho = 7.0)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        return Karras(schedule.SigmaMin, schedule.SigmaMax, steps, rho);
    }

    /// <summary>torch/numpy-style linspace in double (the first half counts up from start, the second down from end).</summary>
    /// <summary>The sigmas of a <paramref name="steps"/>-step run spaced as <paramref name="kind"/> says.</summary>
    public static double[] Build(ScheduleKind kind, NoiseSchedule schedule, int steps) => kind switch
    {
        ScheduleKind.Normal => Normal(schedule, steps),
        ScheduleKind.Karras => Karras(schedule, steps),
        ScheduleKind.Exponential => Exponential(schedule, steps),
        ScheduleKind.SgmUniform => SgmUniform(schedule, steps),
        ScheduleKind.Ddim => CompVisDdim(schedule, steps),
        ScheduleKind.TimeUniform => UniPcTimeUniform(schedule, steps),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>k-diffusion's exponential schedule: evenly spaced in log σ from σ_max to σ_min, then 0.</summary>
    public static double[] Exponential(NoiseSchedule schedule, int steps)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ValidateSteps(steps);
        double[] logs = Linspace(Math.Log(schedule.SigmaMax), Math.Log(schedule.SigmaMin), steps);
        var result = new double[steps + 1];
        for (int i = 0; i < steps; i++) result[i] = Math.Exp(logs[i]);
        result[steps] = 0;
        return result;
    }

    /// <summary>
    /// "SGM uniform": timesteps evenly spaced from 999 to 0 over steps + 1 points with the last dropped, then
    /// σ = 0; unlike <see cref="Normal"/> the final model call is not at the lowest level.
    /// </summary>
    public static double[] SgmUniform(NoiseSchedule schedule, int steps)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ValidateSteps(steps);
        double[] t = Linspace(schedule.TrainSteps - 1, 0, steps + 1);
        var result = new double[steps + 1];
        for (int i = 0; i < steps; i++) result[i] = schedule.SigmaAt(t[i]);
        result[steps] = 0;
        return result;
    }

    internal static double[] Linspace(double start, double end, int n)
    {
        var r = new double[n];
        if (n == 1) { r[0] = start; return r; }
        double step = (end - start) / (n - 1);
        int half = n / 2;
        for (int i = 0; i < n; i++) r[i] = i < half ? start + step * i : end - step * (n - 1 - i);
        return r;
    }

    private static void ValidateSteps(int steps)
    {
        if (steps < 1) throw new RedraftInputException($"steps must be at least 1 (got {steps})");
    }
}
