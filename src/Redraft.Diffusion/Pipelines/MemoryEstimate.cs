using System.Collections.Concurrent;
using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Networks;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Pipelines;

/// <summary>
/// The peak resident memory a generation will reach, estimated before anything loads from the model's shapes and the
/// request, so a request that cannot fit is refused (or decoded in tiles) instead of being killed by the system.
/// <para>
/// A generation runs in phases, each with its own weights in memory (all of them, or with low memory only the network
/// at work) and its own activations; the peak is the largest phase. Activations are counted from the networks'
/// structure as this code runs them: every network keeps each of its layers' outputs until it returns (one dispose
/// scope per forward pass), plus the temporaries of the block at work. The terms that grow fastest:
/// </para>
/// <list type="bullet">
/// <item>the VAE's middle attention materialises its score matrix and softmax, 2 × (latent cells)² fp32 per image
/// (measured: the decode's peak grows by exactly that from 768² to 1024²; its tokens are a transposed view, which
/// libtorch's blocked CPU kernel does not take): 2.1 GB at 1024² and 34 GB at 2048² for SD. Tiling bounds the decode's
/// to one 512-pixel tile; the encoder (img2img) is not tiled;</item>
/// <item>the VAE decoder's full-resolution layers (128 and 256 channels for SD, fp32 by default): about 8 KB a pixel;</item>
/// <item>the UNet's layers, per image and twice with guidance (the unconditional half). Its attention keeps no score
/// matrix: the native bf16 kernel works in blocks, and so does libtorch's CPU kernel on its fp32 head views (measured:
/// a 1024² batch of 8 on the tiny model peaks at 2.4 GB, where 16 × 2 heads × 16384² scores would be 34 GB).</item>
/// </list>
/// Counted elements are scaled by <see cref="Headroom"/> for allocator slack and the copies not modelled; the constants
/// were calibrated against <c>/usr/bin/time -v</c> peaks of the tiny and SD 1.5 models (README, Benchmarks, "Peak
/// memory": 1.04–1.52× the measured peak). Re-measure them when the loader, the allocator policy or a network's
/// memory use changes.
/// </summary>
public sealed record MemoryEstimate
{
    /// <summary>The process before any model: .NET, libtorch and its thread pools, the allocator's arenas.</summary>
    public const long RuntimeBytes = 480L << 20;

    /// <summary>
    /// While the UNet loads, its convolution weights are rewritten channels-last and exist twice for a while (about
    /// half its parameters are convolutions); the same holds for a bf16 VAE.
    /// </summary>
    private const double ChannelsLastCopy = 0.7;

    /// <summary>Multiplier on the load's counted bytes (runs of one load spread by a few per cent).</summary>
    public const double LoadHeadroom = 1.05;

    /// <summary>Share of the UNet's bytes still held while a low-memory run decodes (the allocator keeps part of what was freed).</summary>
    public const double LowMemoryRetained = 0.25;

    /// <summary>Multiplier on counted activations: allocator slack, layout copies and the small tensors not counted.</summary>
    public const double Headroom = 1.25;

    /// <summary>The latent tile of <c>AutoencoderKL.DecodeTiled</c> and its stride (a quarter overlap).</summary>
    internal const int TileLatent = 64, TileStride = 48;

    /// <summary>
    /// Peak bytes while the model loads (and the text encoder runs): the weights, about the checkpoint's size again for
    /// the bytes passing through the process (read pieces, the fp32 widening of a bf16 load, storage freed and kept by
    /// the allocator — measured: positioned reads instead of a memory map did not lower SD 1.5's 512² peak), and the
    /// channels-last copies, with <see cref="LoadHeadroom"/>.
    /// </summary>
    public required long Load { get; init; }
    /// <summary>Peak bytes while the init image (or a 9-channel model's masked image) is encoded; 0 when nothing is.</summary>
    public required long Encode { get; init; }
    /// <summary>Peak bytes while the UNet samples.</summary>
    public required long Sampling { get; init; }
    /// <summary>Peak bytes while the images are decoded.</summary>
    public required long Decode { get; init; }

