namespace Redraft.Diffusion.Networks;

/// <summary>
/// Size of a CLIP text transformer. SD's YAML names only a pretrained tower, so these are read from the
/// checkpoint's tensor shapes (heads = width / 64, true of every CLIP text tower SD uses).
/// </summary>
public sealed record TextEncoderConfig
{
    public int VocabSize { get; init; } = 49408;
    public int MaxPositions { get; init; } = 77;
    public int Width { get; init; } = 768;
    public int Layers { get; init; } = 12;
    public int Heads { get; init; } = 12;
    public int IntermediateSize { get; init; } = 3072;
    /// <summary>OpenAI's CLIP uses quick-GELU; OpenCLIP towers use exact GELU.</summary>
    public bool QuickGelu { get; init; } = true;

    /// <summary>CLIP ViT-L/14's text tower, SD 1.x's conditioner.</summary>
    public static TextEncoderConfig ClipVitL14 { get; } = new();
}
