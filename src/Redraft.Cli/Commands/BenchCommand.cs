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
        var model = new Option<string?>("--model") { Description = "Checkpoint (default: a random-weight sd15 written once to $REDRAFT_HOME/cache/bench/)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Folder with CLIP vocab.json and merges.txt" };
        var size = new Option<int>("--size") { Description = "Image side in pixels", DefaultValueFactory = _ => 512 };
        var dtype = new Option<string>("--dtype") { Description = "UNet and VAE precision to measure: fp32, bf16 or both", DefaultValueFactory = _ => "both" };
        var runs = new Option<int>("--runs") { Description = "Timed runs per component (after one warm-up)", DefaultValueFactory = _ => 3 };
        var threads = new Option<int?>("--threads") { Description = "CPU threads (default: physical cores)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table" };
        var only = new Option<string?>("--only") { Description = "Comma-separated components: text, unet, vae_encode, vae_decode, taesd_encode, taesd_decode, attention_64, img2img_turbo" };
        var turboModel = new Option<string?>("--turbo-model") { Description = "SD-Turbo-shaped checkpoint for img2img_turbo (default: a random-weight sd21 written once to $REDRAFT_HOME/cache/bench/)" };
        var taesdFolder = new Option<string?>("--taesd") { Description = "Folder with the TAESD weights (default: $REDRAFT_HOME/taesd; rows skipped when absent)" };
        var bench = new Command("bench", "Time the engine's components against this machine's matmul rate (median of N runs).")
        {
            model, tokenizer, size, dtype, runs, threads, json, only, taesdFolder, turboModel,
        };
        bench.Subcommands.Add(Samplers());
        bench.Subcommands.Add(Load());
        bench.Subcommands.Add(Server());
        bench.SetAction((parse, ct) =>
        {
            TorchRuntime.Initialize(parse.GetValue(threads));
            int side = parse.GetValue(size), count = parse.GetValue(runs);
            if (side <= 0 || side % 8 != 0) throw new RedraftInputException($"--size must be a positive multiple of 8, got {side}.");
            if (count < 1) throw new RedraftInputException($"--runs must be at least 1, got {count}.");
            var dtypes = DTypes(parse.GetValue(dtype)!);
            var components = parse.GetValue(only)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
            var modelPath = parse.GetValue(model) ?? BenchModel(Redraft.Diffusion.Tools.ModelPreset.Sd15);
            var rates = new Dictionary<string, double>
            {
                ["fp32"] = MatmulRate.Gflops(TorchSharp.torch.ScalarType.Float32, ct),
                ["bf16"] = MatmulRate.Gflops(TorchSharp.torch.ScalarType.BFloat16, ct),
            };
            bool asJson = parse.GetValue(json);
            if (!asJson)
            {
                Console.WriteLine($"matmul 2048²: fp32 {rates["fp32"]:F0} GFLOP/s, bf16 {rates["bf16"]:F0} GFLOP/s, {TorchSharp.torch.get_num_threads()} threads; {count} runs after a warm-up");
                Console.WriteLine("| component | model | dtype | batch | size | median s | min–max s | GFLOP | GFLOP/s | × floor |");
                Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            }
            var results = new List<BenchResult>();
            bool haveTaesd = HaveTaesd(parse.GetValue(taesdFolder));
            bool needBaseModel = components is null || components.Any(c => c != "img2img_turbo");
            foreach (var d in needBaseModel ? dtypes : [])
            {
                using var sd = StableDiffusionModel.Load(new ModelLoadOptions
                {
                    ModelPath = modelPath, TokenizerPath = parse.GetValue(tokenizer), DType = d, VaeDType = d,
                    LoadPreviewDecoder = haveTaesd, TaesdFolder = parse.GetValue(taesdFolder),
                }, ct);
                var bench = new ComponentBench(sd, side, side, count, ct);
                // Precision-independent components (text encoder, TAESD) are measured once, with the first dtype.
                string[] precisionDependent = ["unet", "attention_64", "vae_encode", "vae_decode"];
                var wanted = d == dtypes[0] ? components : (components ?? (IEnumerable<string>)precisionDependent).Intersect(precisionDependent).ToHashSet();
                foreach (var r in bench.All(wanted))
                {
                    results.Add(r);
                    if (!asJson)
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"| {r.Name} | {r.Model} | {r.DTypeLabel} | {r.Batch} | {r.Width}×{r.Height} | {r.MedianSeconds:F3} | {r.MinSeconds:F3}–{r.MaxSeconds:F3} | {r.Gflop:F1} | {r.Gflops:F1} | {r.FloorRatio:F2} |"));
                }
            }
            if ((components is null || components.Contains("img2img_turbo")) && haveTaesd)
            {
                var turboPath = parse.GetValue(turboModel) ?? BenchModel(Redraft.Diffusion.Tools.ModelPreset.Sd21);
                using var turbo = StableDiffusionModel.Load(new ModelLoadOptions
                {
                    ModelPath = turboPath, TokenizerPath = parse.GetValue(tokenizer), DType = "auto",
                    VaePath = "taesd", TaesdFolder = parse.GetValue(taesdFolder),
                }, ct);
                var r = TurboIteration.Run(turbo, side, count, ct);
                results.Add(r);
                if (!asJson)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {r.Name} | {r.Model} | {r.DTypeLabel} | {r.Batch} | {r.Width}×{r.Height} | {r.MedianSeconds:F3} | {r.MinSeconds:F3}–{r.MaxSeconds:F3} | – | – | – |"));
            }
            if (asJson)
            {
                var document = new
                {
                    machine = new
                    {
                        cpu = CpuName(),
                        logical_processors = Environment.ProcessorCount,
                        avx512_bf16 = ComputePrecision.CpuHasBf16,
                        os = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                        dotnet = Environment.Version.ToString(),
                    },
                    matmul_gflops = new { fp32 = rates["fp32"], bf16 = rates["bf16"] },
                    results,
                };
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(document, new System.Text.Json.JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
            }
            return Task.FromResult(ExitCodes.Success);
        });
        return bench;
    }

    private static bool TryLocateTaesd()
    {
        try
        {
            Redraft.Diffusion.Networks.TaesdLocator.Locate(null);
            return true;
        }
        catch (RedraftInputException)
        {
            return false;
        }
    }

    private static bool HaveTaesd(string? folder) =>
        folder is not null ? Redraft.Diffusion.Networks.TaesdLocator.Qualifies(folder) : TryLocateTaesd();

    /// <summary>A random-weight checkpoint of the preset the benchmark runs on, written once and reused.</summary>
    private static string BenchModel(Redraft.Diffusion.Tools.ModelPreset preset)
    {
        var dir = Path.Combine(RedraftHome.Current.Cache, "bench");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, preset.Name + ".safetensors");
        if (!File.Exists(path) || !File.Exists(Path.ChangeExtension(path, ".yaml")))
        {
            Console.Error.WriteLine($"bench: writing the random-weight {preset.Name} checkpoint to {path} (once)…");
            Redraft.Diffusion.Tools.RandomCheckpointWriter.Write(preset, 1, path, Redraft.Diffusion.Tools.CheckpointLayout.SingleFile);
        }
        return path;
    }

    private static string CpuName()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static Command Load()
    {
        var model = new Option<string?>("--model") { Description = "Checkpoint (default: the random-weight sd15 of `redraft bench`)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Folder with CLIP vocab.json and merges.txt" };
        var dtype = new Option<string>("--dtype") { Description = "Precision the weights are loaded in: fp32, bf16 or both", DefaultValueFactory = _ => "both" };
        var runs = new Option<int>("--runs") { Description = "Timed loads per row (after one warm-up)", DefaultValueFactory = _ => 5 };
        var threads = new Option<int?>("--threads") { Description = "CPU threads (default: physical cores)" };
        var command = new Command("load", "Model load time: the checkpoint reader alone and a whole model load (median of N runs, page cache warm).")
        {
            model, tokenizer, dtype, runs, threads,
        };
        command.SetAction((parse, ct) =>
        {
            TorchRuntime.Initialize(parse.GetValue(threads));
            int count = parse.GetValue(runs);
            if (count < 1) throw new RedraftInputException($"--runs must be at least 1, got {count}.");
            var dtypes = DTypes(parse.GetValue(dtype)!);
            var modelPath = parse.GetValue(model) ?? BenchModel(Redraft.Diffusion.Tools.ModelPreset.Sd15);
            Console.WriteLine($"{TorchSharp.torch.get_num_threads()} threads; {count} runs after a warm-up; page cache warm");
            Console.WriteLine("| row | model | dtype | median s | min–max s |");
            Console.WriteLine("| --- | --- | --- | --- | --- |");
            foreach (var d in dtypes)
                foreach (var r in LoadBench.Run(modelPath, parse.GetValue(tokenizer), d, count, ct))
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {r.Name} | {r.Model} | {r.DType} | {r.MedianSeconds:F3} | {r.MinSeconds:F3}–{r.MaxSeconds:F3} |"));
            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }

    private static Command Server()
    {
        var model = new Option<string?>("--model") { Description = "Checkpoint (default: the random-weight tiny model, written once to $REDRAFT_HOME/cache/bench/)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Folder with CLIP vocab.json and merges.txt" };
        var size = new Option<int>("--size") { Description = "Image side in pixels", DefaultValueFactory = _ => 64 };
        var steps = new Option<int>("--steps") { Description = "Sampling steps per request", DefaultValueFactory = _ => 2 };
        var threads = new Option<int?>("--threads") { Description = "CPU threads (default: physical cores)" };
        var runs = new Option<int>("--runs") { Description = "Timed runs of each way (after two warm-ups)", DefaultValueFactory = _ => 20 };
        var requests = new Option<int>("--requests") { Description = "Requests sent to the server process for the memory rows", DefaultValueFactory = _ => 200 };
        var clients = new Option<int>("--clients") { Description = "Clients sending at once", DefaultValueFactory = _ => 10 };
        var command = new Command("server", "The A1111 API's cost per request over GenerationService, and a redraft serve process's memory after 20 and N requests.")
        {
            model, tokenizer, size, steps, threads, runs, requests, clients,
        };
        command.SetAction(async (parse, ct) =>
        {
            int side = parse.GetValue(size);
            if (side <= 0 || side % 8 != 0) throw new RedraftInputException($"--size must be a positive multiple of 8, got {side}.");
            if (parse.GetValue(steps) < 1) throw new RedraftInputException($"--steps must be at least 1, got {parse.GetValue(steps)}.");
            if (parse.GetValue(runs) < 1) throw new RedraftInputException($"--runs must be at least 1, got {parse.GetValue(runs)}.");
            if (parse.GetValue(requests) < 5) throw new RedraftInputException($"--requests must be at least 5, got {parse.GetValue(requests)}.");
            if (parse.GetValue(clients) < 1) throw new RedraftInputException($"--clients must be at least 1, got {parse.GetValue(clients)}.");
            var modelPath = parse.GetValue(model) ?? BenchModel(Redraft.Diffusion.Tools.ModelPreset.Tiny);
            await ServerBench.RunAsync(modelPath, parse.GetValue(tokenizer), parse.GetValue(threads), side, parse.GetValue(steps),
                parse.GetValue(runs), parse.GetValue(requests), parse.GetValue(clients), Console.Out, ct);
            return ExitCodes.Success;
        });
        return command;
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

    /// <summary>The precisions a <c>--dtype fp32|bf16|both</c> value asks the benchmark for.</summary>
    private static string[] DTypes(string value) => value.ToLowerInvariant() switch
    {
        "both" => ["fp32", "bf16"],
        "fp32" => ["fp32"],
        "bf16" => ["bf16"],
        var other => throw new RedraftInputException($"--dtype must be fp32, bf16 or both, got \"{other}\"."),
    };
}
