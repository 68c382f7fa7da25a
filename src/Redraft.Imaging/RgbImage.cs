namespace Redraft.Imaging;

/// <summary>
/// An 8-bit RGB image without alpha: <see cref="Pixels"/> holds 3 bytes per pixel (R, G, B),
/// rows top to bottom, pixels left to right, no row padding.
/// </summary>
/// <remarks>
/// Width and height never change. The pixel array is not copied on construction and is exposed
/// as-is for speed; treat it as read-only once the image is shared.
/// </remarks>
public sealed class RgbImage
{
    /// <summary>Creates an image over an existing pixel buffer (not copied).</summary>
    /// <param name="width">Width in pixels, at least 1.</param>
    /// <param name="height">Height in pixels, at least 1.</param>
    /// <param name="pixels">Exactly <c>width * height * 3</c> bytes, RGB, row-major.</param>
    /// <exception cref="ArgumentOutOfRangeException">Width or height is less than 1.</exception>
    /// <exception cref="ArgumentException">The buffer has the wrong length.</exception>
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentNullException.ThrowIfNull(pixels);
        long expected = (long)width * height * 3;
        if (pixels.LongLength != expected)
            throw new ArgumentException(
                $"A {width}x{height} RGB image needs {expected} bytes, got {pixels.LongLength}.", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>Creates an image of the given size filled with one colour.</summary>
    public static RgbImage Filled(int width, int height, byte r, byte g, byte b)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        var pixels = new byte[checked(width * height * 3)];
        for (int i = 0; i < pixels.Length; i += 3)
        {
            pixels[i] = r;
            pixels[i + 1] = g;
            pixels[i + 2] = b;
        }
        return new RgbImage(width, height, pixels);
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>RGB bytes, 3 per pixel, row-major, <c>Width * Height * 3</c> long.</summary>
    public byte[] Pixels { get; }

    /// <summary>The colour of the pixel at column <paramref name="x"/>, row <paramref name="y"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The coordinates are outside the image.</exception>
    public (byte R, byte G, byte B) GetPixel(int x, int y)
    {
        if ((uint)x >= (uint)Width) throw new ArgumentOutOfRangeException(nameof(x));
        if ((uint)y >= (uint)Height) throw new ArgumentOutOfRangeException(nameof(y));
        int i = (y * Width + x) * 3;
        return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
    }

    /// <inheritdoc/>
    public override string ToString() => $"RgbImage {Width}x{Height}";
}
