using System.Security.Cryptography;
using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Networks;
using Redraft.Diffusion.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Pipelines;

/// <summary>
/// A loaded Stable Diffusion model: text encoder, UNet, VAE and tokenizer, with the description they were
/// built from and the identity recorded in every image's parameters (name and A1111-style short hash).
/// </summary>
public sealed class StableDiffusionModel : IDisposable
{
    private const string UNetPrefix = DiffusersWeightSource.UNetPrefix;
    private const string VaePrefix = DiffusersWeightSource.VaePrefix;
    private const string TextPrefix = DiffusersWeightSource.TextPrefix;

    public ModelDescription Description { get; }
    /// <summary>The text tower: <see cref="ClipTextModel"/> (SD 1.x, diffusers folders) or <see cref="OpenClipTextModel"/> (SD 2.x single files).</summary>
    public ITextEncoder TextEncoder { get; }
    public UNetModel UNet { get; }
    public AutoencoderKL Vae { get; }
    /// <summary>The tiny autoencoder, when loaded (for previews, or as the VAE with <see cref="UsesTaesdAsVae"/>).</summary>
    public TinyAutoencoder? Taesd { get; private init; }
    /// <summary>Encode and decode with TAESD instead of the full VAE (<c>--vae taesd</c>).</summary>
    public bool UsesTaesdAsVae { get; private init; }
    /// <summary>The VAE in use, as the "VAE" field of the parameters text: null for the checkpoint's own.</summary>
    public string? VaeName { get; private init; }
    public ClipTokenizer Tokenizer { get; }
    /// <summary>The file or folder name without extension, as A1111's "Model:" field shows it.</summary>
    public string Name { get; }
    /// <summary>First 10 hex digits of the SHA-256 of the weights file (A1111's "Model hash").</summary>
    public string Hash { get; }
    public Device Device { get; }

    internal PromptCache Prompts { get; } = new();

    private StableDiffusionModel(ModelDescription description, ITextEncoder text, UNetModel unet, AutoencoderKL vae,
        ClipTokenizer tokenizer, string name, string hash, Device device)
    {
        Description = description;
        TextEncoder = text;
        UNet = unet;
        Vae = vae;
        Tokenizer = tokenizer;
        Name = name;
        Hash = hash;
        Device = device;
    }

