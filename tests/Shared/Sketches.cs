using Redraft.Imaging;

namespace Redraft;

/// <summary>
/// Crude sketches for the canvas's tests and benchmark: a white canvas with coloured blocks, the same pixels for the
/// same seed, as a PNG.
/// </summary>
internal static class Sketches
{
    public static byte[] Png(int width, int height, int seed, int blocks = 4)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height * 4];
        Array.Fill(pixels, (byte)255);
        for (int block = 0; block < blocks; block++)
        {
            int x0 = random.Next(width / 2), y0 = random.Next(height / 2), w = random.Next(4, width / 2), h = random.Next(4, height / 2);
            byte r = (byte)random.Next(256), g = (byte)random.Next(256), b = (byte)random.Next(256);
            for (int y = y0; y < Math.Min(height, y0 + h); y++)
                for (int x = x0; x < Math.Min(width, x0 + w); x++)
                {
                    int i = (y * width + x) * 4;
                    (pixels[i], pixels[i + 1], pixels[i + 2]) = (r, g, b);
                }
        }
        return ImageFiles.EncodePng(new RgbaImage(width, height, pixels));
    }
}
