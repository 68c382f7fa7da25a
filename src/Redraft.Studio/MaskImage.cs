namespace Redraft.Studio;

/// <summary>
/// An 8-bit single-channel mask, one byte per pixel, row-major. What white (255) means depends on where
/// the mask is used, and follows the usual tools:
/// <list type="bullet">
/// <item>a <b>layer mask</b> (<see cref="Layer.Mask"/>) is a visibility mask as in image editors:
/// 255 = the layer's pixel is kept, 0 = hidden, values between scale the layer's alpha;</item>
/// <item>an <b>operation mask</b> (erase here; generation masks, as AUTOMATIC1111's) marks where the
/// operation acts: 255 = erase/regenerate fully, 0 = leave alone.</item>
/// </list>
/// </summary>
public sealed class MaskImage
{
    /// <summary>Creates a mask over an existing buffer of exactly <c>width * height</c> bytes (not copied).</summary>
    public MaskImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.LongLength != (long)width * height)
            throw new ArgumentException(
                $"A {width}x{height} mask needs {(long)width * height} bytes, got {pixels.LongLength}.", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>One byte per pixel, row-major.</summary>
    public byte[] Pixels { get; }

    /// <summary>A mask of one value.</summary>
    public static MaskImage Filled(int width, int height, byte value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        var pixels = new byte[checked(width * height)];
        Array.Fill(pixels, value);
        return new MaskImage(width, height, pixels);
    }

    /// <summary>
    /// A <paramref name="width"/> x <paramref name="height"/> mask that is 255 inside <paramref name="region"/>
    /// and 0 elsewhere.
    /// </summary>
    /// <exception cref="StudioInputException">The region is not entirely inside the mask.</exception>
    public static MaskImage FromRegion(int width, int height, Region region)
    {
        region.EnsureInside(width, height);
        var mask = Filled(width, height, 0);
        for (int y = region.Y; y < region.Y + region.Height; y++)
            Array.Fill(mask.Pixels, (byte)255, y * width + region.X, region.Width);
        return mask;
    }

    /// <summary>
    /// Derives a mask from an RGBA image: the luminance (ITU-R 601 weights, as Pillow's <c>convert("L")</c>)
    /// multiplied by alpha, i.e. the image composited over black. So white strokes on black, or on a
    /// transparent background, both give "white where painted".
    /// </summary>
    public static MaskImage FromRgba(RgbaImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var src = image.Pixels;
        var dst = new byte[(long)image.Width * image.Height];
        for (int s = 0, d = 0; d < dst.Length; s += 4, d++)
        {
            int luma = (src[s] * 299 + src[s + 1] * 587 + src[s + 2] * 114 + 500) / 1000;
            dst[d] = (byte)((luma * src[s + 3] + 127) / 255);
        }
        return new MaskImage(image.Width, image.Height, dst);
    }

    /// <summary>Loads an image file (any format <see cref="StudioPng.LoadRgba"/> reads) as a mask (see <see cref="FromRgba"/>).</summary>
    /// <exception cref="StudioInputException">The file is missing or not a readable image.</exception>
    public static MaskImage Load(string path) => FromRgba(StudioPng.LoadRgba(path));

    /// <summary>The value at column <paramref name="x"/>, row <paramref name="y"/>.</summary>
    public byte this[int x, int y]
    {
        get
        {
            if ((uint)x >= (uint)Width) throw new ArgumentOutOfRangeException(nameof(x));
            if ((uint)y >= (uint)Height) throw new ArgumentOutOfRangeException(nameof(y));
            return Pixels[y * Width + x];
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"MaskImage {Width}x{Height}";
}
