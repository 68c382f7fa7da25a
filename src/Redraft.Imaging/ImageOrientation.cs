using SkiaSharp;

namespace Redraft.Imaging;

/// <summary>EXIF orientation for interleaved 8-bit pixels of any channel count (RGB, RGBA, gray).</summary>
public static class ImageOrientation
{
    /// <summary>
    /// Turns stored pixels upright according to an EXIF orientation; returns the same array when nothing changes.
    /// </summary>
    public static (byte[] Pixels, int Width, int Height) Apply(byte[] pixels, int width, int height, int channels, SKEncodedOrigin origin)
    {
        if (origin is SKEncodedOrigin.TopLeft || (int)origin is < 1 or > 8)
            return (pixels, width, height);
        int w = width, h = height;
        bool swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop
            or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        int outW = swap ? h : w;
        var dst = new byte[pixels.Length];
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                var (dx, dy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (w - 1 - x, y),            // mirror horizontally
                    SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y), // rotate 180
                    SKEncodedOrigin.BottomLeft => (x, h - 1 - y),          // mirror vertically
                    SKEncodedOrigin.LeftTop => (y, x),                     // transpose
                    SKEncodedOrigin.RightTop => (h - 1 - y, x),            // rotate 90 clockwise
                    SKEncodedOrigin.RightBottom => (h - 1 - y, w - 1 - x), // transverse
                    _ => (y, w - 1 - x),                                   // LeftBottom: rotate 90 counter-clockwise
                };
                Array.Copy(pixels, (y * w + x) * channels, dst, (dy * outW + dx) * channels, channels);
            }
        }
        return (dst, outW, swap ? w : h);
    }
}
