using SkiaSharp;

namespace Redraft.Imaging;

/// <summary>
/// Reading, resizing and writing image files with SkiaSharp, plus PNG text metadata
/// (the <c>parameters</c> chunk AUTOMATIC1111 and compatible tools read).
/// </summary>
public static class ImageFiles
{
    /// <summary>Largest accepted width or height when loading, in pixels.</summary>
    public const int MaxSide = 16384;

    /// <summary>Largest accepted pixel count when loading (64 megapixels).</summary>
    public const long MaxPixels = 64L * 1024 * 1024;

    /// <summary>
    /// Largest image file read, in bytes: an uncompressed RGBA file of <see cref="MaxPixels"/> is 256 MiB, so anything
    /// past twice that is not an image Redraft could use (and reading it would only waste time).
    /// </summary>
    public const long MaxFileBytes = 512L * 1024 * 1024;

    /// <summary>
    /// Decodes an image file in any format SkiaSharp reads (PNG, JPEG, WebP, GIF, BMP, ICO…)
    /// into RGB. Only the first frame of animated files is used.
    /// </summary>
    /// <remarks>
    /// <para>Pixels are decoded explicitly as unpremultiplied RGBA (SkiaSharp's default would be
    /// BGRA premultiplied), then any transparency is composited over white, as AUTOMATIC1111 does
    /// for init images (its default img2img background colour is #ffffff).</para>
    /// <para>The EXIF orientation of JPEGs and other formats is applied (AUTOMATIC1111 calls
    /// <c>ImageOps.exif_transpose</c> on init images), so the result is upright. Embedded colour
    /// profiles are ignored, as Pillow does: values are taken as stored.</para>
    /// <para>The dimensions are checked against <see cref="MaxSide"/> and <see cref="MaxPixels"/>
    /// before any pixel memory is allocated.</para>
    /// </remarks>
    /// <exception cref="ImageInputException">
    /// The file is missing or unreadable, is not an image SkiaSharp can decode, is truncated or
    /// corrupt, or is too large. The one-line message starts with the path.
    /// </exception>
    public static RgbImage Load(string path) => LoadRgba(path).ToRgb();

    /// <summary>
    /// Decodes an image file as <see cref="Load"/> does, keeping its transparency: straight-alpha RGBA, EXIF
    /// orientation applied, the same size limits. The one decoder of the project.
    /// </summary>
    /// <exception cref="ImageInputException">Missing, unreadable, not an image, corrupt or too large; the message starts with the path.</exception>
    public static RgbaImage LoadRgba(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using FileStream stream = OpenForReading(path);
        return Decode(stream, path);
    }

    /// <summary>Decodes image bytes (see <see cref="LoadRgba"/>); <paramref name="name"/> starts error messages.</summary>
    /// <exception cref="ImageInputException">Not an image, corrupt or too large.</exception>
    public static RgbaImage DecodeRgba(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        using var stream = new MemoryStream(bytes, writable: false);
        return Decode(stream, name);
    }

    private static RgbaImage Decode(Stream stream, string name)
    {
        if (stream.Length == 0)
            throw new ImageInputException($"{name}: empty file (0 bytes), not an image.");

        using SKCodec? codec = SKCodec.Create(stream, out _);
        if (codec is null)
            throw new ImageInputException(
                $"{name}: not an image SkiaSharp can decode (PNG, JPEG, WebP, GIF, BMP).");

        int width = codec.Info.Width, height = codec.Info.Height;
        if (width < 1 || height < 1)
            throw new ImageInputException($"{name}: image has no pixels ({width}x{height}).");
        if (width > MaxSide || height > MaxSide || (long)width * height > MaxPixels)
            throw new ImageInputException(
                $"{name}: image is {width}x{height}; the limit is {MaxSide} pixels per side and {MaxPixels / (1024 * 1024)} megapixels.");

        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[(long)width * height * 4];
        SKCodecResult result = codec.GetPixels(info, rgba);
        if (result != SKCodecResult.Success)
            throw new ImageInputException(result == SKCodecResult.IncompleteInput
                ? $"{name}: truncated image (the file ends before the pixel data does)."
                : $"{name}: corrupt image data ({result}).");
        var (pixels, w, h) = ImageOrientation.Apply(rgba, width, height, 4, codec.EncodedOrigin);
        return new RgbaImage(w, h, pixels);
    }

