namespace Redraft.Diffusion.Networks;

/// <summary>
/// Hyper-parameters of the LDM <c>UNetModel</c> (openaimodel.py), named as in the original YAML
/// (<c>unet_config.params</c>) so a config file maps onto it one to one.
/// </summary>
public sealed record UNetConfig
{
    public int InChannels { get; init; } = 4;
    public int OutChannels { get; init; } = 4;
    public int ModelChannels { get; init; } = 320;
    /// <summary>Downsampling factors (1, 2, 4, …) at which a spatial transformer follows each res block.</summary>
    public IReadOnlyList<int> AttentionResolutions { get; init; } = [4, 2, 1];
    public int NumResBlocks { get; init; } = 2;
    public IReadOnlyList<int> ChannelMult { get; init; } = [1, 2, 4, 4];
    /// <summary>Heads per attention layer; used when <see cref="NumHeadChannels"/> is -1 (SD 1.x).</summary>
    public int NumHeads { get; init; } = 8;
    /// <summary>Channels per head (64 for SD 2.x); -1 means "use <see cref="NumHeads"/>".</summary>
    public int NumHeadChannels { get; init; } = -1;
    public int TransformerDepth { get; init; } = 1;
    public int ContextDim { get; init; } = 768;
    /// <summary>SD 2.x projects in/out of the transformer with Linear layers instead of 1×1 convs.</summary>
    public bool UseLinearInTransformer { get; init; }

    /// <summary>The SD 1.x UNet as in <c>v1-inference.yaml</c>.</summary>
    public static UNetConfig StableDiffusion1 { get; } = new();

    /// <summary>The SD 2.x UNet (<c>v2-inference.yaml</c>; also SD-Turbo): 64 channels per head, context 1024, linear projections.</summary>
    public static UNetConfig StableDiffusion2 { get; } = new() { NumHeadChannels = 64, ContextDim = 1024, UseLinearInTransformer = true };

    internal int HeadsFor(int channels) => NumHeadChannels > 0 ? channels / NumHeadChannels : NumHeads;

    /// <summary>Checks internal consistency; a config file that breaks these would build a network no checkpoint fits.</summary>
    public void Validate()
    {
        if (ModelChannels <= 0 || ModelChannels % 32 != 0)
            throw new RedraftInputException($"UNet model_channels must be a positive multiple of 32 (GroupNorm uses 32 groups), got {ModelChannels}.");
        if (ChannelMult.Count == 0 || NumResBlocks <= 0)
            throw new RedraftInputException("UNet config needs a non-empty channel_mult and num_res_blocks ≥ 1.");
        if (NumHeadChannels <= 0 && NumHeads <= 0)
            throw new RedraftInputException("UNet config needs num_heads > 0 or num_head_channels > 0.");
    }
}
