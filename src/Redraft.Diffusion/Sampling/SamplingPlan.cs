namespace Redraft.Diffusion.Sampling;

/// <summary>
/// What one sampling run visits: its noise levels in order and, for img2img, how the init latent is noised before the
/// first of them; for AUTOMATIC1111's UniPC also the continuous time that tells the UNet its timestep.
/// </summary>
/// <param name="Sigmas">Noise levels of the run, descending; <see cref="Steps"/> = length − 1 steps run.</param>
/// <param name="InitSigma">img2img: the init latent becomes (latent + InitSigma·noise)·<paramref name="InitScale"/>.</param>
/// <param name="InitScale">1, except where the sampler reads the noised latent at another level than it was noised to (CompVis/A1111 img2img with DDIM, PLMS and UniPC).</param>
/// <param name="Time">Set when the UNet is told the continuous VP time of each level (<see cref="ScheduleKind.TimeUniform"/>)
/// instead of k-diffusion's timestep (<see cref="NoiseSchedule.TimestepAt"/>).</param>
/// <param name="Times">The VP times of <paramref name="Sigmas"/> when <paramref name="Time"/> is set.</param>
internal sealed record SamplingPlan(double[] Sigmas, double InitSigma, double InitScale, DiscreteVpTime? Time, double[]? Times)
{
    /// <summary>Number of steps the run makes.</summary>
    public int Steps => Sigmas.Length - 1;

    /// <summary>
    /// The plan of a <paramref name="steps"/>-step run of <paramref name="sampler"/> on <paramref name="kind"/> (null: the
    /// sampler's default); <paramref name="strength"/> is null for txt2img.
    /// </summary>
    /// <remarks>
    /// <para>k-diffusion samplers (A1111's img2img): the last int(steps × strength) levels of the full run, the init
    /// noised to the first of them.</para>
    /// <para>DDIM and PLMS (<see cref="ISampler.CompVisImg2Img"/>): t_enc = int(min(strength, 0.999) × steps) of the
    /// CompVis timesteps, the init noised to the level one above the first (<c>timesteps[t_enc]</c>) and read as the
    /// latent of the first, as CompVis's and A1111's loops read it.</para>
    /// <para>UniPC on <see cref="ScheduleKind.TimeUniform"/>: see <see cref="UniPc"/>.</para>
    /// </remarks>
    public static SamplingPlan Create(ISampler sampler, NoiseSchedule schedule, int steps, ScheduleKind? kind, double? strength)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        ArgumentNullException.ThrowIfNull(schedule);
        var chosen = kind ?? sampler.DefaultSchedule;
        sampler.EnsureRunsWith(chosen);
        if (chosen == ScheduleKind.TimeUniform) return UniPc(schedule, steps, strength);

        var full = sampler.Sigmas(schedule, steps, chosen);
        // A schedule may hold more steps than asked (CompVis DDIM timesteps: 30 → 31); txt2img runs all of them.
        int stepsToRun = strength is not { } s ? full.Length - 1
            : sampler.CompVisImg2Img ? (int)(Math.Min(s, 0.999) * steps)
            : (int)(steps * s);
        var sigmas = full[(full.Length - 1 - stepsToRun)..];
        // The level the init is noised to: the first step's, or (CompVis img2img) the one above it. CompVis and A1111
        // then read that VP latent as the latent of the first step's level; in sigma space (x/sqrt(ᾱ)) that is the
        // noised latent times sqrt(ᾱ_noised/ᾱ_first) = sqrt((1 + σ_first²)/(1 + σ_noised²)).
        bool oneAbove = strength is not null && sampler.CompVisImg2Img && stepsToRun > 0;
        double initSigma = oneAbove ? full[full.Length - 2 - stepsToRun] : sigmas[0];
        double initScale = oneAbove ? Math.Sqrt((1 + sigmas[0] * sigmas[0]) / (1 + initSigma * initSigma)) : 1.0;
        return new SamplingPlan(sigmas, initSigma, initScale, null, null);
    }

    /// <summary>
    /// AUTOMATIC1111's UniPC, which A1111 runs as a CompVis-timesteps sampler: txt2img takes as many steps as there are
    /// CompVis timesteps, evenly spaced in VP time from 1 to 1/N (<see cref="Schedules.UniPcTimes"/>). img2img takes
    /// t_enc = int(min(strength, 0.999) × steps) steps, noises the init as DDIM does (VP latent
    /// sqrt(ᾱ_e)·x0 + sqrt(1 − ᾱ_e)·ε at e = <c>timesteps[t_enc]</c>), and starts UniPC at the time of
    /// <c>timesteps[t_enc − 1]</c> plus 1/N (<see cref="DiscreteVpTime.Img2ImgStart"/>), evenly spaced down to 1/N. The
    /// noised latent is read as the latent of that start time, one level below the one it was noised to — A1111's own
    /// comment calls this "likely off by a bit"; it is kept because the pictures depend on it. In sigma space that is
    /// the latent scaled by sqrt(ᾱ_e)/α_start.
    /// </summary>
    private static SamplingPlan UniPc(NoiseSchedule schedule, int steps, double? strength)
    {
        var time = new DiscreteVpTime(schedule);
        double[] times;
        double initSigma = 0, initScale = 1;
        if (strength is not { } s)
        {
            times = Schedules.UniPcTimes(schedule.TrainSteps, steps);
        }
        else
        {
            int[] ascending = [.. Schedules.CompVisDdimTimesteps(schedule.TrainSteps, steps).Reverse()];
            int tEnc = (int)(Math.Min(s, 0.999) * steps);
            // No step runs: the init comes back unchanged (A1111 fails here with an index error).
            if (tEnc == 0) return new SamplingPlan([time.Sigma(time.End)], 0, 1, time, [time.End]);
            times = DiscreteVpTime.TimeUniform(time.Img2ImgStart(ascending[tEnc - 1]), time.End, tEnc);
            int noisedAt = ascending[tEnc];
            initSigma = schedule.Sigmas[noisedAt];
            initScale = Math.Sqrt(schedule.AlphasCumprod[noisedAt]) / time.Alpha(times[0]);
        }
        return new SamplingPlan([.. times.Select(time.Sigma)], initSigma, initScale, time, times);
    }
}
