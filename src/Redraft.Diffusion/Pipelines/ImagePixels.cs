namespace Redraft.Diffusion.Pipelines;

/// <summary>An 8-bit RGB image as the engine takes and gives it: row-major, 3 bytes per pixel, no alpha.</summary>
public sealed record ImagePixels(int Width, int Height, byte[] Rgb)
{
    /// <summary>Checks that the buffer holds exactly Width × Height pixels.</summary>
    public void Validate()
    {
        if (Width <= 0 || Height <= 0 || Rgb.Length != (long)Width * Height * 3)
            throw new RedraftInputException($"image buffer of {Rgb.Length} bytes does not match {Width}x{Height} RGB.");
    }
}
