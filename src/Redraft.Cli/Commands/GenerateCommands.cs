using System.CommandLine;
using Redraft.Diffusion;
using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Pipelines;
using Redraft.Imaging;
using Redraft.Studio.Generation;

namespace Redraft.Cli.Commands;

/// <summary><c>redraft txt2img</c> and <c>redraft img2img</c>: the option names are a contract for scripts.</summary>
internal static class GenerateCommands
{
    private sealed class Options
    {
        public readonly Option<string> Model = new("--model") { Description = "Checkpoint (.safetensors, original layout) or diffusers folder", Required = true };
        public readonly Option<string?> Config = new("--config") { Description = "Original-format YAML config (default: <model>.yaml beside it, else detected)" };
        public readonly Option<string?> Vae = new("--vae") { Description = "Standalone VAE .safetensors replacing the checkpoint's" };
        public readonly Option<string> Prompt = new("--prompt") { Description = "What to draw; A1111 syntax: (word:1.3), [word], BREAK", Required = true };
        public readonly Option<string> Negative = new("--negative") { Description = "What to avoid", DefaultValueFactory = _ => "" };
        public readonly Option<int> Width = new("--width") { Description = "Width in pixels, a multiple of 8", DefaultValueFactory = _ => 512 };
        public readonly Option<int> Height = new("--height") { Description = "Height in pixels, a multiple of 8", DefaultValueFactory = _ => 512 };
        public readonly Option<int> Steps = new("--steps") { Description = "Sampling steps", DefaultValueFactory = _ => 20 };
        public readonly Option<double> Cfg = new("--cfg") { Description = "Classifier-free guidance scale", DefaultValueFactory = _ => 7.5 };
        public readonly Option<string> Sampler = new("--sampler") { Description = "Sampler name (Euler a, Euler, DDIM)", DefaultValueFactory = _ => "Euler a" };
        public readonly Option<string?> Schedule = new("--schedule") { Description = "Sigma schedule: automatic (the sampler's), normal, karras, exponential, sgm_uniform, ddim" };
        public readonly Option<string?> Prediction = new("--prediction") { Description = "Override the model's prediction type: eps or v" };
        public readonly Option<bool> ZeroTerminalSnr = new("--zero-terminal-snr") { Description = "Rescale the noise schedule to zero terminal SNR" };
        public readonly Option<double?> Eta = new("--eta") { Description = "DDIM eta (0 = deterministic)" };
        public readonly Option<long> Seed = new("--seed") { Description = "Seed; image i of a batch uses seed+i; -1 = random", DefaultValueFactory = _ => -1 };
        public readonly Option<string> Rng = new("--rng") { Description = "Noise source: cpu (PyTorch CPU) or nv (PyTorch CUDA's numbers, A1111 \"NV\")", DefaultValueFactory = _ => "cpu" };
        public readonly Option<int> Batch = new("--batch") { Description = "Images to make (FILE-0.png … when > 1)", DefaultValueFactory = _ => 1 };
        public readonly Option<int?> Threads = new("--threads") { Description = "CPU threads (default: physical cores)" };
        public readonly Option<string?> Tokenizer = new("--tokenizer") { Description = "Folder with CLIP vocab.json and merges.txt" };
        public readonly Option<string> VaeDType = new("--vae-dtype") { Description = "VAE precision: fp32 (default), bf16 (about twice as fast with AVX512-BF16), auto", DefaultValueFactory = _ => "fp32" };
        public readonly Option<string> DType = new("--dtype") { Description = "UNet precision: auto (bf16 where the CPU has AVX512-BF16), bf16, fp32", DefaultValueFactory = _ => "auto" };
        public readonly Option<string> Device = new("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        public readonly Option<bool> VaeTiling = new("--vae-tiling") { Description = "Decode in overlapping 512-pixel tiles (bounded memory for large images)" };
        public readonly Option<bool> LowMemory = new("--low-memory") { Description = "Load the text encoder, UNet and VAE only when needed and free each after use (lower peak memory)" };
        public readonly Option<string[]> Lora = new("--lora") { Description = "LoRA to merge, FILE[:WEIGHT] (weight 1 by default); repeat for several", AllowMultipleArgumentsPerToken = false };
        public readonly Option<string?> Preview = new("--preview") { Description = "Write a live preview PNG (TAESD decode of the current estimate) to this file while sampling" };
        public readonly Option<int> PreviewEvery = new("--preview-every") { Description = "Steps between previews", DefaultValueFactory = _ => 2 };
        public readonly Option<string?> Taesd = new("--taesd") { Description = "Folder with taesd_encoder/decoder.safetensors (default: $REDRAFT_HOME/taesd)" };
        public readonly Option<string> Out = new("--out") { Description = "Output PNG", Required = true };
        public readonly Option<string> Init = new("--init") { Description = "Init image (any size; resized to the output size)", Required = true };
        public readonly Option<string?> Mask = new("--mask") { Description = "Inpainting mask (white = regenerate); resized to the output size when it differs" };
        public readonly Option<int> MaskBlur = new("--mask-blur") { Description = "Mask blur in pixels", DefaultValueFactory = _ => 4 };
        public readonly Option<string> InpaintArea = new("--inpaint-area") { Description = "whole (the picture) or masked (only the mask's box, at full resolution)", DefaultValueFactory = _ => "whole" };
        public readonly Option<int> InpaintPadding = new("--inpaint-padding") { Description = "Pixels around the mask's box with --inpaint-area masked", DefaultValueFactory = _ => 32 };
        public readonly Option<string> MaskedContent = new("--masked-content") { Description = "What the masked area starts from: original, fill, latent-noise", DefaultValueFactory = _ => "original" };
        public readonly Option<double> Strength = new("--strength") { Description = "How far the result may drift from the init image, 0–1", DefaultValueFactory = _ => 0.75 };

        public void AddTo(Command c, bool img2img)
        {
            foreach (var o in new Option[] { Model, Config, Vae, Prompt, Negative, Width, Height, Steps, Cfg, Sampler, Schedule, Prediction, ZeroTerminalSnr, Eta, Seed, Rng, Batch, Threads, Tokenizer, DType, VaeDType, Device, VaeTiling, LowMemory, Lora, Preview, PreviewEvery, Taesd, Out })
                c.Options.Add(o);
            if (img2img)
            {
                c.Options.Add(Init);
                c.Options.Add(Strength);
                foreach (var o in new Option[] { Mask, MaskBlur, InpaintArea, InpaintPadding, MaskedContent }) c.Options.Add(o);
            }
        }
    }

