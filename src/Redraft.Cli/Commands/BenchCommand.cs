using System.CommandLine;
using System.Globalization;
using Redraft.Cli.Bench;
using Redraft.Diffusion;
using Redraft.Diffusion.Pipelines;

namespace Redraft.Cli.Commands;

/// <summary><c>redraft bench …</c>: reproducible measurements quoted in issue notes and the README.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure this machine: sampler convergence and speed.");
        bench.Subcommands.Add(Samplers());
        return bench;
    }

    private static Command Samplers()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint to run (e.g. the tiny preset)", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Folder with CLIP vocab.json and merges.txt" };
        var size = new Option<int>("--size") { Description = "Image side in pixels", DefaultValueFactory = _ => 64 };
        var threads = new Option<int?>("--threads") { Description = "CPU threads" };
        var threshold = new Option<double>("--threshold") { Description = "Mean |Δ| (0–255) between N and 2N steps that counts as converged", DefaultValueFactory = _ => 2.0 };
        var command = new Command("samplers", "Steps each sampler needs to converge, and seconds per step.") { model, tokenizer, size, threads, threshold };
        command.SetAction((parse, ct) =>
        {
            TorchRuntime.Initialize(parse.GetValue(threads));
            using var sd = StableDiffusionModel.Load(new ModelLoadOptions { ModelPath = parse.GetValue(model)!, TokenizerPath = parse.GetValue(tokenizer) }, ct);
            var pipeline = new DiffusionPipeline(sd);
            int side = parse.GetValue(size);
            var request = new GenerationRequest { Prompt = "a cottage by a lake, oil painting", Width = side, Height = side, CfgScale = 7, Seed = 1 };
            Console.WriteLine($"model {sd.Name}, {side}x{side}, cfg 7, seed 1, threads {TorchSharp.torch.get_num_threads()}, converged = mean |Δ| < {parse.GetValue(threshold)} between N and 2N steps");
            Console.WriteLine("| sampler | steps to converge | mean abs Δ at that N (or at 48) | s/step |");
            Console.WriteLine("| --- | --- | --- | --- |");
            foreach (var row in SamplerConvergence.Run(pipeline, request, parse.GetValue(threshold), ct))
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {row.Sampler} | {(row.ConvergedSteps?.ToString() ?? "not by 48")} | {row.LastDifference:F2} | {row.SecondsPerStep:F4} |"));
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }
}
