using Redraft.Imaging;
using SkiaSharp;

namespace Redraft.Studio;

/// <summary>
/// RGBA and grayscale image files for the studio (straight alpha kept, unlike
/// <see cref="ImageFiles.Load"/>, which flattens onto white).
/// </summary>
public static class StudioPng
{
    /// <summary>
    /// Decodes an image file in any format SkiaSharp reads (PNG, JPEG, WebP, GIF, BMP) to straight-alpha RGBA,
    /// applying the EXIF orientation. Size limits are those of <see cref="ImageFiles"/>.
    /// </summary>
    /// <exception cref="StudioInputException">Missing, unreadable, not an image, corrupt or too large.</exception>
    public static RgbaImage LoadRgba(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StudioInputException($"{path}: file not found.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StudioInputException($"{path}: cannot read file ({ex.Message}).", ex);
        }
        return Decode(bytes, path);
    }

    /// <summary>Decodes image bytes (see <see cref="LoadRgba"/>); <paramref name="name"/> starts error messages.</summary>
    /// <exception cref="StudioInputException">Not an image, corrupt or too large.</exception>
    public static RgbaImage Decode(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length == 0)
            throw new StudioInputException($"{name}: empty file (0 bytes), not an image.");
        using var data = SKData.CreateCopy(bytes);
        using SKCodec? codec = SKCodec.Create(data);
        if (codec is null)
            throw new StudioInputException($"{name}: not an image SkiaSharp can decode (PNG, JPEG, WebP, GIF, BMP).");
        int width = codec.Info.Width, height = codec.Info.Height;
        if (width < 1 || height < 1)
            throw new StudioInputException($"{name}: image has no pixels ({width}x{height}).");
        if (width > ImageFiles.MaxSide || height > ImageFiles.MaxSide || (long)width * height > ImageFiles.MaxPixels)
            throw new StudioInputException(
                $"{name}: image is {width}x{height}; the limit is {ImageFiles.MaxSide} pixels per side and {ImageFiles.MaxPixels / (1024 * 1024)} megapixels.");
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[(long)width * height * 4];
        SKCodecResult result = codec.GetPixels(info, rgba);
        if (result != SKCodecResult.Success)
            throw new StudioInputException(result == SKCodecResult.IncompleteInput
                ? $"{name}: truncated image (the file ends before the pixel data does)."
                : $"{name}: corrupt image data ({result}).");
        return Orient(new RgbaImage(width, height, rgba), codec.EncodedOrigin);
    }

    /// <summary>Encodes straight-alpha RGBA as a PNG (8 bits per channel; colour under alpha 0 is kept).</summary>
    public static byte[] Encode(RgbaImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        return EncodeRaw(info, image.Pixels, image.Width * 4);
    }

    /// <summary>Encodes a mask as an 8-bit grayscale PNG.</summary>
    public static byte[] Encode(MaskImage mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        var info = new SKImageInfo(mask.Width, mask.Height, SKColorType.Gray8, SKAlphaType.Opaque);
        return EncodeRaw(info, mask.Pixels, mask.Width);
    }

    /// <summary>Writes <paramref name="image"/> as a PNG, atomically (temporary file + rename).</summary>
    public static void SavePng(string path, RgbaImage image) => AtomicFile.WriteAllBytes(path, Encode(image));

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

    /// <summary>Turns the stored pixels upright according to an EXIF orientation.</summary>
    private static RgbaImage Orient(RgbaImage image, SKEncodedOrigin origin)
    {
        var (pixels, width, height) = ImageOrientation.Apply(image.Pixels, image.Width, image.Height, 4, origin);
        return ReferenceEquals(pixels, image.Pixels) ? image : new RgbaImage(width, height, pixels);
    }
}
