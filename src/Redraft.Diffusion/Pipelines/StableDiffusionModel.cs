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
    /// <remarks>With <see cref="LowMemory"/> it is loaded on first use and freed after each encoding.</remarks>
    internal ITextEncoder TextEncoder => _text.Value;
    /// <summary>The denoising UNet. With <see cref="LowMemory"/> it is loaded on first use and freed before the VAE decodes.</summary>
    internal UNetModel UNet => _unet.Value;
    /// <summary>The VAE. With <see cref="LowMemory"/> it is loaded on first use and freed after each encode and decode.</summary>
    internal AutoencoderKL Vae => _vae.Value;
    /// <summary>The UNet's compute precision (known without loading it).</summary>
    public ScalarType UNetDType { get; }
    /// <summary>The full VAE's compute precision (known without loading it); its inputs and outputs are fp32 either way.</summary>
    public ScalarType VaeDType { get; private init; } = ScalarType.Float32;
    /// <summary>Components are loaded when needed and freed after use (<c>--low-memory</c>): peak memory is the largest component's instead of their sum, at the cost of reloading them.</summary>
    public bool LowMemory { get; private init; }
    /// <summary>The tiny autoencoder, when loaded (for previews, or as the VAE with <see cref="UsesTaesdAsVae"/>).</summary>
    internal TinyAutoencoder? Taesd { get; private init; }
    /// <summary>Encode and decode with TAESD instead of the full VAE (<c>--vae taesd</c>).</summary>
    public bool UsesTaesdAsVae { get; private init; }
    /// <summary>The VAE in use, as the "VAE" field of the parameters text: null for the checkpoint's own.</summary>
    public string? VaeName { get; private init; }
    internal ClipTokenizer Tokenizer { get; }
    /// <summary>The file or folder name without extension, as A1111's "Model:" field shows it.</summary>
    public string Name { get; }
    /// <summary>First 10 hex digits of the SHA-256 of the weights file (A1111's "Model hash").</summary>
    public string Hash { get; }
    public Device Device { get; }

    internal PromptCache Prompts { get; } = new();

    private readonly ComponentSlot<ITextEncoder> _text;
    private readonly ComponentSlot<UNetModel> _unet;
    private readonly ComponentSlot<AutoencoderKL> _vae;

    private StableDiffusionModel(ModelDescription description, ComponentSlot<ITextEncoder> text, ComponentSlot<UNetModel> unet,
        ComponentSlot<AutoencoderKL> vae, ScalarType unetDType, ClipTokenizer tokenizer, string name, string hash, Device device)
    {
        Description = description;
        _text = text;
        _unet = unet;
        _vae = vae;
        UNetDType = unetDType;
        Tokenizer = tokenizer;
        Name = name;
        Hash = hash;
        Device = device;
    }

    /// <summary>Which components are in memory now.</summary>
    internal (bool Text, bool UNet, bool Vae) Loaded => (_text.IsLoaded, _unet.IsLoaded, _vae.IsLoaded);

    /// <summary>
    /// Calls <paramref name="hook"/> with the text encoder and the UNet each time one of them is loaded (low-memory
    /// LoRAs); null removes it.
    /// </summary>
    /// <exception cref="InvalidOperationException">A hook is already set.</exception>
    internal void SetNetworkLoadHook(Action<nn.Module, Checkpoints.LoraComponent>? hook)
    {
        if (hook is not null && _unet.AfterLoad is not null)
            throw new InvalidOperationException("LoRAs are already applied to this model; take them out before applying another list.");
        _text.AfterLoad = hook is null ? null : text => hook((nn.Module)text, Checkpoints.LoraComponent.TextEncoder);
        _unet.AfterLoad = hook is null ? null : unet => hook(unet, Checkpoints.LoraComponent.UNet);
    }

    /// <summary>Frees the text encoder and the UNet; the next use loads them from the checkpoint.</summary>
    internal void ReleaseTextEncoderAndUNet()
    {
        _text.Release();
        _unet.Release();
    }

    /// <summary>With <see cref="LowMemory"/>: frees the text encoder (its outputs stay in the prompt cache).</summary>
    internal void ReleaseTextEncoderIfLowMemory()
    {
        if (LowMemory) _text.Release();
    }

    /// <summary>With <see cref="LowMemory"/>: frees the UNet (before the VAE decodes).</summary>
    internal void ReleaseUNetIfLowMemory()
    {
        if (LowMemory) _unet.Release();
    }

    /// <summary>With <see cref="LowMemory"/>: frees the VAE (after encoding, and after decoding).</summary>
    internal void ReleaseVaeIfLowMemory()
    {
        if (LowMemory) _vae.Release();
    }

    /// <summary>
    /// What the model is (its networks' shapes, read from its config or its tensor headers) without loading a weight:
    /// milliseconds, so requests can be checked against it before the load.
    /// </summary>
    /// <exception cref="RedraftInputException">The model, its config or its headers cannot be read; the message says why.</exception>
    public static ModelDescription Describe(ModelLoadOptions options)
    {
        var (description, weights) = OpenWeights(options);
        weights.Dispose();
        return description;
    }

    /// <summary>The model's description and its weights, opened (headers read, no tensor loaded).</summary>
    private static (ModelDescription Description, IWeightSource Weights) OpenWeights(ModelLoadOptions options)
    {
        var path = options.ModelPath;
        bool folder = CheckModelPath(path);
        if (folder)
        {
            var (description, source) = DiffusersFolder.Open(path);
            try
            {
                return (options.ConfigPath is null ? description : LdmYamlConfig.Read(options.ConfigPath, description.Text), source);
            }
            catch
            {
                source.Dispose();
                throw;
            }
        }
        var weights = new SingleFileWeightSource(SafetensorsFile.Open(path));
        try
        {
            var yaml = options.ConfigPath ?? LdmYamlConfig.FindBeside(path);
            return (yaml is not null ? LdmYamlConfig.Read(yaml, ModelDetector.DetectText(weights)) : ModelDetector.Detect(weights), weights);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>Whether <paramref name="path"/> is a diffusers folder (else a .safetensors file); refuses anything else.</summary>
    private static bool CheckModelPath(string path)
    {
        bool folder = DiffusersFolder.IsDiffusersFolder(path);
        if (!folder && !File.Exists(path))
            throw new RedraftInputException(Directory.Exists(path)
                ? $"{path}: a folder without model_index.json; give a .safetensors checkpoint or a diffusers model folder."
                : $"{path}: model file not found; give a Stable Diffusion 1.x/2.x .safetensors checkpoint (e.g. v1-5-pruned-emaonly.safetensors) or a diffusers folder, or write a random-weight one to try Redraft: redraft make-model --preset tiny --out tiny.safetensors.");
        if (!folder && !path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            throw new RedraftInputException($"{path}: only .safetensors checkpoints are loaded (pickled .ckpt files can run code); convert it to safetensors first.");
        return folder;
    }

    /// <summary>Loads and validates every component; any problem with the files is a <see cref="RedraftInputException"/>.</summary>
    public static StableDiffusionModel Load(ModelLoadOptions options, CancellationToken ct = default)
    {
        var path = options.ModelPath;
        bool folder = CheckModelPath(path);

        var device = new Device(options.Device);
        var unetDType = ComputePrecision.Resolve(options.DType);
        var vaeDType = ComputePrecision.Resolve(options.VaeDType);
        string? tokenizerModelDir = folder ? path : null;
        var tokenizer = ClipTokenizer.Load(TokenizerLocator.Locate(options.TokenizerPath, tokenizerModelDir));

        var (description, weights) = OpenWeights(options);
        string hashFile;
        try
        {
            hashFile = folder ? DiffusersFolder.WeightsFile(path, "unet", "diffusion_pytorch_model") : path;
        }
        catch
        {
            weights.Dispose();
            throw;
        }

        try
        {
            description.Text.Validate();
        }
        catch (RedraftInputException e) when (e is not CheckpointFormatException)
        {
            throw new CheckpointFormatException($"{path}: {e.Message}", e);
        }

        // Hashing a 2 GB checkpoint takes seconds; it runs beside the weight conversion instead of after it.
        var hashTask = Task.Run(() => ShortHash(hashFile), ct);
        bool taesdAsVae = string.Equals(options.VaePath, "taesd", StringComparison.OrdinalIgnoreCase);
        if (options.VaePath is not null && !taesdAsVae && !File.Exists(options.VaePath))
            throw new RedraftInputException($"{options.VaePath}: VAE file not found.");

        // Each component is built from a weight source; eagerly from the one opened above, or (low memory) from the
        // file opened afresh each time it is needed again.
        IWeightSource? shared = weights;
        IWeightSource Open() => folder ? DiffusersFolder.Open(path).Weights : new SingleFileWeightSource(SafetensorsFile.Open(path));
        T Build<T>(Func<IWeightSource, T> build) where T : nn.Module
        {
            var source = shared ?? Open();
            try
            {
                using (TorchRuntime.LoadingWeights())
                using (no_grad())
                {
                    var module = build(source);
                    module.eval();
                    module.to(device);
                    return module;
                }
            }
            finally
            {
                if (shared is null) source.Dispose();
            }
        }
        var text = new ComponentSlot<ITextEncoder>(() => (ITextEncoder)Build(w => BuildTextEncoder(description.Text, w)));
        var unet = new ComponentSlot<UNetModel>(() => Build(w =>
        {
            var u = Layers.OnMeta(() => new UNetModel(description.UNet), unetDType);
            WeightLoader.Load(u, UNetPrefix, w, "if the model is not SD 1.x/2.x-shaped, give its YAML config with --config");
            if (device.type == DeviceType.CPU) u.UseChannelsLastWeights();
            return u;
        }));
        // bf16 convolutions are fast with channels-last weights and activations (the VAE converts its inputs).
        AutoencoderKL ConvolutionsChannelsLast(AutoencoderKL v)
        {
            if (device.type == DeviceType.CPU && vaeDType == ScalarType.BFloat16) ChannelsLast.UseForConvolutionWeights(v);
            return v;
        }
        var vae = new ComponentSlot<AutoencoderKL>(() => Build(w =>
        {
            if (options.VaePath is not null && !taesdAsVae)
            {
                using var vaeSource = OpenStandaloneVae(options.VaePath);
                var vaeConfig = ModelDetector.DetectVae(vaeSource, VaePrefix) with { ScaleFactor = description.Vae.ScaleFactor };
                var standalone = Layers.OnMeta(() => new AutoencoderKL(vaeConfig), vaeDType);
                WeightLoader.Load(standalone, VaePrefix, vaeSource);
                return ConvolutionsChannelsLast(standalone);
            }
            var own = Layers.OnMeta(() => new AutoencoderKL(description.Vae), vaeDType);
            WeightLoader.Load(own, VaePrefix, w);
            return ConvolutionsChannelsLast(own);
        }));
        try
        {
            // With low memory only the header was needed to describe the model; the weights load when used.
            if (!options.LowMemory)
            {
                ct.ThrowIfCancellationRequested();
                _ = text.Value;
                ct.ThrowIfCancellationRequested();
                _ = unet.Value;
                ct.ThrowIfCancellationRequested();
                _ = vae.Value;
            }
            weights.Dispose();
            shared = null;
            string name = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(path));
            var taesd = taesdAsVae || options.LoadPreviewDecoder
                ? TinyAutoencoder.LoadFromFolder(TaesdLocator.Locate(options.TaesdFolder), device)
                : null;
            return new StableDiffusionModel(description, text, unet, vae, unetDType, tokenizer, name, hashTask.GetAwaiter().GetResult(), device)
            {
                Taesd = taesd,
                UsesTaesdAsVae = taesdAsVae,
                VaeName = taesdAsVae ? "taesd" : options.VaePath is null ? null : Path.GetFileNameWithoutExtension(options.VaePath),
                LowMemory = options.LowMemory,
                VaeDType = vaeDType,
            };
        }
        catch
        {
            shared?.Dispose();
            text.Release();
            unet.Release();
            vae.Release();
            throw;
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

    /// <summary>Frees every component's weights.</summary>
    public void Dispose()
    {
        _text.Release();
        _unet.Release();
        _vae.Release();
        Taesd?.Dispose();
        Prompts.Clear();
    }
}