    /// <summary>The whole generation's peak: the largest phase.</summary>
    public long Peak => Math.Max(Math.Max(Load, Encode), Math.Max(Sampling, Decode));

    /// <summary>The estimate for <paramref name="request"/> on the model <paramref name="model"/> describes, run as <paramref name="options"/> say.</summary>
    public static MemoryEstimate For(ModelDescription model, ModelLoadOptions options, GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(request);
        long unetBytes = ElementSize(ComputePrecision.Resolve(options.DType));
        long vaeBytes = ElementSize(ComputePrecision.Resolve(options.VaeDType));
        bool taesd = string.Equals(options.VaePath, "taesd", StringComparison.OrdinalIgnoreCase);
        var parameters = ParameterCounts.Of(model);
        long text = parameters.Text * 4, unet = parameters.UNet * unetBytes, vae = parameters.Vae * vaeBytes;
        long tiny = taesd || options.LoadPreviewDecoder ? TaesdParameters * 4 : 0;
        bool low = options.LowMemory;
        long all = text + unet + vae + tiny;
        // Stored bytes per parameter, for the checkpoint's bytes passing through the process while a network loads.
        long total = parameters.Text + parameters.UNet + parameters.Vae;
        double stored = (double)(CheckpointBytes(options.ModelPath) ?? 2 * total) / total;
        long unetLoad = unet + (long)(stored * parameters.UNet) + (long)(ChannelsLastCopy * unet);
        long vaeLoad = vae + (long)(stored * parameters.Vae) + (vaeBytes == 2 ? (long)(ChannelsLastCopy * vae) : 0);
        long textLoad = text + (long)(stored * parameters.Text);
        // All at once, or (low memory) one network at a time.
        long load = (long)(LoadHeadroom * (low ? Math.Max(textLoad, Math.Max(unetLoad, vaeLoad)) + tiny : textLoad + unetLoad + vaeLoad + tiny));

        int factor = model.Vae.DownscaleFactor;
        long lh = request.Height / factor, lw = request.Width / factor;
        long pixels = (long)request.Width * request.Height;
        int batch = request.BatchSize;
        int unetBatch = request.CfgScale != 1.0 ? 2 * batch : batch;

        // The init image (img2img), and a 9-channel model's masked image even in txt2img, go through the encoder.
        bool encodes = request.InitImage is not null || model.UNet.InChannels == 9;
        // A latent upscale encodes the init image at its own size.
        var (encodeHeight, encodeWidth) = request is { ResizeInitLatent: true, InitImage: { } init } ? (init.Height, init.Width) : (request.Height, request.Width);
        long encodeActivations = !encodes ? 0
            : taesd ? TaesdElements((long)encodeWidth * encodeHeight) * 4
            : EncoderActivations(model.Vae, encodeHeight, encodeWidth, vaeBytes);
        // The sampler's own latents (x, noise, estimates, history): a few latents per image.
        long samplerState = 16L * batch * model.Vae.EmbedDim * lh * lw * 4;
        long unetActivations = unetBatch * UNetElements(model.UNet, lh, lw) * unetBytes;
        long preview = request.PreviewEvery > 0 && tiny > 0 ? TaesdElements(pixels) * 4 : 0;
        // Decoded images are kept as bytes; one image is decoded at a time.
        long decodeActivations = taesd ? TaesdElements(pixels) * 4
            : request.VaeTiling ? TiledDecoderActivations(model.Vae, lh, lw, vaeBytes)
            : DecoderActivations(model.Vae, lh, lw, vaeBytes);
        long images = batch * pixels * 3;

        // With low memory the UNet is freed before the decode, but part of it stays with the allocator: measured on
        // SD 1.5 (1024² tiled, bf16) the decode's peak is the VAE's estimate plus about a quarter of the UNet.
        long retained = low ? (long)(LowMemoryRetained * unet) : 0;
        long Phase(long weights, long activations) => RuntimeBytes + weights + (long)(Headroom * activations);
        return new MemoryEstimate
        {
            Load = RuntimeBytes + load,
            Encode = encodes ? Phase(low ? vae + tiny : all, encodeActivations + images) : 0,
            Sampling = Phase(low ? unet + tiny : all, unetActivations + samplerState + images + preview),
            Decode = Phase(low ? vae + tiny + retained : all, decodeActivations + samplerState + images),
        };
    }