    /// <summary>
    /// AUTOMATIC1111's "Just resize": stretches the image to exactly
    /// <paramref name="width"/> x <paramref name="height"/>, ignoring the aspect ratio.
    /// </summary>
    /// <remarks>
    /// AUTOMATIC1111 uses Pillow's Lanczos filter. Skia has no Lanczos sampler, so this uses
    /// Skia's Catmull-Rom cubic (B=0, C=0.5), the cubic closest to Lanczos in sharpness. A cubic
    /// has a fixed 4x4 footprint and would alias when shrinking a lot, so while an axis shrinks by
    /// 2x or more it is first halved with a 2x2 box average (bilinear sampling at exactly half
    /// size), then the cubic does the final step. Always returns a new image.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">A target size is less than 1 or over <see cref="MaxSide"/>.</exception>
    public static RgbImage Resize(RgbImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(width, MaxSide);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(height, MaxSide);

        if (width == image.Width && height == image.Height)
            return new RgbImage(width, height, (byte[])image.Pixels.Clone());

        SKBitmap current = ToBitmap(image);
        try
        {
            var box = new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None);
            while (current.Width >= 2 * width || current.Height >= 2 * height)
            {
                int w = current.Width >= 2 * width ? current.Width / 2 : current.Width;
                int h = current.Height >= 2 * height ? current.Height / 2 : current.Height;
                current = Scale(current, w, h, box);
            }
            if (current.Width != width || current.Height != height)
                current = Scale(current, width, height, new SKSamplingOptions(SKCubicResampler.CatmullRom));
            return FromBitmap(current);
        }
        finally
        {
            current.Dispose();
        }
    }

    /// <summary>
    /// Encodes <paramref name="image"/> as PNG with SkiaSharp and writes it atomically, with
    /// optional text chunks (for example key <c>parameters</c> holding <see cref="GenerationInfo.Format"/>).
    /// </summary>
    /// <remarks>
    /// <para>Text chunks are inserted right after IHDR, in the dictionary's order. As in Pillow
    /// (used by AUTOMATIC1111), a value that fits Latin-1 is written as <c>tEXt</c>, anything else as
    /// an uncompressed UTF-8 <c>iTXt</c>.</para>
    /// <para>The file is written to a temporary file in the same folder, flushed and renamed over
    /// <paramref name="path"/>. On any failure the temporary file is deleted, an existing file at
    /// <paramref name="path"/> is left untouched, and the exception propagates (a missing folder
    /// gives <see cref="DirectoryNotFoundException"/>).</para>
    /// </remarks>
    /// <exception cref="ArgumentException">A keyword is not 1–79 printable Latin-1 characters, or a value contains NUL.</exception>
    /// <exception cref="IOException">The file could not be written.</exception>
    public static void SavePng(string path, RgbImage image, IReadOnlyDictionary<string, string>? textChunks = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.WriteAllBytes(path, EncodePng(image, textChunks));
    }

    /// <summary>The PNG bytes <see cref="SavePng(string, RgbImage, IReadOnlyDictionary{string, string}?)"/> writes, in memory (text chunks as there).</summary>
    /// <exception cref="ArgumentException">A keyword is not 1–79 printable Latin-1 characters, or a value contains NUL.</exception>
    public static byte[] EncodePng(RgbImage image, IReadOnlyDictionary<string, string>? textChunks = null)
    {
        ArgumentNullException.ThrowIfNull(image);

        var chunks = new List<byte[]>();
        if (textChunks is not null)
            foreach (var (key, value) in textChunks)
                chunks.Add(PngChunks.BuildText(key, value));

        byte[] png;
        using (SKBitmap bitmap = ToBitmap(image))
        using (SKData encoded = bitmap.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException("SkiaSharp failed to encode the PNG."))
        {
            png = PngChunks.InsertAfterIhdr(encoded.AsSpan(), chunks);
        }
        return png;
    }

    /// <summary>
    /// Encodes straight-alpha RGBA as a PNG (8 bits per channel; colour under alpha 0 is kept), with optional text
    /// chunks as <see cref="EncodePng(RgbImage, IReadOnlyDictionary{string, string}?)"/> writes them.
    /// </summary>
    public static byte[] EncodePng(RgbaImage image, IReadOnlyDictionary<string, string>? textChunks = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var png = EncodeRaw(info, image.Pixels, image.Width * 4);
        return textChunks is null ? png : PngChunks.InsertAfterIhdr(png, [.. textChunks.Select(c => PngChunks.BuildText(c.Key, c.Value))]);
    }

    /// <summary>Encodes a mask as an 8-bit grayscale PNG.</summary>
    public static byte[] EncodePng(MaskImage mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        var info = new SKImageInfo(mask.Width, mask.Height, SKColorType.Gray8, SKAlphaType.Opaque);
        return EncodeRaw(info, mask.Pixels, mask.Width);
    }

    /// <summary>Writes <paramref name="image"/> as a PNG, atomically (see <see cref="AtomicFile"/>).</summary>
    public static void SavePng(string path, RgbaImage image) => AtomicFile.WriteAllBytes(path, EncodePng(image));

    private static byte[] EncodeRaw(SKImageInfo info, byte[] pixels, int rowBytes)
    {
        using var bitmap = new SKBitmap();
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(pixels, System.Runtime.InteropServices.GCHandleType.Pinned);
        try
        {
            if (!bitmap.InstallPixels(info, handle.AddrOfPinnedObject(), rowBytes))
                throw new InvalidOperationException("SkiaSharp refused the pixel buffer.");
            using SKData encoded = bitmap.Encode(SKEncodedImageFormat.Png, 100)
                ?? throw new InvalidOperationException("SkiaSharp failed to encode the PNG.");
            return encoded.ToArray();
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>
    /// Reads the text metadata of a PNG: all <c>tEXt</c>, <c>zTXt</c> and <c>iTXt</c> chunks
    /// (uncompressed or zlib-compressed), keyword to text, in file order. A repeated keyword
    /// keeps its last value, as Pillow does. A PNG without text gives an empty dictionary.
    /// </summary>
    /// <exception cref="ImageInputException">
    /// The file is missing or unreadable, is not a PNG, or is truncated or corrupt.
    /// </exception>
    public static IReadOnlyDictionary<string, string> ReadPngText(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using FileStream stream = OpenForReading(path);
        try
        {
            return PngChunks.ReadText(stream);
        }
        catch (InvalidDataException ex)
        {
            throw new ImageInputException($"{path}: {ex.Message}.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ImageInputException($"{path}: cannot read file ({ex.Message}).", ex);
        }
    }

    /// <summary>Reads the text metadata of PNG bytes (see <see cref="ReadPngText(string)"/>); <paramref name="name"/> starts error messages.</summary>
    /// <exception cref="ImageInputException">Not a PNG, or truncated or corrupt.</exception>
    public static IReadOnlyDictionary<string, string> ReadPngText(byte[] png, string name)
    {
        ArgumentNullException.ThrowIfNull(png);
        using var stream = new MemoryStream(png, writable: false);
        try
        {
            return PngChunks.ReadText(stream);
        }
        catch (InvalidDataException ex)
        {
            throw new ImageInputException($"{name}: {ex.Message}.", ex);
        }
    }

    private static FileStream OpenForReading(string path)
    {
        if (File.Exists(path)) InputFile.EnsureNotSpecial(path, "image");
        try
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > MaxFileBytes)
            {
                long length = stream.Length;
                stream.Dispose();
                throw new ImageInputException($"{path}: the file is {length / (1024 * 1024)} MiB; image files are limited to {MaxFileBytes / (1024 * 1024)} MiB (is it the right file?).");
            }
            return stream;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageInputException($"{path}: file not found.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ImageInputException($"{path}: cannot read file ({ex.Message}).", ex);
        }
    }

    private static SKBitmap ToBitmap(RgbImage image)
    {
        var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        Span<byte> rgba = bitmap.GetPixelSpan();
        ReadOnlySpan<byte> rgb = image.Pixels;
        int rowBytes = bitmap.RowBytes;
        for (int y = 0; y < image.Height; y++)
        {
            Span<byte> row = rgba.Slice(y * rowBytes, image.Width * 4);
            ReadOnlySpan<byte> srcRow = rgb.Slice(y * image.Width * 3, image.Width * 3);
            for (int x = 0, s = 0, d = 0; x < image.Width; x++, s += 3, d += 4)
            {
                row[d] = srcRow[s];
                row[d + 1] = srcRow[s + 1];
                row[d + 2] = srcRow[s + 2];
                row[d + 3] = 255;
            }
        }
        return bitmap;
    }

    private static RgbImage FromBitmap(SKBitmap bitmap)
    {
        if (bitmap.ColorType != SKColorType.Rgba8888)
            throw new InvalidOperationException($"Expected an RGBA bitmap, got {bitmap.ColorType}.");
        int w = bitmap.Width, h = bitmap.Height, rowBytes = bitmap.RowBytes;
        ReadOnlySpan<byte> rgba = bitmap.GetPixelSpan();
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
        {
            ReadOnlySpan<byte> row = rgba.Slice(y * rowBytes, w * 4);
            for (int x = 0, s = 0, d = y * w * 3; x < w; x++, s += 4, d += 3)
            {
                rgb[d] = row[s];
                rgb[d + 1] = row[s + 1];
                rgb[d + 2] = row[s + 2];
            }
        }
        return new RgbImage(w, h, rgb);
    }

    /// <summary>Scales into a new opaque RGBA bitmap and disposes <paramref name="source"/>.</summary>
    private static SKBitmap Scale(SKBitmap source, int width, int height, SKSamplingOptions sampling)
    {
        var target = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        bool ok = source.ScalePixels(target, sampling);
        source.Dispose();
        if (!ok)
        {
            target.Dispose();
            throw new InvalidOperationException($"SkiaSharp failed to scale to {width}x{height}.");
        }
        return target;
    }
}
