namespace Redraft.Diffusion.Networks;

/// <summary>How a text tower's weights are named, which decides the module tree that loads them.</summary>
public enum TextEncoderLayout
{
    /// <summary>Hugging Face <c>CLIPTextModel</c> naming (<c>text_model.encoder.layers.N…</c>): SD 1.x files, every diffusers folder.</summary>
    HuggingFace,
    /// <summary>OpenCLIP naming (<c>transformer.resblocks.N…</c>, fused <c>attn.in_proj_weight</c>): SD 2.x single files.</summary>
    OpenClip,
}

/// <summary>
/// Size of a CLIP text transformer. SD's YAML names only a pretrained tower, so these are read from the
/// checkpoint's tensor shapes (heads = width / 64, true of every CLIP text tower SD uses).
/// </summary>
public sealed record TextEncoderConfig
{
    public int VocabSize { get; init; } = 49408;
    public int MaxPositions { get; init; } = 77;
    public int Width { get; init; } = 768;
    /// <summary>Layers stored (and built, so every stored weight loads), including any <see cref="SkipLastLayers"/>.</summary>
    public int Layers { get; init; } = 12;
    public int Heads { get; init; } = 12;
    public int IntermediateSize { get; init; } = 3072;
    /// <summary>OpenAI's CLIP uses quick-GELU; OpenCLIP towers use exact GELU.</summary>
    public bool QuickGelu { get; init; } = true;
    public TextEncoderLayout Layout { get; init; } = TextEncoderLayout.HuggingFace;
    /// <summary>
    /// Layers not run at the end: the conditioning is the output of the layer before them, then the final layer
    /// norm. 0 for SD 1.x (last layer); 1 for SD 2.x single files (LDM's <c>layer: "penultimate"</c>). Diffusers
    /// folders of SD 2.x store the tower with its last layer already removed (23 of 24) and use 0.
    /// </summary>
    public int SkipLastLayers { get; init; }

    /// <summary>
    /// Checks what the prompt path relies on: every id of the CLIP vocabulary (49,408) has an embedding, and the
    /// 77 positions of a chunk have position embeddings; heads divide the width.
    /// </summary>
    /// <exception cref="RedraftInputException">A tower too small for CLIP's tokens or chunks, or inconsistent.</exception>
    public void Validate()
    {
        if (VocabSize < ClipVitL14.VocabSize)
            throw new RedraftInputException($"the text encoder has {VocabSize} token embeddings; CLIP's vocabulary needs {ClipVitL14.VocabSize}.");
        if (MaxPositions < ClipVitL14.MaxPositions)
            throw new RedraftInputException($"the text encoder has {MaxPositions} position embeddings; a prompt chunk needs {ClipVitL14.MaxPositions}.");
        if (Width <= 0 || Heads <= 0 || Width % Heads != 0 || Layers <= SkipLastLayers || IntermediateSize <= 0)
            throw new RedraftInputException(
                $"the text encoder's sizes are inconsistent (width {Width}, heads {Heads}, layers {Layers}, MLP {IntermediateSize}).");
    }

    /// <summary>CLIP ViT-L/14's text tower, SD 1.x's conditioner.</summary>
    public static TextEncoderConfig ClipVitL14 { get; } = new();

    /// <summary>OpenCLIP ViT-H/14's text tower as SD 2.x single files store it, used through its penultimate layer.</summary>
    public static TextEncoderConfig OpenClipVitH14 { get; } = new()
    {
        Width = 1024,
        Layers = 24,
        Heads = 16,
        IntermediateSize = 4096,
        QuickGelu = false,
        Layout = TextEncoderLayout.OpenClip,
        SkipLastLayers = 1,
    };
}