    public static Command Txt2Img() => Create("txt2img", "Generate images from a prompt.", img2img: false);

    public static Command Img2Img() => Create("img2img", "Redraw an image (a sketch, a composite) guided by a prompt.", img2img: true);

    private static Command Create(string name, string description, bool img2img)
    {
        var o = new Options();
        var command = new Command(name, description);
        o.AddTo(command, img2img);
        command.SetAction(async (parse, ct) =>
        {
            var outputs = OutputPaths(parse.GetValue(o.Out)!, parse.GetValue(o.Batch));
            ImagePixels? init = null;
            int width = parse.GetValue(o.Width), height = parse.GetValue(o.Height);
            if (img2img)
            {
                var image = ImageFiles.Load(parse.GetValue(o.Init)!);
                if (width % 8 == 0 && height % 8 == 0 && width > 0 && height > 0 && (image.Width != width || image.Height != height))
                    image = ImageFiles.Resize(image, width, height);
                init = new ImagePixels(image.Width, image.Height, image.Pixels);
            }
            InpaintOptions? inpaint = null;
            if (img2img && parse.GetValue(o.Mask) is { } maskPath)
            {
                var maskImage = ImageFiles.Load(maskPath);
                if (width % 8 == 0 && height % 8 == 0 && width > 0 && height > 0 && (maskImage.Width != width || maskImage.Height != height))
                {
                    Console.Error.WriteLine($"{name}: note: mask resized from {maskImage.Width}x{maskImage.Height} to {width}x{height}.");
                    maskImage = ImageFiles.Resize(maskImage, width, height);
                }
                var luminance = new byte[maskImage.Width * maskImage.Height];
                for (int i = 0; i < luminance.Length; i++)
                    luminance[i] = (byte)Math.Round(0.299 * maskImage.Pixels[i * 3] + 0.587 * maskImage.Pixels[i * 3 + 1] + 0.114 * maskImage.Pixels[i * 3 + 2]);
                inpaint = new InpaintOptions
                {
                    Mask = new MaskPixels(maskImage.Width, maskImage.Height, luminance),
                    MaskBlur = parse.GetValue(o.MaskBlur),
                    Area = parse.GetValue(o.InpaintArea)!.Trim().ToLowerInvariant() switch
                    {
                        "whole" => Redraft.Diffusion.Pipelines.InpaintArea.Whole,
                        "masked" or "only-masked" => Redraft.Diffusion.Pipelines.InpaintArea.Masked,
                        var other => throw new RedraftInputException($"unknown inpaint area \"{other}\"; valid: whole, masked."),
                    },
                    Padding = parse.GetValue(o.InpaintPadding),
                    Content = parse.GetValue(o.MaskedContent)!.Trim().ToLowerInvariant() switch
                    {
                        "original" => Redraft.Diffusion.Pipelines.MaskedContent.Original,
                        "fill" => Redraft.Diffusion.Pipelines.MaskedContent.Fill,
                        "latent-noise" or "latent_noise" => Redraft.Diffusion.Pipelines.MaskedContent.LatentNoise,
                        var other => throw new RedraftInputException($"unknown masked content \"{other}\"; valid: original, fill, latent-noise."),
                    },
                };
            }
            var request = new GenerationRequest
            {
                Prompt = parse.GetValue(o.Prompt)!,
                NegativePrompt = parse.GetValue(o.Negative) ?? "",
                Width = width,
                Height = height,
                Steps = parse.GetValue(o.Steps),
                CfgScale = parse.GetValue(o.Cfg),
                Sampler = parse.GetValue(o.Sampler)!,
                Eta = parse.GetValue(o.Eta),
                Schedule = parse.GetValue(o.Schedule),
                Prediction = ParsePrediction(parse.GetValue(o.Prediction)),
                ZeroTerminalSnr = parse.GetValue(o.ZeroTerminalSnr),
                Seed = parse.GetValue(o.Seed),
                Rng = parse.GetValue(o.Rng)!,
                BatchSize = parse.GetValue(o.Batch),
                InitImage = init,
                Strength = img2img ? parse.GetValue(o.Strength) : 0,
                Inpaint = inpaint,
                VaeTiling = parse.GetValue(o.VaeTiling),
                PreviewEvery = parse.GetValue(o.Preview) is null ? 0 : Math.Max(1, parse.GetValue(o.PreviewEvery)),
            };
            var previewPath = parse.GetValue(o.Preview);
            if (previewPath is not null) OutputPaths(previewPath, 1);
            request.Validate();
            TorchRuntime.Initialize(parse.GetValue(o.Threads));
            var loadClock = System.Diagnostics.Stopwatch.StartNew();
            using var model = StableDiffusionModel.Load(new ModelLoadOptions
            {
                ModelPath = parse.GetValue(o.Model)!,
                ConfigPath = parse.GetValue(o.Config),
                VaePath = parse.GetValue(o.Vae),
                TokenizerPath = parse.GetValue(o.Tokenizer),
                Device = parse.GetValue(o.Device)!,
                DType = parse.GetValue(o.DType)!,
                VaeDType = parse.GetValue(o.VaeDType)!,
                LowMemory = parse.GetValue(o.LowMemory),
                LoadPreviewDecoder = parse.GetValue(o.Preview) is not null,
                TaesdFolder = parse.GetValue(o.Taesd),
            }, ct);
            var loadSeconds = loadClock.Elapsed.TotalSeconds;
            var loraSpecs = (parse.GetValue(o.Lora) ?? []).Select(LoraSpec.Parse).ToList();
            using var loras = loraSpecs.Count > 0 ? AppliedLoras.Apply(model, loraSpecs) : null;
            var pipeline = new DiffusionPipeline(model);
            var result = await ConsoleProgress.RunAsync(name, progress => pipeline.GenerateAsync(request, progress, ct), p =>
            {
                if (p.Preview is { } preview && previewPath is not null)
                    ImageFiles.SavePng(previewPath, new RgbImage(preview.Width, preview.Height, preview.Rgb));
            });
            for (int i = 0; i < result.Images.Count; i++)
            {
                var image = result.Images[i];
                var info = Infotexts.For(result, image, model, img2img, loraSpecs);
                ImageFiles.SavePng(outputs[i], new RgbImage(image.Image.Width, image.Image.Height, image.Image.Rgb),
                    new Dictionary<string, string> { ["parameters"] = info.Format() });
                Console.WriteLine(outputs[i]);
            }
            Console.Error.WriteLine($"{name}: {result.Images.Count} image(s), seed {result.BaseSeed}, {result.Duration.TotalSeconds:F1} s; model {model.Name} ({model.Description.Family}, UNet {ComputePrecision.Name(model.UNetDType)}{(model.VaeDType == TorchSharp.torch.ScalarType.BFloat16 ? ", VAE bf16" : "")}) loaded in {loadSeconds:F1} s, {TorchSharp.torch.get_num_threads()} threads");
            return ExitCodes.Success;
        });
        return command;
    }

    private static PredictionType? ParsePrediction(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" => null,
        "eps" or "epsilon" => PredictionType.Epsilon,
        "v" or "v_prediction" => PredictionType.V,
        _ => throw new RedraftInputException($"unknown prediction type \"{value}\"; valid: eps, v."),
    };

    /// <summary>FILE.png for one image; FILE-0.png … FILE-(n-1).png for a batch. Checked before any work starts.</summary>
    internal static string[] OutputPaths(string output, int batch)
    {
        if (!output.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new RedraftInputException($"--out must name a .png file, got \"{output}\".");
        var dir = Path.GetDirectoryName(Path.GetFullPath(output))!;
        if (!Directory.Exists(dir))
            throw new RedraftInputException($"output folder {dir} does not exist; create it first.");
        if (batch <= 1) return [output];
        var stem = output[..^4];
        return Enumerable.Range(0, batch).Select(i => $"{stem}-{i}.png").ToArray();
    }
}
