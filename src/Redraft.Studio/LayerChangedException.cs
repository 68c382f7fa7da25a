namespace Redraft.Studio;

/// <summary>
/// An edit drawn over one image of a layer arrived after another edit had changed that layer (two strokes, two
/// pages, the CLI): checked when the edit commits, under the document's lock, so nothing is painted over pixels the
/// client never saw. The client fetches the layer again and re-applies its edit; the document is unchanged.
/// </summary>
public sealed class LayerChangedException(string layerId, string expectedImage, string actualImage)
    : StudioInputException($"layer {layerId} is no longer image {expectedImage} (another edit changed it to {actualImage}); fetch the layer again and repaint.")
{
    /// <summary>The layer.</summary>
    public string LayerId { get; } = layerId;

    /// <summary>The image the edit was drawn over.</summary>
    public string ExpectedImage { get; } = expectedImage;

    /// <summary>The layer's image when the edit came to commit.</summary>
    public string ActualImage { get; } = actualImage;
}