    private static long ElementSize(ScalarType dtype) => dtype == ScalarType.BFloat16 ? 2 : 4;

    /// <summary>Parameters of TAESD's encoder and decoder together (about 2.4 M).</summary>
    private const long TaesdParameters = 2_500_000;

    /// <summary>TAESD's encode or decode: 64 channels at full resolution through a dozen layers.</summary>
    private static long TaesdElements(long pixels) => 700 * pixels;

    /// <summary>The checkpoint's size on disk (a diffusers folder: its three weight files); null when it cannot be read.</summary>
    private static long? CheckpointBytes(string path)
    {
        try
        {
            if (File.Exists(path)) return new FileInfo(path).Length;
            if (!Directory.Exists(path)) return null;
            long bytes = 0;
            foreach (var component in new[] { "unet", "vae", "text_encoder" })
            {
                var folder = Path.Combine(path, component);
                if (Directory.Exists(folder))
                    bytes += Directory.EnumerateFiles(folder, "*.safetensors").Select(f => new FileInfo(f).Length).DefaultIfEmpty(0).Max();
            }
            return bytes > 0 ? bytes : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Elements alive at the UNet's peak for one image: every stage's output (the skips, the concatenations, the
    /// output path) stays until the forward pass returns, plus the largest block's temporaries.
    /// </summary>
    internal static long UNetElements(UNetConfig c, long h, long w)
    {
        int levels = c.ChannelMult.Count;
        var size = new long[levels];
        for (int l = 0; l < levels; l++) size[l] = Halved(h, l) * Halved(w, l);
        long mc = c.ModelChannels;
        long kept = 2 * c.InChannels * size[0] + mc * size[0];
        long temporary = 0;
        var skips = new Stack<long>();
        skips.Push(mc);
        long ch = mc;
        for (int l = 0; l < levels; l++)
        {
            bool attention = c.AttentionResolutions.Contains(1 << l);
            for (int r = 0; r < c.NumResBlocks; r++)
            {
                long output = c.ChannelMult[l] * mc;
                temporary = Math.Max(temporary, ResBlockTemporaries(ch, output, size[l]));
                ch = output;
                kept += ch * size[l];
                if (attention)
                {
                    kept += ch * size[l];
                    temporary = Math.Max(temporary, TransformerTemporaries(ch, size[l], c.TransformerDepth));
                }
                skips.Push(ch);
            }
            if (l != levels - 1)
            {
                kept += ch * size[l + 1];
                skips.Push(ch);
            }
        }
        long deepest = size[levels - 1];
        kept += 3 * ch * deepest;
        temporary = Math.Max(temporary, Math.Max(ResBlockTemporaries(ch, ch, deepest), TransformerTemporaries(ch, deepest, c.TransformerDepth)));
        for (int l = levels - 1; l >= 0; l--)
        {
            bool attention = c.AttentionResolutions.Contains(1 << l);
            for (int r = 0; r <= c.NumResBlocks; r++)
            {
                long input = ch + skips.Pop();
                kept += input * size[l];
                long output = c.ChannelMult[l] * mc;
                temporary = Math.Max(temporary, ResBlockTemporaries(input, output, size[l]));
                ch = output;
                kept += ch * size[l];
                if (attention)
                {
                    kept += ch * size[l];
                    temporary = Math.Max(temporary, TransformerTemporaries(ch, size[l], c.TransformerDepth));
                }
                if (l != 0 && r == c.NumResBlocks)
                {
                    kept += ch * size[l - 1];
                    temporary = Math.Max(temporary, ch * size[l - 1]);
                }
            }
        }
        kept += 2 * mc * size[0] + 2 * c.OutChannels * size[0];
        return kept + temporary;
    }

    /// <summary>A residual block's temporaries: norm of the input, two convolutions, the timestep sum, the second norm, the projected skip.</summary>
    private static long ResBlockTemporaries(long input, long output, long size) => (input + 4 * output + (input != output ? output : 0)) * size;

    /// <summary>
    /// A spatial transformer's temporaries at its peak, the feed-forward of a block: the block's norms, attention
    /// outputs and residual sums (7 widths), the GEGLU projection (8), its gated half (4) and the gate (4), the output
    /// (1); around it the stage's norm and projections, and the earlier blocks' outputs.
    /// </summary>
    private static long TransformerTemporaries(long channels, long tokens, int depth) => (7 + 17 + 2 + depth) * channels * tokens;

    /// <summary>
    /// Bytes of one image's decode at full size: the decoder keeps every layer's output until it returns, the largest
    /// block's temporaries, and the middle attention's fp32 score matrix and softmax.
    /// </summary>
    internal static long DecoderActivations(AutoencoderConfig c, long lh, long lw, long elementBytes)
    {
        int levels = c.ChannelMult.Count;
        var size = new long[levels];
        // Level l of the decoder works at 2^(levels-1-l) × the latent's size... counted here from the image down.
        for (int l = 0; l < levels; l++) size[l] = Scaled(lh, levels - 1 - l) * Scaled(lw, levels - 1 - l);
        long top = c.Channels * c.ChannelMult[^1];
        long latentCells = lh * lw;
        long kept = top * latentCells * 4;                                   // conv_in, block_1, attn_1, block_2
        // The attention: fp32 q, k, v and output, the score matrix and its softmax.
        long attention = 4 * top * latentCells * 4 + 2 * latentCells * latentCells * 4;
        long peakAtAttention = (2 * top * latentCells) * elementBytes + attention;
        long temporary = 0;
        long ch = top;
        for (int l = levels - 1; l >= 0; l--)
        {
            long output = c.Channels * c.ChannelMult[l];
            for (int i = 0; i <= c.NumResBlocks; i++)
            {
                temporary = Math.Max(temporary, (ch + 3 * output + (ch != output ? output : 0)) * size[l]);
                ch = output;
                kept += ch * size[l];
            }
            if (l != 0)
            {
                kept += ch * size[l - 1];
                temporary = Math.Max(temporary, ch * size[l - 1]);
            }
        }
        kept += c.Channels * c.ChannelMult[0] * size[0];
        long output4 = 3 * size[0] * 4 * 3;                                  // fp32 output, its copy, the checks on it
        return Math.Max(peakAtAttention, (kept + temporary) * elementBytes + output4);
    }

    /// <summary>
    /// A tiled decode's heap holds more than one tile's decode: tiles of different sizes, freed between the decoded
    /// tiles that stay, fragment it (on the tiny model RSS grows over the first tiles to 1.5–2 tiles' worth).
    /// </summary>
    private const double TileFragmentation = 1.6;

    /// <summary>
    /// Bytes of one image's tiled decode: one tile's decode (times <see cref="TileFragmentation"/>), every decoded
    /// tile and its blended copy, and the rows and the image they are joined into.
    /// </summary>
    internal static long TiledDecoderActivations(AutoencoderConfig c, long lh, long lw, long elementBytes)
    {
        if (lh <= TileLatent && lw <= TileLatent) return DecoderActivations(c, lh, lw, elementBytes);
        int f = c.DownscaleFactor;
        long tilePixels = 0;
        for (long i = 0; i < lh; i += TileStride)
            for (long j = 0; j < lw; j += TileStride)
                tilePixels += Math.Min(TileLatent, lh - i) * f * Math.Min(TileLatent, lw - j) * f;
        long image = lh * f * lw * f * 3 * 4;
        return (long)(TileFragmentation * DecoderActivations(c, Math.Min(lh, TileLatent), Math.Min(lw, TileLatent), elementBytes))
            + 2 * tilePixels * 3 * 4 + 3 * image;
    }

    /// <summary>Bytes of the encoder on a full-size image: every layer's output until it returns, the largest block, the middle attention.</summary>
    internal static long EncoderActivations(AutoencoderConfig c, long height, long width, long elementBytes)
    {
        int levels = c.ChannelMult.Count;
        var size = new long[levels];
        for (int l = 0; l < levels; l++) size[l] = Halved(height, l) * Halved(width, l);
        long kept = c.Channels * size[0] + 2 * 3 * size[0];
        long temporary = 0;
        long ch = c.Channels;
        for (int l = 0; l < levels; l++)
        {
            long output = c.Channels * c.ChannelMult[l];
            for (int i = 0; i < c.NumResBlocks; i++)
            {
                temporary = Math.Max(temporary, (ch + 3 * output + (ch != output ? output : 0)) * size[l]);
                ch = output;
                kept += ch * size[l];
            }
            if (l != levels - 1)
            {
                temporary = Math.Max(temporary, ch * size[l]);                  // the padded copy
                kept += ch * size[l + 1];
            }
        }
        long cells = size[levels - 1];
        // The middle attention comes after the whole down path (still held), when no block's temporaries are.
        long attention = (kept + 2 * ch * cells) * elementBytes + 4 * ch * cells * 4 + 2 * cells * cells * 4;
        kept += 3 * ch * cells;
        return Math.Max((kept + temporary) * elementBytes, attention) + 3 * size[0] * 4 * 2;
    }

    /// <summary>A side after <paramref name="times"/> stride-2 convolutions (rounding up, as they do).</summary>
    private static long Halved(long side, int times)
    {
        for (int i = 0; i < times; i++) side = (side + 1) / 2;
        return side;
    }

    /// <summary>A latent side after <paramref name="times"/> doublings.</summary>
    private static long Scaled(long side, int times) => side << times;

    /// <summary>Parameter counts of the three networks, from modules built on the meta device (no storage), per architecture.</summary>
    private sealed record ParameterCounts(long Text, long UNet, long Vae)
    {
        private static readonly ConcurrentDictionary<string, ParameterCounts> Known = new();

        public static ParameterCounts Of(ModelDescription d) => Known.GetOrAdd(Key(d), _ => Count(d));

        /// <summary>A key with the lists spelled out (records compare lists by reference).</summary>
        private static string Key(ModelDescription d) => string.Join("|",
            d.UNet with { ChannelMult = [], AttentionResolutions = [] }, string.Join(",", d.UNet.ChannelMult), string.Join(",", d.UNet.AttentionResolutions),
            d.Vae with { ChannelMult = [] }, string.Join(",", d.Vae.ChannelMult), d.Text);

        private static ParameterCounts Count(ModelDescription d)
        {
            using var scope = NewDisposeScope();
            static long Sum(nn.Module module)
            {
                long total = module.parameters().Sum(p => p.numel());
                module.Dispose();
                return total;
            }
            long text = d.Text.Layout == TextEncoderLayout.OpenClip
                ? Sum(Layers.OnMeta(() => new OpenClipTextModel(d.Text)))
                : Sum(Layers.OnMeta(() => new ClipTextModel(d.Text)));
            return new ParameterCounts(text, Sum(Layers.OnMeta(() => new UNetModel(d.UNet))), Sum(Layers.OnMeta(() => new AutoencoderKL(d.Vae))));
        }
    }
}
