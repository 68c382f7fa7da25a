using TorchSharp;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Networks;

/// <summary>
/// TAESD's decoder in its own conventions: latent (N, 4, h, w) on the diffusion model's scale (SD-VAE latents
/// × 0.18215) → RGB image (N, 3, 8h, 8w), approximately in [0, 1] and not clamped. Children are named by their
/// index in the original sequential list, so parameter names equal the weight file's keys.
/// </summary>
/// <remarks>
/// Layers: 0 soft clamp 3·tanh(x/3); 1 conv(4→64); 2 ReLU; 3–5 blocks; 6 nearest ×2; 7 conv without bias;
/// 8–10 blocks; 11 nearest ×2; 12 conv; 13–15 blocks; 16 nearest ×2; 17 conv; 18 block; 19 conv(64→3).
/// Indices 0, 2, 6, 11 and 16 hold no parameters and are not registered.
/// </remarks>
internal sealed class TaesdDecoder : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> convIn, convOut;
    private readonly List<(nn.Module<Tensor, Tensor> Conv, TaesdBlock[] Blocks)> stages = [];
    private readonly TaesdBlock[] firstBlocks;

    public TaesdDecoder() : base(nameof(TaesdDecoder))
    {
        const long c = TaesdEncoder.Channels;
        convIn = Add(1, Layers.Conv3x3(TaesdEncoder.LatentChannels, c));
        firstBlocks = [Add(3, new TaesdBlock(c)), Add(4, new TaesdBlock(c)), Add(5, new TaesdBlock(c))];
        // Each stage: upsample (index not registered), conv without bias, then its blocks.
        int index = 6;
        foreach (int blockCount in new[] { 3, 3, 1 })
        {
            index++; // the upsample
            var conv = Add(index++, Layers.Conv3x3(c, c, hasBias: false));
            var blocks = new TaesdBlock[blockCount];
            for (int i = 0; i < blockCount; i++) blocks[i] = Add(index++, new TaesdBlock(c));
            stages.Add((conv, blocks));
        }
        convOut = Add(index, Layers.Conv3x3(c, 3));
    }

    private T Add<T>(int index, T layer) where T : nn.Module
    {
        register_module(index.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
        return layer;
    }

    public override Tensor forward(Tensor latent)
    {
        using var scope = NewDisposeScope();
        var h = tanh(latent / 3.0) * 3.0;
        h = nn.functional.relu(convIn.call(h));
        foreach (var block in firstBlocks) h = block.call(h);
        foreach (var (conv, blocks) in stages)
        {
            h = conv.call(nn.functional.interpolate(h, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest));
            foreach (var block in blocks) h = block.call(h);
        }
        return convOut.call(h).MoveToOuterDisposeScope();
    }
}
