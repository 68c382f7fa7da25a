using Redraft.Imaging;

namespace Redraft.Studio.Generation;

/// <summary>
/// The pixels a generation starts from. Without an <see cref="Init"/> image it is text-to-image. With one it is
/// image-to-image; an init image of another size than the working size is stretched to it ("just resize", A1111's
/// resize mode 0), except with <c>InpaintArea = masked</c>, where the init keeps its size, only the mask's box is
/// regenerated at the working size, and the result has the init's size (as A1111's "only masked").
/// </summary>
/// <param name="Init">The image to redraw, or null for text-to-image.</param>
/// <param name="Mask">
/// Operation mask (white = regenerate, see <see cref="MaskImage.FromOperationImage"/>); resized to the init image's
/// size when it differs.
/// </param>
public sealed record GenerationInputs(RgbImage? Init = null, MaskImage? Mask = null);
