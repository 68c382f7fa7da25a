using System.CommandLine;
using Redraft.Diffusion.Pipelines;
using Redraft.Imaging;
using Redraft.Studio;
using Redraft.Studio.Generation;

namespace Redraft.Cli.Commands;

/// <summary>
/// <c>redraft txt2img</c> and <c>redraft img2img</c>: option parsing and console output around
/// <see cref="GenerationService"/>. The option names are a contract for scripts.
/// </summary>
internal static class GenerateCommands
{
    public static Command Txt2Img() => Create("txt2img", "Generate images from a prompt.", GenerationCommand.Txt2Img);

    public static Command Img2Img() => Create("img2img", "Redraw an image (a sketch, a composite) guided by a prompt.", GenerationCommand.Img2Img);

    private static Command Create(string name, string description, GenerationCommand kind)
    {
        var o = new GenerationCliOptions(kind);
        var models = new ModelOptions();
        var output = new Option<string?>("--out") { Description = "Output PNG (FILE-0.png … for several images); default: numbered files in $REDRAFT_HOME/outputs/COMMAND/DATE/" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace --out files that exist (without it, an existing file is an error)" };
        var init = new Option<string>("--init") { Description = "Init image (any size; stretched to --width x --height)", Required = true };
        var mask = new Option<string?>("--mask") { Description = "Inpainting mask, white = regenerate (a mask with transparency: its alpha; else its luminance); stretched to the output size" };
        var command = new Command(name, description);
        o.AddTo(command);
        models.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(overwrite);
        if (kind == GenerationCommand.Img2Img)
        {
            command.Options.Add(init);
            command.Options.Add(mask);
        }
        command.SetAction(async (parse, ct) =>
        {
            // Resolved first: the seeds name the numbered files, and every check runs before anything loads.
            var requested = await ModelSetup.PrepareAsync(o.Read(parse), parse, o, models, name, ct);
            var settings = GenerationService.Resolve(requested);
            if (requested.Threads is { } asked && asked != settings.Threads)
                Console.Error.WriteLine($"{name}: note: --threads {asked} is more than this machine's {settings.Threads} cores; using {settings.Threads}.");
            GenerationCliOptions.NoteTiling(name, requested, settings);
            string? explicitOut = parse.GetValue(output);
            var outputs = explicitOut is null ? null : OutputFiles.Paths(explicitOut, settings.BatchSize * settings.BatchCount, parse.GetValue(overwrite));
            string? numbered = explicitOut is null ? OutputFiles.NumberedFolder(name) : null;
            var previewPath = o.PreviewPath(parse);
            GenerationInputs? inputs = null;
            if (kind == GenerationCommand.Img2Img)
            {
                // The command's contract: init image and mask are stretched to --width x --height, also for "masked".
                int width = settings.Width!.Value, height = settings.Height!.Value;
                var image = ImageFiles.Load(parse.GetValue(init)!);
                if (image.Width != width || image.Height != height) image = ImageFiles.Resize(image, width, height);
                MaskImage? maskImage = null;
                if (parse.GetValue(mask) is { } maskPath)
                {
                    maskImage = MaskImage.LoadOperationMask(maskPath);
                    if (maskImage.Width != width || maskImage.Height != height)
                    {
                        Console.Error.WriteLine($"{name}: note: mask resized from {maskImage.Width}x{maskImage.Height} to {width}x{height}.");
                        maskImage = maskImage.Resized(width, height);
                    }
                }
                inputs = new GenerationInputs(image, maskImage);
            }
            using var service = new GenerationService();
            var result = await ConsoleProgress.RunAsync(name, progress => service.GenerateAsync(settings, inputs, progress, null, ct), e =>
            {
                if (e.Preview is { } preview && previewPath is not null) ImageFiles.SavePng(previewPath, preview);
            });
            for (int i = 0; i < result.Images.Count; i++)
            {
                string written;
                if (outputs is not null) OutputFiles.Write(written = outputs[i], result.Images[i].Png);
                else written = OutputFiles.WriteNumbered(numbered!, result.Images[i].Seed, result.Images[i].Png);
                Console.WriteLine(written);
            }
            var s = result.Settings;
            Console.Error.WriteLine($"{name}: {result.Images.Count} image(s), seed {s.Seed}, {result.Duration.TotalSeconds:F1} s; model {result.ModelName} (UNet {s.DType}{(s.VaeDType == "bf16" ? ", VAE bf16" : "")}) loaded in {result.LoadDuration.TotalSeconds:F1} s, {s.Threads} threads");
            return ExitCodes.Success;
        });
        return command;
    }
}
