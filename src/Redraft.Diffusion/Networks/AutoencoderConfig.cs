namespace Redraft.Diffusion.Networks;

/// <summary>
/// Hyper-parameters of the LDM <c>AutoencoderKL</c> (<c>first_stage_config.params.ddconfig</c> plus
/// <c>embed_dim</c>), and the latent scale factor the diffusion model was trained with.
/// </summary>
public sealed record AutoencoderConfig
{
    public int Channels { get; init; } = 128;
    public IReadOnlyList<int> ChannelMult { get; init; } = [1, 2, 4, 4];
    public int NumResBlocks { get; init; } = 2;
    public int ZChannels { get; init; } = 4;
    public int EmbedDim { get; init; } = 4;
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    /// <summary>0.18215 for SD 1.x/2.x.</summary>
    public double ScaleFactor { get; init; } = 0.18215;

    public static AutoencoderConfig StableDiffusion { get; } = new();

    /// <summary>Pixels per latent cell along one side (8 for SD).</summary>
    public int DownscaleFactor => 1 << (ChannelMult.Count - 1);

    public void Validate()
    {
        if (Channels <= 0 || Channels % 32 != 0)
            throw new RedraftInputException($"VAE ch must be a positive multiple of 32 (GroupNorm uses 32 groups), got {Channels}.");
        if (ChannelMult.Count == 0 || NumResBlocks <= 0)
            throw new RedraftInputException("VAE config needs a non-empty ch_mult and num_res_blocks ≥ 1.");
    }
}
