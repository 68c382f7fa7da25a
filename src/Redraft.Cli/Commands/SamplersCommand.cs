using System.CommandLine;
using Redraft.Diffusion.Sampling;

namespace Redraft.Cli.Commands;

/// <summary><c>redraft samplers</c>: names, aliases and the schedules each sampler accepts.</summary>
internal static class SamplersCommand
{
    public static Command Create()
    {
        var command = new Command("samplers", "List the samplers, their aliases and the schedules each accepts.");
        command.SetAction(_ =>
        {
            foreach (var s in SamplerRegistry.All)
            {
                var schedules = s.SupportedSchedules.Select(k => k == s.DefaultSchedule ? ScheduleNames.Name(k) + " (default)" : ScheduleNames.Name(k));
                Console.WriteLine($"{s.Name}\taliases: {string.Join(", ", s.Aliases)}\tschedules: {string.Join(", ", schedules)}");
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
