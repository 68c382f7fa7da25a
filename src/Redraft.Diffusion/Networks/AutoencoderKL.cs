using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>The VAE encoder (<c>encoder.*</c>): image in [-1, 1] → mean and log-variance of the latent posterior (before <c>quant_conv</c>).</summary>
internal sealed class VaeEncoder : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> convIn, convOut;
    private readonly GroupNormF32 normOut;
    private readonly List<nn.Module<Tensor, Tensor>> downPath = [];
    private readonly VaeResnetBlock midBlock1, midBlock2;
    private readonly VaeAttentionBlock midAttn;

    public VaeEncoder(AutoencoderConfig c) : base(nameof(VaeEncoder))
    {
        convIn = Layers.Conv3x3(c.InChannels, c.Channels);
        register_module("conv_in", convIn);
        var down = new ModuleSlots();
        long blockIn = c.Channels;
        for (int level = 0; level < c.ChannelMult.Count; level++)
        {
            var levelSlots = new ModuleSlots();
            var blocks = new ModuleSlots();
            long blockOut = c.Channels * c.ChannelMult[level];
            for (int i = 0; i < c.NumResBlocks; i++)
            {
                downPath.Add(blocks.Add(i.ToString(), new VaeResnetBlock(blockIn, blockOut)));
                blockIn = blockOut;
            }
            levelSlots.Add("block", blocks);
            if (level != c.ChannelMult.Count - 1)
                downPath.Add(levelSlots.Add("downsample", new VaeDownsample(blockIn)));
            down.Add(level.ToString(), levelSlots);
        }
        register_module("down", down);
        var mid = new ModuleSlots();
        midBlock1 = mid.Add("block_1", new VaeResnetBlock(blockIn, blockIn));
        midAttn = mid.Add("attn_1", new VaeAttentionBlock(blockIn));
        midBlock2 = mid.Add("block_2", new VaeResnetBlock(blockIn, blockIn));
        register_module("mid", mid);
        normOut = Layers.GroupNorm32(blockIn, 1e-6);
        convOut = Layers.Conv3x3(blockIn, 2 * c.ZChannels);
        register_module("norm_out", normOut);
        register_module("conv_out", convOut);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = convIn.call(x);
        foreach (var layer in downPath) h = layer.call(h);
        h = midBlock2.call(midAttn.call(midBlock1.call(h)));
        return convOut.call(normOut.ForwardThenSilu(h)).MoveToOuterDisposeScope();
    }
}

