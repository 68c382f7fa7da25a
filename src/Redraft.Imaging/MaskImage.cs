namespace Redraft.Imaging;

/// <summary>
/// An 8-bit single-channel mask, one byte per pixel, row-major. What white (255) means depends on where
/// the mask is used, and follows the usual tools:
/// <list type="bullet">
/// <item>a <b>layer mask</b> (a document layer's mask) is a visibility mask as in image editors:
/// 255 = the layer's pixel is kept, 0 = hidden, values between scale the layer's alpha;</item>
/// <item>an <b>operation mask</b> (erase, inpainting, as AUTOMATIC1111's) marks where the
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
    /// <exception cref="ImageInputException">The region is not entirely inside the mask.</exception>
    public static MaskImage FromRegion(int width, int height, Region region)
    {
        region.EnsureInside(width, height);
        var mask = Filled(width, height, 0);
        for (int y = region.Y; y < region.Y + region.Height; y++)
            Array.Fill(mask.Pixels, (byte)255, y * width + region.X, region.Width);
        return mask;
    }

    /// <summary>
    /// A <b>layer mask</b> from an RGBA image: the luminance (<see cref="Luminance"/>) multiplied by alpha, i.e. the
    /// image composited over black. So white strokes on black, or on a transparent background, both give "white
    /// where painted" (visible there).
    /// </summary>
    public static MaskImage FromRgba(RgbaImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var src = image.Pixels;
        var dst = new byte[(long)image.Width * image.Height];
        for (int s = 0, d = 0; d < dst.Length; s += 4, d++)
            dst[d] = (byte)((Luminance(src[s], src[s + 1], src[s + 2]) * src[s + 3] + 127) / 255);
        return new MaskImage(image.Width, image.Height, dst);
    }

    /// <summary>
    /// An <b>operation mask</b> (inpaint, erase; white = act here) from an image file's pixels, by AUTOMATIC1111's
    /// rule: an image whose alpha channel is not fully opaque is read from its alpha channel (painted = act), any
    /// other from its luminance. The same file means the same mask on every path (command line, documents, API).
    /// </summary>
    public static MaskImage FromOperationImage(RgbaImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var src = image.Pixels;
        var dst = new byte[(long)image.Width * image.Height];
        if (!image.IsOpaque)
        {
            for (int s = 3, d = 0; d < dst.Length; s += 4, d++) dst[d] = src[s];
        }
        else
        {
            for (int s = 0, d = 0; d < dst.Length; s += 4, d++) dst[d] = Luminance(src[s], src[s + 1], src[s + 2]);
        }
        return new MaskImage(image.Width, image.Height, dst);
    }

    /// <summary>
    /// The one luminance rule of the project: ITU-R 601 weights in Pillow's fixed point (<c>convert("L")</c>), so
    /// grey levels stay exactly what they were and colours match AUTOMATIC1111's masks.
    /// </summary>
    public static byte Luminance(byte r, byte g, byte b) => (byte)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);

    /// <summary>Loads a layer mask from an image file (see <see cref="FromRgba"/>).</summary>
    /// <exception cref="ImageInputException">The file is missing or not a readable image.</exception>
    public static MaskImage Load(string path) => FromRgba(ImageFiles.LoadRgba(path));

    /// <summary>Loads an operation mask from an image file (see <see cref="FromOperationImage"/>).</summary>
    /// <exception cref="ImageInputException">The file is missing or not a readable image.</exception>
    public static MaskImage LoadOperationMask(string path) => FromOperationImage(ImageFiles.LoadRgba(path));

    /// <summary>White where this is black (A1111's "inpaint not masked").</summary>
    public MaskImage Inverted()
    {
        var pixels = new byte[Pixels.Length];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(255 - Pixels[i]);
        return new MaskImage(Width, Height, pixels);
    }

    /// <summary>The mask stretched to <paramref name="width"/> x <paramref name="height"/> with the project's image resampler.</summary>
    public MaskImage Resized(int width, int height)
    {
        if (width == Width && height == Height) return new MaskImage(width, height, (byte[])Pixels.Clone());
        var grey = new byte[Pixels.Length * 3];
        for (int i = 0; i < Pixels.Length; i++) grey[i * 3] = grey[i * 3 + 1] = grey[i * 3 + 2] = Pixels[i];
        var resized = ImageFiles.Resize(new RgbImage(Width, Height, grey), width, height);
        var values = new byte[width * height];
        for (int i = 0; i < values.Length; i++) values[i] = resized.Pixels[i * 3];
        return new MaskImage(width, height, values);
    }

    /// <summary>The smallest rectangle holding every non-zero value, or null for an all-black mask.</summary>
    public Region? Bounds()
    {
        int minX = Width, minY = Height, maxX = -1, maxY = -1;
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < Width; x++)
                if (Pixels[y * Width + x] != 0)
                {
                    minX = Math.Min(minX, x); maxX = Math.Max(maxX, x);
                    minY = Math.Min(minY, y); maxY = Math.Max(maxY, y);
                }
        return maxX < 0 ? null : new Region(minX, minY, maxX - minX + 1, maxY - minY + 1);
    }

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
