using System.CommandLine;
using Redraft.Diffusion;
using Redraft.Diffusion.Tools;

namespace Redraft.Cli.Commands;

/// <summary><c>redraft make-model</c>: a checkpoint with seeded random weights in a real layout, for tests and benchmarks.</summary>
internal static class MakeModelCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "tiny, sd15, tiny-sd2 or sd21", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the weights", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "FILE.safetensors (a FILE.yaml is written beside it), or a folder with --layout diffusers", Required = true };
        var layout = new Option<string>("--layout") { Description = "single (original LDM single file) or diffusers", DefaultValueFactory = _ => "single" };
        var command = new Command("make-model", "Write a checkpoint with seeded random weights (for tests and benchmarks).") { preset, seed, output, layout };
        command.SetAction(parse =>
        {
            var p = ModelPreset.Get(parse.GetValue(preset)!);
            var kind = parse.GetValue(layout)!.ToLowerInvariant() switch
            {
                "single" or "ldm" => CheckpointLayout.SingleFile,
                "diffusers" => CheckpointLayout.Diffusers,
                var other => throw new RedraftInputException($"unknown layout \"{other}\"; valid: single, diffusers."),
            };
            var path = parse.GetValue(output)!;
            if (kind == CheckpointLayout.SingleFile && !path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
                throw new RedraftInputException($"--out must name a .safetensors file for the single-file layout, got \"{path}\".");
            var parent = Path.GetDirectoryName(Path.GetFullPath(path))!;
            if (!Directory.Exists(parent))
                throw new RedraftInputException($"output folder {parent} does not exist; create it first.");
            foreach (var written in RandomCheckpointWriter.Write(p, parse.GetValue(seed), path, kind))
                Console.WriteLine(written);
            return ExitCodes.Success;
        });
        return command;
    }
}
