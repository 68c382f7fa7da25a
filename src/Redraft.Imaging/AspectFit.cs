namespace Redraft.Imaging;

/// <summary>
/// Bringing an image of another shape to a size while keeping its aspect ratio, as AUTOMATIC1111's img2img resize
/// modes do (<c>modules/images.py</c>, <c>resize_image</c>): <see cref="Crop(RgbImage, int, int)"/> ("crop and resize", mode 1) scales the
/// image to cover the size and cuts the centre out; <see cref="Fill(RgbImage, int, int)"/> ("resize and fill", mode 2) scales it to fit,
/// centres it and fills the two bars by stretching the image's outermost rows or columns. The scaling is
/// <see cref="ImageFiles.Resize"/> (A1111's Lanczos; see there); the geometry is A1111's to the pixel, integer
/// divisions included.
/// </summary>
public static class AspectFit
{
    /// <summary>Scales <paramref name="image"/> to cover <paramref name="width"/> × <paramref name="height"/> and keeps the centre.</summary>
    public static RgbImage Crop(RgbImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        double ratio = (double)width / height, source = (double)image.Width / image.Height;
        // The side that is short for the target's shape is scaled to the target; the other keeps the aspect ratio.
        int w = ratio > source ? width : Scaled(image.Width, height, image.Height);
        int h = ratio <= source ? height : Scaled(image.Height, width, image.Width);
        var scaled = ImageFiles.Resize(image, w, h);
        var result = new byte[(long)width * height * 3];
        Paste(result, width, height, scaled, width / 2 - w / 2, height / 2 - h / 2);
        return new RgbImage(width, height, result);
    }

    /// <summary>
    /// Scales <paramref name="image"/> to fit <paramref name="width"/> × <paramref name="height"/>, centres it and fills
    /// the bars above and below (or left and right) with its edge rows (columns) stretched.
    /// </summary>
    /// <remarks>
    /// A1111 makes each bar with Pillow's Lanczos resize of a zero-height box on the image's edge; Pillow then weighs
    /// the three rows nearest the edge with the Lanczos kernel at 0.5, 1.5 and 2.5 pixels (about 1.22, −0.27 and
    /// 0.05), in its 22-bit fixed point. <see cref="EdgeBar"/> computes the same numbers, so a bar is A1111's bar of
    /// the scaled image to the byte.
    /// </remarks>
    public static RgbImage Fill(RgbImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        double ratio = (double)width / height, source = (double)image.Width / image.Height;
        int w = ratio < source ? width : Scaled(image.Width, height, image.Height);
        int h = ratio >= source ? height : Scaled(image.Height, width, image.Width);
        var scaled = ImageFiles.Resize(image, w, h);
        var result = new byte[(long)width * height * 3];
        Paste(result, width, height, scaled, width / 2 - w / 2, height / 2 - h / 2);
        if (ratio < source)
        {
            int bar = height / 2 - h / 2;
            if (bar > 0)
            {
                // A column of the transposed image is a row of the image.
                var transposed = Transposed(scaled);
                var top = EdgeBar(transposed, edge: 0);
                var bottom = EdgeBar(transposed, edge: scaled.Height);
                PasteRows(result, width, height, top, 0, bar);
                PasteRows(result, width, height, bottom, bar + h, bar);
            }
        }
        else if (ratio > source)
        {
            int bar = width / 2 - w / 2;
            if (bar > 0)
            {
                var left = EdgeBar(scaled, edge: 0);
                var right = EdgeBar(scaled, edge: scaled.Width);
                PasteColumns(result, width, height, left, 0, bar);
                PasteColumns(result, width, height, right, bar + w, bar);
            }
        }
        return new RgbImage(width, height, result);
    }

    /// <summary><see cref="Crop(RgbImage, int, int)"/> for a mask (A1111 resizes a mask with the init image's mode).</summary>
    public static MaskImage Crop(MaskImage mask, int width, int height) => FromGrey(Crop(Grey(mask), width, height));

    /// <summary><see cref="Fill(RgbImage, int, int)"/> for a mask.</summary>
    public static MaskImage Fill(MaskImage mask, int width, int height) => FromGrey(Fill(Grey(mask), width, height));

    /// <summary>Python's <c>a * b // c</c> for positive sizes, at least 1 (Pillow cannot make an empty image).</summary>
    private static int Scaled(int a, int b, int c) => (int)Math.Max(1, (long)a * b / c);

