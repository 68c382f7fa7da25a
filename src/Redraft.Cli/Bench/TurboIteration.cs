using System.Diagnostics;
using Redraft.Diffusion.Pipelines;
using Redraft.Imaging;

namespace Redraft.Cli.Bench;

/// <summary>
/// The rapid-iteration loop on an SD-Turbo-shaped model: read a 512² PNG, img2img 2 steps at strength 0.5 (one UNet
/// evaluation), guidance off, TAESD encode and decode, write the PNG — timed in one process after the model is loaded.
/// </summary>
internal static class TurboIteration
{
    public static BenchResult Run(StableDiffusionModel model, int size, int runs, CancellationToken ct)
    {
        var folder = Directory.CreateTempSubdirectory("redraft-bench-").FullName;
        try
        {
            var input = Path.Combine(folder, "in.png");
            var output = Path.Combine(folder, "out.png");
            var pixels = new byte[size * size * 3];
            for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i * 31 % 251);
            ImageFiles.SavePng(input, new RgbImage(size, size, pixels));
            var pipeline = new DiffusionPipeline(model);
            void Iterate()
            {
                var image = ImageFiles.Load(input);
                var result = pipeline.Generate(new GenerationRequest
                {
                    Prompt = "a cosy cottage in a meadow, golden hour",
                    Width = size, Height = size, Steps = 2, Strength = 0.5, CfgScale = 1, Sampler = "Euler a", Seed = 7,
                    InitImage = new ImagePixels(image.Width, image.Height, image.Pixels),
                }, null, ct);
                var made = result.Images[0].Image;
                ImageFiles.SavePng(output, new RgbImage(made.Width, made.Height, made.Rgb));
            }
            var (median, min, max) = Timing.Measure(Iterate, runs, ct);
            string dtype = ComputePrecision.Name(model.UNetDType);
            return new BenchResult("img2img_turbo", model.Name, dtype, 1, size, size, TorchSharp.torch.get_num_threads(),
                median, min, max, double.NaN, double.NaN, double.NaN);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }
}