/// <summary>The VAE decoder (<c>decoder.*</c>): latent (after <c>post_quant_conv</c>) → image in about [-1, 1]. <c>up.N</c> is indexed by level, run from the deepest.</summary>
internal sealed class VaeDecoder : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> convIn, convOut;
    private readonly GroupNormF32 normOut;
    private readonly List<nn.Module<Tensor, Tensor>> upPath = [];
    /// <summary>Share of the decoder's work done after the mid block and after each layer of <see cref="upPath"/>.</summary>
    private readonly double[] workDone;
    private readonly VaeResnetBlock midBlock1, midBlock2;
    private readonly VaeAttentionBlock midAttn;

    public VaeDecoder(AutoencoderConfig c) : base(nameof(VaeDecoder))
    {
        long blockIn = c.Channels * c.ChannelMult[^1];
        convIn = Layers.Conv3x3(c.ZChannels, blockIn);
        register_module("conv_in", convIn);
        var mid = new ModuleSlots();
        midBlock1 = mid.Add("block_1", new VaeResnetBlock(blockIn, blockIn));
        midAttn = mid.Add("attn_1", new VaeAttentionBlock(blockIn));
        midBlock2 = mid.Add("block_2", new VaeResnetBlock(blockIn, blockIn));
        register_module("mid", mid);
        // Work per layer ~ 3×3 convolution multiply-adds per latent cell (in·out·9·pixels): the estimate behind the
        // decode's progress and ETA, where the full-resolution layers at the end take most of the time.
        var work = new List<double> { 9.0 * blockIn * blockIn * 4 };
        double pixels = 1;
        var levels = new ModuleSlots[c.ChannelMult.Count];
        for (int level = c.ChannelMult.Count - 1; level >= 0; level--)
        {
            var levelSlots = new ModuleSlots();
            var blocks = new ModuleSlots();
            long blockOut = c.Channels * c.ChannelMult[level];
            for (int i = 0; i <= c.NumResBlocks; i++)
            {
                upPath.Add(blocks.Add(i.ToString(), new VaeResnetBlock(blockIn, blockOut)));
                work.Add(9.0 * (blockIn * blockOut + blockOut * blockOut) * pixels);
                blockIn = blockOut;
            }
            levelSlots.Add("block", blocks);
            if (level != 0)
            {
                upPath.Add(levelSlots.Add("upsample", new Upsample(blockIn)));
                pixels *= 4;
                work.Add(9.0 * blockIn * blockIn * pixels);
            }
            levels[level] = levelSlots;
        }
        double total = work.Sum(), sum = 0;
        workDone = work.Select(w => (sum += w) / total).ToArray();
        var up = new ModuleSlots();
        for (int level = 0; level < levels.Length; level++) up.Add(level.ToString(), levels[level]);
        register_module("up", up);
        normOut = Layers.GroupNorm32(blockIn, 1e-6);
        convOut = Layers.Conv3x3(blockIn, c.OutChannels);
        register_module("norm_out", normOut);
        register_module("conv_out", convOut);
    }

    public override Tensor forward(Tensor z) => Decode(z, null);

    /// <summary>The forward pass, reporting the estimated share of the work done after each block.</summary>
    public Tensor Decode(Tensor z, Action<double>? progress)
    {
        using var scope = NewDisposeScope();
        var h = convIn.call(z);
        h = midBlock2.call(midAttn.call(midBlock1.call(h)));
        progress?.Invoke(workDone[0]);
        for (int i = 0; i < upPath.Count; i++)
        {
            h = upPath[i].call(h);
            progress?.Invoke(workDone[i + 1]);
        }
        return convOut.call(normOut.ForwardThenSilu(h)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The KL autoencoder (<c>first_stage_model.*</c>). Encoding returns the posterior's mean and standard deviation;
/// the caller draws the sample with its own generator so seeds stay reproducible. Latents passed to and from
/// the diffusion model are scaled by <see cref="AutoencoderConfig.ScaleFactor"/>. Inputs and outputs are fp32 whatever
/// the weights' dtype (<see cref="ComputeDType"/>); bf16 weights on the CPU run channels-last.
/// </summary>
internal sealed class AutoencoderKL : nn.Module
{
    private readonly VaeEncoder encoder;
    private readonly VaeDecoder decoder;
    private readonly nn.Module<Tensor, Tensor> quantConv, postQuantConv;

    public AutoencoderConfig Config { get; }

    /// <summary>The dtype the convolutions run in: that of the loaded weights (fp32, or bf16 with <c>--vae-dtype bf16</c>).</summary>
    public ScalarType ComputeDType => quantConv.parameters().First().dtype;

    /// <summary><paramref name="x"/> in the compute dtype, channels-last when that is bf16 on the CPU (oneDNN's fast bf16 convolutions).</summary>
    private Tensor ToCompute(Tensor x)
    {
        var converted = x.to(ComputeDType);
        return converted.dtype == ScalarType.BFloat16 && converted.device_type == DeviceType.CPU ? ChannelsLast.Ensure(converted) : converted;
    }

    public AutoencoderKL(AutoencoderConfig config) : base(nameof(AutoencoderKL))
    {
        config.Validate();
        Config = config;
        encoder = new VaeEncoder(config);
        decoder = new VaeDecoder(config);
        quantConv = Layers.Conv1x1(2 * config.ZChannels, 2 * config.EmbedDim);
        postQuantConv = Layers.Conv1x1(config.EmbedDim, config.ZChannels);
        register_module("encoder", encoder);
        register_module("decoder", decoder);
        register_module("quant_conv", quantConv);
        register_module("post_quant_conv", postQuantConv);
    }

    /// <summary>Image (B, 3, H, W) in [-1, 1] → (mean, std) of the diagonal Gaussian posterior, unscaled.</summary>
    public (Tensor Mean, Tensor Std) Encode(Tensor image)
    {
        using var scope = NewDisposeScope();
        var moments = quantConv.call(encoder.call(ToCompute(image))).to(ScalarType.Float32);
        var parts = moments.chunk(2, dim: 1);
        var logvar = parts[1].clamp(-30.0, 20.0);
        var std = exp(0.5 * logvar);
        return (parts[0].MoveToOuterDisposeScope(), std.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// <see cref="Decode"/> in overlapping tiles of <paramref name="tileLatent"/>² latent cells, blended linearly over a
    /// quarter of a tile (diffusers' VAE tiling), so memory stays that of one tile whatever the image size. Each tile is
    /// decoded alone, so colours can differ slightly from an untiled decode.
    /// </summary>
    public Tensor DecodeTiled(Tensor latent, int tileLatent = 64, double overlap = 0.25, Action<double>? progress = null)
    {
        long h = latent.shape[2], w = latent.shape[3];
        if (h <= tileLatent && w <= tileLatent) return Decode(latent, progress);
        using var scope = NewDisposeScope();
        int factor = Config.DownscaleFactor;
        int stride = (int)(tileLatent * (1 - overlap));
        int tileSample = tileLatent * factor, blend = (int)(tileSample * overlap), keep = tileSample - blend;
        var rows = new List<List<Tensor>>();
        long tilesDown = (h + stride - 1) / stride, tilesAcross = (w + stride - 1) / stride;
        int tilesDone = 0;
        for (long i = 0; i < h; i += stride)
        {
            var row = new List<Tensor>();
            for (long j = 0; j < w; j += stride)
            {
                using var tileScope = NewDisposeScope();
                var tile = latent[.., .., (int)i..(int)Math.Min(h, i + tileLatent), (int)j..(int)Math.Min(w, j + tileLatent)];
                int done = tilesDone;
                row.Add(Decode(tile, progress is null ? null : f => progress((done + f) / (tilesDown * tilesAcross))).MoveToOuterDisposeScope());
                tilesDone++;
            }
            rows.Add(row);
        }
        var resultRows = new List<Tensor>();
        for (int i = 0; i < rows.Count; i++)
        {
            var resultRow = new List<Tensor>();
            for (int j = 0; j < rows[i].Count; j++)
            {
                var tile = rows[i][j];
                if (i > 0) tile = Blend(rows[i - 1][j], tile, blend, dim: 2);
                if (j > 0) tile = Blend(rows[i][j - 1], tile, blend, dim: 3);
                rows[i][j] = tile;
                resultRow.Add(tile[.., .., ..(int)Math.Min(keep, tile.shape[2]), ..(int)Math.Min(keep, tile.shape[3])]);
            }
            resultRows.Add(cat(resultRow, dim: 3));
        }
        var full = cat(resultRows, dim: 2)[.., .., ..(int)(h * factor), ..(int)(w * factor)];
        return full.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The first <paramref name="extent"/> rows (or columns) of <paramref name="b"/> fade in over the last ones of <paramref name="a"/>.</summary>
    private static Tensor Blend(Tensor a, Tensor b, int extent, int dim)
    {
        extent = (int)Math.Min(extent, Math.Min(a.shape[dim], b.shape[dim]));
        if (extent <= 0) return b;
        var ramp = arange(extent, dtype: ScalarType.Float32, device: b.device) / extent;
        var shape = new long[] { 1, 1, 1, 1 };
        shape[dim] = extent;
        ramp = ramp.reshape(shape);
        var tail = a.narrow(dim, a.shape[dim] - extent, extent);
        var head = b.narrow(dim, 0, extent);
        var mixed = tail * (1 - ramp) + head * ramp;
        return cat([mixed, b.narrow(dim, extent, b.shape[dim] - extent)], dim: dim);
    }

    /// <summary>Unscaled latent (B, embed_dim, h, w) → image (B, 3, 8h, 8w), roughly in [-1, 1] (not clamped).</summary>
    public Tensor Decode(Tensor latent, Action<double>? progress = null)
    {
        using var scope = NewDisposeScope();
        var image = decoder.Decode(postQuantConv.call(ToCompute(latent)), progress).to(ScalarType.Float32);
        return image.contiguous().MoveToOuterDisposeScope();
    }
}
