namespace Redraft.Diffusion.Pipelines;

/// <summary>A grayscale mask, row-major, one byte per pixel: 255 = regenerate, 0 = keep (A1111's convention).</summary>
public sealed record MaskPixels(int Width, int Height, byte[] Values)
{
    public void Validate()
    {
        if (Width <= 0 || Height <= 0 || Values.Length != (long)Width * Height)
            throw new RedraftInputException($"mask buffer of {Values.Length} bytes does not match {Width}x{Height}.");
    }
}

/// <summary>Where inpainting regenerates: the whole picture, or only the mask's bounding box at full working resolution.</summary>
public enum InpaintArea { Whole, Masked }

/// <summary>What the masked region starts from (A1111's "Masked content").</summary>
public enum MaskedContent
{
    /// <summary>The init image as it is.</summary>
    Original,
    /// <summary>The masked pixels replaced by a blur of their surroundings before encoding.</summary>
    Fill,
    /// <summary>The masked latents replaced by fresh noise from the image's generator.</summary>
    LatentNoise,
}

/// <summary>Inpainting settings of a request (A1111's names and defaults).</summary>
public sealed record InpaintOptions
{
    public required MaskPixels Mask { get; init; }
    /// <summary>Gaussian blur of the mask, in pixels (standard deviation, as PIL's GaussianBlur radius).</summary>
    public int MaskBlur { get; init; } = 4;
    public InpaintArea Area { get; init; } = InpaintArea.Whole;
    /// <summary>Pixels added around the mask's bounding box with <see cref="InpaintArea.Masked"/>.</summary>
    public int Padding { get; init; } = 32;
    public MaskedContent Content { get; init; } = MaskedContent.Original;
}
