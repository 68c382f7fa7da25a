using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Networks;

namespace Redraft.Diffusion.Tools;

/// <summary>Architectures that <see cref="RandomCheckpointWriter"/> can write with seeded random weights.</summary>
internal sealed record ModelPreset(string Name, ModelDescription Description, bool StoreHalf)
{
    /// <summary>Small enough that a 64×64, 2-step txt2img runs in about a second on a CPU core; real key layout.</summary>
    public static ModelPreset Tiny { get; } = new("tiny", new ModelDescription
    {
        Family = "sd1",
        UNet = new UNetConfig
        {
            ModelChannels = 32, ChannelMult = [1, 2], NumResBlocks = 1, AttentionResolutions = [1, 2],
            NumHeads = 2, TransformerDepth = 1, ContextDim = 64,
        },
        Vae = new AutoencoderConfig { Channels = 32, ChannelMult = [1, 1, 2, 2], NumResBlocks = 1 },
        Text = new TextEncoderConfig { Width = 64, Layers = 2, Heads = 1, IntermediateSize = 128 },
    }, StoreHalf: false);

    /// <summary>The tiny model with a 9-channel inpainting UNet (latent, mask, masked-image latent), like SD 1.5-inpainting.</summary>
    public static ModelPreset TinyInpaint { get; } = new("tiny-inpaint", Tiny.Description with
    {
        Family = "sd1",
        UNet = Tiny.Description.UNet with { InChannels = 9 },
    }, StoreHalf: false);

    /// <summary>The full Stable Diffusion 1.5 architecture (860M-parameter UNet, CLIP ViT-L/14 text tower), fp16 storage.</summary>
    public static ModelPreset Sd15 { get; } = new("sd15", new ModelDescription
    {
        Family = "sd1",
        UNet = UNetConfig.StableDiffusion1,
        Vae = AutoencoderConfig.StableDiffusion,
        Text = TextEncoderConfig.ClipVitL14,
    }, StoreHalf: true);

    /// <summary>
    /// The tiny model's size with SD 2.x's structure: channels per head instead of a head count, linear transformer
    /// projections, an OpenCLIP text tower (exact GELU, penultimate layer, padding 0).
    /// </summary>
    public static ModelPreset TinySd2 { get; } = new("tiny-sd2", new ModelDescription
    {
        Family = "sd2",
        UNet = new UNetConfig
        {
            ModelChannels = 32, ChannelMult = [1, 2], NumResBlocks = 1, AttentionResolutions = [1, 2],
            NumHeadChannels = 16, TransformerDepth = 1, ContextDim = 64, UseLinearInTransformer = true,
        },
        Vae = new AutoencoderConfig { Channels = 32, ChannelMult = [1, 1, 2, 2], NumResBlocks = 1 },
        Text = TextEncoderConfig.OpenClipVitH14 with { Width = 64, Layers = 2, Heads = 1, IntermediateSize = 256 },
        PadToken = Text.PromptChunker.OpenClipPadToken,
    }, StoreHalf: false);

    /// <summary>
    /// The full Stable Diffusion 2.1 architecture (865M-parameter UNet, OpenCLIP ViT-H/14 text tower), fp16 storage.
    /// SD-Turbo has the same shapes. Epsilon prediction (as 2.1-base and SD-Turbo).
    /// </summary>
    public static ModelPreset Sd21 { get; } = new("sd21", new ModelDescription
    {
        Family = "sd2",
        UNet = UNetConfig.StableDiffusion2,
        Vae = AutoencoderConfig.StableDiffusion,
        Text = TextEncoderConfig.OpenClipVitH14,
        PadToken = Text.PromptChunker.OpenClipPadToken,
    }, StoreHalf: true);

    public static IReadOnlyList<ModelPreset> All { get; } = [Tiny, TinyInpaint, Sd15, TinySd2, Sd21];

    public static ModelPreset Get(string name) =>
        All.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new RedraftInputException($"unknown preset \"{name}\"; valid: {string.Join(", ", All.Select(p => p.Name))}.");
}
