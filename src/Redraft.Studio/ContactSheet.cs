using Redraft.Imaging;
using SkiaSharp;

namespace Redraft.Studio;

/// <summary>A grid of variations, each labelled "seed N" underneath (DejaVu Sans, shipped in the Studio assembly).</summary>
public static class ContactSheet
{
    private const int Gap = 8;

    /// <summary>Writes the sheet of <paramref name="images"/> labelled with <paramref name="seeds"/> to a PNG file (atomically).</summary>
    public static void Save(string path, IReadOnlyList<RgbImage> images, IReadOnlyList<long> seeds)
    {
        ImageFiles.SavePng(path, Build(images, seeds));
    }

    /// <summary>The sheet as an image: a near-square grid, one cell per image, its seed underneath.</summary>
    public static RgbImage Build(IReadOnlyList<RgbImage> images, IReadOnlyList<long> seeds)
    {
        int n = images.Count;
        int columns = (int)Math.Ceiling(Math.Sqrt(n));
        int rows = (n + columns - 1) / columns;
        int cellW = images.Max(i => i.Width), cellH = images.Max(i => i.Height);
        using var typeface = StudioFonts.LoadSans();
        float textSize = Math.Clamp(cellW / 8f, 10f, 24f);
        using var font = new SKFont(typeface, textSize);
        int labelH = (int)Math.Ceiling(textSize * 1.5f);
        int width = Gap + columns * (cellW + Gap), height = Gap + rows * (cellH + labelH + Gap);

        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        for (int i = 0; i < n; i++)
        {
            int x = Gap + i % columns * (cellW + Gap), y = Gap + i / columns * (cellH + labelH + Gap);
            using (var bitmap = ToBitmap(images[i]))
            using (var image = SKImage.FromBitmap(bitmap))
                canvas.DrawImage(image, x, y, new SKSamplingOptions(SKFilterMode.Nearest));
            string label = $"seed {seeds[i].ToString(System.Globalization.CultureInfo.InvariantCulture)}";
            canvas.DrawText(label, x + cellW / 2f, y + cellH + textSize * 1.15f, SKTextAlign.Center, font, paint);
        }
        using var snapshot = surface.Snapshot();
        using var raster = SKBitmap.FromImage(snapshot);
        var pixels = new byte[width * height * 3];
        for (int yy = 0; yy < height; yy++)
            for (int xx = 0; xx < width; xx++)
            {
                var c = raster.GetPixel(xx, yy);
                int o = (yy * width + xx) * 3;
                pixels[o] = c.Red; pixels[o + 1] = c.Green; pixels[o + 2] = c.Blue;
            }
        return new RgbImage(width, height, pixels);
    }

    private static SKBitmap ToBitmap(RgbImage image)
    {
        var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
            {
                var (r, g, b) = image.GetPixel(x, y);
                bitmap.SetPixel(x, y, new SKColor(r, g, b));
            }
        return bitmap;
    }
}
