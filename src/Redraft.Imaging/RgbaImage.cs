namespace Redraft.Imaging;

/// <summary>
/// An 8-bit RGBA image with straight (not premultiplied) alpha: <see cref="Pixels"/> holds 4 bytes per
/// pixel (R, G, B, A), rows top to bottom, no row padding. Alpha 0 is fully transparent, 255 opaque.
/// </summary>
/// <remarks>The pixel array is not copied on construction; treat it as read-only once shared.</remarks>
public sealed class RgbaImage
{
    /// <summary>Creates an image over an existing buffer of exactly <c>width * height * 4</c> bytes (not copied).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Width or height is less than 1.</exception>
    /// <exception cref="ArgumentException">The buffer has the wrong length.</exception>
    public RgbaImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentNullException.ThrowIfNull(pixels);
        long expected = (long)width * height * 4;
        if (pixels.LongLength != expected)
            throw new ArgumentException(
                $"A {width}x{height} RGBA image needs {expected} bytes, got {pixels.LongLength}.", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>RGBA bytes, straight alpha, 4 per pixel, row-major.</summary>
    public byte[] Pixels { get; }

    /// <summary>An image of one colour.</summary>
    public static RgbaImage Filled(int width, int height, byte r, byte g, byte b, byte a = 255)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        var pixels = new byte[checked(width * height * 4)];
        for (int i = 0; i < pixels.Length; i += 4)
        {
            pixels[i] = r;
            pixels[i + 1] = g;
            pixels[i + 2] = b;
            pixels[i + 3] = a;
        }
        return new RgbaImage(width, height, pixels);
    }

    /// <summary>An opaque copy of an RGB image.</summary>
    public static RgbaImage FromRgb(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var src = image.Pixels;
        var dst = new byte[(long)image.Width * image.Height * 4];
        for (int s = 0, d = 0; s < src.Length; s += 3, d += 4)
        {
            dst[d] = src[s];
            dst[d + 1] = src[s + 1];
            dst[d + 2] = src[s + 2];
            dst[d + 3] = 255;
        }
        return new RgbaImage(image.Width, image.Height, dst);
    }

    /// <summary>
    /// This image composited over an opaque background colour (white by default, as
    /// <see cref="ImageFiles.Load"/> does), rounding to nearest.
    /// </summary>
    public RgbImage ToRgb(byte backgroundR = 255, byte backgroundG = 255, byte backgroundB = 255)
    {
        var dst = new byte[(long)Width * Height * 3];
        for (int s = 0, d = 0; s < Pixels.Length; s += 4, d += 3)
        {
            int a = Pixels[s + 3], ia = 255 - a;
            dst[d] = (byte)((Pixels[s] * a + backgroundR * ia + 127) / 255);
            dst[d + 1] = (byte)((Pixels[s + 1] * a + backgroundG * ia + 127) / 255);
            dst[d + 2] = (byte)((Pixels[s + 2] * a + backgroundB * ia + 127) / 255);
        }
        return new RgbImage(Width, Height, dst);
    }

    /// <summary>True when every pixel's alpha is 255.</summary>
    public bool IsOpaque
    {
        get
        {
            for (int i = 3; i < Pixels.Length; i += 4)
                if (Pixels[i] != 255) return false;
            return true;
        }
    }

    /// <summary>The pixel at column <paramref name="x"/>, row <paramref name="y"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The coordinates are outside the image.</exception>
    public (byte R, byte G, byte B, byte A) GetPixel(int x, int y)
    {
        if ((uint)x >= (uint)Width) throw new ArgumentOutOfRangeException(nameof(x));
        if ((uint)y >= (uint)Height) throw new ArgumentOutOfRangeException(nameof(y));
        int i = (y * Width + x) * 4;
        return (Pixels[i], Pixels[i + 1], Pixels[i + 2], Pixels[i + 3]);
    }

    /// <inheritdoc/>
    public override string ToString() => $"RgbaImage {Width}x{Height}";
}