    /// <summary>Loads and validates every component; any problem with the files is a <see cref="RedraftInputException"/>.</summary>
    public static StableDiffusionModel Load(ModelLoadOptions options, CancellationToken ct = default)
    {
        var path = options.ModelPath;
        bool folder = DiffusersFolder.IsDiffusersFolder(path);
        if (!folder && !File.Exists(path))
            throw new RedraftInputException(Directory.Exists(path)
                ? $"{path}: a folder without model_index.json; give a .safetensors checkpoint or a diffusers model folder."
                : $"{path}: model file not found.");
        if (!folder && !path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            throw new RedraftInputException($"{path}: only .safetensors checkpoints are loaded (pickled .ckpt files can run code); convert it to safetensors first.");

        var device = new Device(options.Device);
        var unetDType = ComputePrecision.Resolve(options.DType);
        string? tokenizerModelDir = folder ? path : null;
        var tokenizer = ClipTokenizer.Load(TokenizerLocator.Locate(options.TokenizerPath, tokenizerModelDir));

        IWeightSource weights;
        ModelDescription description;
        string hashFile;
        if (folder)
        {
            (description, var source) = DiffusersFolder.Open(path);
            weights = source;
            hashFile = DiffusersFolder.WeightsFile(path, "unet", "diffusion_pytorch_model");
            if (options.ConfigPath is not null)
                description = LdmYamlConfig.Read(options.ConfigPath, description.Text);
        }
        else
        {
            weights = new SingleFileWeightSource(SafetensorsFile.Open(path));
            hashFile = path;
            var yaml = options.ConfigPath ?? LdmYamlConfig.FindBeside(path);
            description = yaml is not null
                ? LdmYamlConfig.Read(yaml, ModelDetector.DetectText(weights))
                : ModelDetector.Detect(weights);
        }

        // Hashing a 2 GB checkpoint takes seconds; it runs beside the weight conversion instead of after it.
        var hashTask = Task.Run(() => ShortHash(hashFile), ct);
        using (weights)
        using (no_grad())
        {
            ct.ThrowIfCancellationRequested();
            var text = BuildTextEncoder(description.Text, weights);
            ct.ThrowIfCancellationRequested();
            var unet = Layers.OnMeta(() => new UNetModel(description.UNet), unetDType);
            WeightLoader.Load(unet, UNetPrefix, weights, "if the model is not SD 1.x/2.x-shaped, give its YAML config with --config");
            ct.ThrowIfCancellationRequested();
            AutoencoderKL vae;
            bool taesdAsVae = string.Equals(options.VaePath, "taesd", StringComparison.OrdinalIgnoreCase);
            if (options.VaePath is not null && !taesdAsVae)
            {
                using var vaeSource = OpenStandaloneVae(options.VaePath);
                var vaeConfig = ModelDetector.DetectVae(vaeSource, VaePrefix) with { ScaleFactor = description.Vae.ScaleFactor };
                vae = Layers.OnMeta(() => new AutoencoderKL(vaeConfig));
                WeightLoader.Load(vae, VaePrefix, vaeSource);
            }
            else
            {
                vae = Layers.OnMeta(() => new AutoencoderKL(description.Vae));
                WeightLoader.Load(vae, VaePrefix, weights);
            }
            foreach (var m in new nn.Module[] { text, unet, vae })
            {
                m.eval();
                m.to(device);
            }
            string name = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(path));
            var taesd = taesdAsVae || options.LoadPreviewDecoder
                ? TinyAutoencoder.LoadFromFolder(TaesdLocator.Locate(options.TaesdFolder), device)
                : null;
            return new StableDiffusionModel(description, (ITextEncoder)text, unet, vae, tokenizer, name, hashTask.GetAwaiter().GetResult(), device)
            {
                Taesd = taesd,
                UsesTaesdAsVae = taesdAsVae,
                VaeName = taesdAsVae ? "taesd" : options.VaePath is null ? null : Path.GetFileNameWithoutExtension(options.VaePath),
            };
        }
    }

    /// <summary>The text tower the weights' naming calls for, built on the meta device and loaded.</summary>
    private static nn.Module BuildTextEncoder(TextEncoderConfig config, IWeightSource weights)
    {
        if (config.Layout == TextEncoderLayout.OpenClip)
        {
            var openClip = Layers.OnMeta(() => new OpenClipTextModel(config));
            WeightLoader.Load(openClip, OpenClipKeyMap.Prefix, weights);
            return openClip;
        }
        var clip = Layers.OnMeta(() => new ClipTextModel(config));
        WeightLoader.Load(clip, TextPrefix, weights);
        return clip;
    }

    /// <summary>A standalone VAE file: LDM keys (<c>encoder.down.0…</c>), optionally already under <c>first_stage_model.</c>.</summary>
    private static IWeightSource OpenStandaloneVae(string path)
    {
        if (!File.Exists(path)) throw new RedraftInputException($"{path}: VAE file not found.");
        var file = SafetensorsFile.Open(path);
        if (file.Tensors.ContainsKey(VaePrefix + "encoder.conv_in.weight")) return new SingleFileWeightSource(file);
        if (file.Tensors.ContainsKey("encoder.conv_in.weight")) return new SingleFileWeightSource(file, VaePrefix);
        file.Dispose();
        throw new CheckpointFormatException($"{path}: not a VAE in the original layout (no encoder.conv_in.weight).");
    }

    private static string ShortHash(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream))[..10];
    }

    public void Dispose()
    {
        TextEncoder.Dispose();
        UNet.Dispose();
        Vae.Dispose();
        Taesd?.Dispose();
        Prompts.Clear();
    }
}
