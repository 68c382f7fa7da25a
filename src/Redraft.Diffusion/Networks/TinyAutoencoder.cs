using Redraft.Diffusion.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// TAESD, the tiny autoencoder for SD 1.x/2.x latents (madebyollin/taesd, MIT): about 1.2 M parameters per half,
/// for fast previews and drafts in place of the full <see cref="AutoencoderKL"/>. It speaks the pipeline's
/// conventions, not TAESD's own:
/// <list type="bullet">
/// <item><b>Images</b> are (B, 3, H, W) RGB in [-1, 1], as for <see cref="AutoencoderKL"/>. TAESD's networks work
/// in [0, 1]; <see cref="Encode"/> maps its input with (x + 1) / 2 and <see cref="Decode"/> maps the network's
/// output with 2y − 1 after clamping it to [0, 1] (so the result lies in [-1, 1]).</item>
/// <item><b>Latents</b> are (B, 4, H/8, W/8) on the diffusion model's scale: the same scale as
/// <c>scale_factor × AutoencoderKL posterior</c> (0.18215 for SD 1.x/2.x). TAESD's own latents already are on
/// that scale (its scaling factor is 1), so they pass unchanged: do <b>not</b> divide by the VAE's scale factor
/// before <see cref="Decode"/>, nor multiply after <see cref="Encode"/>.</item>
/// </list>
/// Tensors must be float32 and on <see cref="Device"/>; results are on the same device. Gradients are not tracked.
/// </summary>
internal sealed class TinyAutoencoder : IDisposable
{
    /// <summary>The encoder weights' file name, as <see cref="LoadFromFolder"/> and <see cref="TaesdLocator"/> expect it.</summary>
    public const string EncoderFileName = "taesd_encoder.safetensors";

    /// <summary>The decoder weights' file name, as <see cref="LoadFromFolder"/> and <see cref="TaesdLocator"/> expect it.</summary>
    public const string DecoderFileName = "taesd_decoder.safetensors";

    private const string WrongFileHint = "not a TAESD {0} file ({1} from madebyollin/taesd, for SD 1.x/2.x)";

    internal TaesdEncoder Encoder { get; }
    internal TaesdDecoder Decoder { get; }

    /// <summary>The device the weights live on.</summary>
    public Device Device { get; }

    private TinyAutoencoder(TaesdEncoder encoder, TaesdDecoder decoder, Device device)
    {
        Encoder = encoder;
        Decoder = decoder;
        Device = device;
    }

    /// <summary>
    /// Loads the two halves from their <c>.safetensors</c> files (any float dtype on disk; parameters become float32)
    /// and moves them to <paramref name="device"/> (CPU when null).
    /// </summary>
    /// <exception cref="RedraftInputException">A file is missing, unreadable, or lacks a tensor (or has one of the wrong shape).</exception>
    public static TinyAutoencoder Load(string encoderPath, string decoderPath, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(encoderPath);
        ArgumentNullException.ThrowIfNull(decoderPath);
        RequireFile(encoderPath, "encoder", EncoderFileName);
        RequireFile(decoderPath, "decoder", DecoderFileName);
        device ??= CPU;
        TaesdEncoder? encoder = null;
        TaesdDecoder? decoder = null;
        try
        {
            encoder = Layers.OnMeta(() => new TaesdEncoder());
            Fill(encoder, encoderPath, string.Format(WrongFileHint, "encoder", EncoderFileName));
            decoder = Layers.OnMeta(() => new TaesdDecoder());
            Fill(decoder, decoderPath, string.Format(WrongFileHint, "decoder", DecoderFileName));
            foreach (nn.Module m in new nn.Module[] { encoder, decoder })
            {
                m.eval();
                m.to(device);
            }
            return new TinyAutoencoder(encoder, decoder, device);
        }
        catch
        {
            encoder?.Dispose();
            decoder?.Dispose();
            throw;
        }
    }

    /// <summary>Loads <c>taesd_encoder.safetensors</c> and <c>taesd_decoder.safetensors</c> from <paramref name="folder"/>.</summary>
    /// <exception cref="RedraftInputException">The folder or one of the files is missing, or a file is not TAESD's.</exception>
    public static TinyAutoencoder LoadFromFolder(string folder, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string full = Path.GetFullPath(folder);
        if (!Directory.Exists(full))
            throw new RedraftInputException($"{full}: TAESD folder not found; it must hold {EncoderFileName} and {DecoderFileName}.");
        return Load(Path.Combine(full, EncoderFileName), Path.Combine(full, DecoderFileName), device);
    }

    /// <summary>
    /// Image (B, 3, H, W) in [-1, 1], H and W multiples of 8 → latent (B, 4, H/8, W/8) on the diffusion model's
    /// scale (as <c>scale_factor × AutoencoderKL</c> posterior; roughly within [-3, 3]). Deterministic: there is no
    /// posterior to sample. The image is mapped to TAESD's [0, 1] range here; the latent is returned as the network
    /// gives it, since it already is on that scale.
    /// </summary>
    public Tensor Encode(Tensor imageMinus1To1)
    {
        ArgumentNullException.ThrowIfNull(imageMinus1To1);
        RequireShape(imageMinus1To1, 3, "image");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var zeroToOne = (imageMinus1To1 + 1.0) / 2.0;
        return Encoder.call(zeroToOne).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Latent (B, 4, h, w) on the diffusion model's scale (what the UNet produces, <b>not</b> divided by the VAE's
    /// scale factor) → image (B, 3, 8h, 8w) in [-1, 1]. The network's [0, 1] output is clamped to [0, 1] and then
    /// mapped with 2y − 1.
    /// </summary>
    public Tensor Decode(Tensor scaledLatent)
    {
        ArgumentNullException.ThrowIfNull(scaledLatent);
        RequireShape(scaledLatent, TaesdEncoder.LatentChannels, "latent");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var zeroToOne = Decoder.call(scaledLatent).clamp(0.0, 1.0);
        return (zeroToOne * 2.0 - 1.0).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Encoder.Dispose();
        Decoder.Dispose();
    }

    private static void Fill(nn.Module module, string path, string hint)
    {
        using var source = new SingleFileWeightSource(SafetensorsFile.Open(path));
        WeightLoader.Load(module, "", source, hint);
    }

    private static void RequireFile(string path, string half, string expectedName)
    {
        if (Directory.Exists(path))
            throw new RedraftInputException($"{path}: is a folder; give the TAESD {half} file ({expectedName}).");
        if (!File.Exists(path))
            throw new RedraftInputException($"{path}: TAESD {half} file not found; it is {expectedName} from madebyollin/taesd.");
    }

    private static void RequireShape(Tensor t, long channels, string what)
    {
        if (t.dim() != 4 || t.shape[1] != channels)
            throw new ArgumentException($"TAESD needs a {what} shaped (B, {channels}, H, W); got [{string.Join(", ", t.shape)}].");
    }
}