    /// <summary>
    /// The one column a zero-width Pillow Lanczos box at x = <paramref name="edge"/> (0 = left edge, the width = right
    /// edge) gives, as RGB per row: every column of the bar is this column.
    /// </summary>
    private static byte[] EdgeBar(RgbImage image, int edge)
    {
        var (first, weights) = EdgeWeights(edge, image.Width);
        var column = new byte[image.Height * 3];
        for (int y = 0; y < image.Height; y++)
            for (int c = 0; c < 3; c++)
            {
                // Pillow's 8-bit resampling: start at one half, add the fixed-point products, shift, clamp.
                long sum = 1L << (PrecisionBits - 1);
                for (int k = 0; k < weights.Length; k++)
                    sum += image.Pixels[((long)y * image.Width + first + k) * 3 + c] * (long)weights[k];
                column[y * 3 + c] = (byte)Math.Clamp(sum >> PrecisionBits, 0, 255);
            }
        return column;
    }

    /// <summary>Pillow's bits of fixed-point precision for 8-bit images.</summary>
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>
    /// Pillow's Lanczos coefficients (support 3) for an output sample centred at <paramref name="center"/> when the box
    /// has no extent (its scale is 0, so the filter is not widened): the first input sample used and the normalised
    /// weights in fixed point, rounded half away from zero as Pillow does.
    /// </summary>
    private static (int First, int[] Weights) EdgeWeights(double center, int size)
    {
        const double support = 3;
        int min = Math.Max(0, (int)(center - support + 0.5));
        int max = Math.Min(size, (int)(center + support + 0.5));
        var raw = new double[max - min];
        double total = 0;
        for (int x = 0; x < raw.Length; x++) total += raw[x] = Lanczos(x + min - center + 0.5);
        var weights = new int[raw.Length];
        for (int x = 0; x < raw.Length; x++)
        {
            double k = total != 0 ? raw[x] / total : raw[x];
            weights[x] = (int)(k < 0 ? -0.5 + k * (1 << PrecisionBits) : 0.5 + k * (1 << PrecisionBits));
        }
        return (min, weights);
    }

    private static double Lanczos(double x) => x is >= -3 and < 3 ? Sinc(x) * Sinc(x / 3) : 0;

    private static double Sinc(double x) => x == 0 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);

    /// <summary>Copies <paramref name="image"/> into <paramref name="target"/> at (<paramref name="left"/>, <paramref name="top"/>), clipped.</summary>
    private static void Paste(byte[] target, int width, int height, RgbImage image, int left, int top)
    {
        int x0 = Math.Max(0, left), x1 = Math.Min(width, left + image.Width);
        if (x1 <= x0) return;
        for (int y = Math.Max(0, top); y < Math.Min(height, top + image.Height); y++)
            Array.Copy(image.Pixels, ((long)(y - top) * image.Width + (x0 - left)) * 3, target, ((long)y * width + x0) * 3, (x1 - x0) * 3L);
    }

    /// <summary>Fills rows <paramref name="top"/> to top + <paramref name="count"/> (clipped) with <paramref name="row"/>.</summary>
    private static void PasteRows(byte[] target, int width, int height, byte[] row, int top, int count)
    {
        for (int y = Math.Max(0, top); y < Math.Min(height, top + count); y++)
            Array.Copy(row, 0, target, (long)y * width * 3, width * 3L);
    }

    /// <summary>Fills columns <paramref name="left"/> to left + <paramref name="count"/> (clipped) with <paramref name="column"/>.</summary>
    private static void PasteColumns(byte[] target, int width, int height, byte[] column, int left, int count)
    {
        for (int y = 0; y < height; y++)
            for (int x = Math.Max(0, left); x < Math.Min(width, left + count); x++)
                Array.Copy(column, y * 3, target, ((long)y * width + x) * 3, 3);
    }

    /// <summary>The image transposed (rows become columns), so one edge filter serves both directions.</summary>
    private static RgbImage Transposed(RgbImage image)
    {
        var pixels = new byte[image.Pixels.Length];
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
                Array.Copy(image.Pixels, ((long)y * image.Width + x) * 3, pixels, ((long)x * image.Height + y) * 3, 3);
        return new RgbImage(image.Height, image.Width, pixels);
    }

    private static RgbImage Grey(MaskImage mask)
    {
        var grey = new byte[mask.Pixels.Length * 3];
        for (int i = 0; i < mask.Pixels.Length; i++) grey[i * 3] = grey[i * 3 + 1] = grey[i * 3 + 2] = mask.Pixels[i];
        return new RgbImage(mask.Width, mask.Height, grey);
    }

    private static MaskImage FromGrey(RgbImage image)
    {
        var values = new byte[image.Width * image.Height];
        for (int i = 0; i < values.Length; i++) values[i] = image.Pixels[i * 3];
        return new MaskImage(image.Width, image.Height, values);
    }
}
