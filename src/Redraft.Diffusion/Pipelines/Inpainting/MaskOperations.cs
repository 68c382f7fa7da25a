using static TorchSharp.torch;

namespace Redraft.Diffusion.Pipelines;

/// <summary>Pixel-level mask work for inpainting: blur, bounding box, crop and paste back.</summary>
internal static class MaskOperations
{
    /// <summary>Separable Gaussian blur (σ = <paramref name="sigma"/> pixels, kernel ±3σ, edges clamped), as PIL's GaussianBlur.</summary>
    public static float[] Blur(MaskPixels mask, int sigma)
    {
        int w = mask.Width, h = mask.Height;
        var values = mask.Values.Select(v => v / 255f).ToArray();
        if (sigma <= 0) return values;
        int radius = 3 * sigma;
        var kernel = Enumerable.Range(-radius, 2 * radius + 1).Select(i => Math.Exp(-0.5 * i * i / ((double)sigma * sigma))).ToArray();
        double sum = kernel.Sum();
        var k = kernel.Select(v => (float)(v / sum)).ToArray();
        var tmp = new float[w * h];
        var result = new float[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                float acc = 0;
                for (int i = -radius; i <= radius; i++) acc += k[i + radius] * values[y * w + Math.Clamp(x + i, 0, w - 1)];
                tmp[y * w + x] = acc;
            }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                float acc = 0;
                for (int i = -radius; i <= radius; i++) acc += k[i + radius] * tmp[Math.Clamp(y + i, 0, h - 1) * w + x];
                result[y * w + x] = acc;
            }
        return result;
    }

    /// <summary>
    /// The box (x, y, w, h) around every pixel the blurred mask touches, grown by <paramref name="padding"/>, then grown
    /// to the aspect ratio of the working size (so the crop is not distorted when scaled to it) and clamped to the image.
    /// Null when the mask is empty.
    /// </summary>
    public static (int X, int Y, int Width, int Height)? CropBox(float[] blurred, int width, int height, int padding, int workWidth, int workHeight)
    {
        int x0 = width, y0 = height, x1 = -1, y1 = -1;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                if (blurred[y * width + x] > 1e-3f)
                {
                    x0 = Math.Min(x0, x); y0 = Math.Min(y0, y);
                    x1 = Math.Max(x1, x); y1 = Math.Max(y1, y);
                }
        if (x1 < 0) return null;
        x0 = Math.Max(0, x0 - padding); y0 = Math.Max(0, y0 - padding);
        x1 = Math.Min(width - 1, x1 + padding); y1 = Math.Min(height - 1, y1 + padding);
        int w = x1 - x0 + 1, h = y1 - y0 + 1;
        double target = (double)workWidth / workHeight;
        if ((double)w / h < target)
        {
            int grow = Math.Min(width, (int)Math.Ceiling(h * target)) - w;
            x0 = Math.Clamp(x0 - grow / 2, 0, width - (w + grow));
            w += grow;
        }
        else
        {
            int grow = Math.Min(height, (int)Math.Ceiling(w / target)) - h;
            y0 = Math.Clamp(y0 - grow / 2, 0, height - (h + grow));
            h += grow;
        }
        return (x0, y0, w, h);
    }

    /// <summary>(1, C, H, W) float tensor of a crop of an RGB image, resized to the working size (bicubic, antialiased).</summary>
    public static Tensor CropResize(Tensor image, (int X, int Y, int Width, int Height) box, int workWidth, int workHeight)
    {
        using var scope = NewDisposeScope();
        var crop = image[.., .., box.Y..(box.Y + box.Height), box.X..(box.X + box.Width)];
        var resized = nn.functional.interpolate(crop, [workHeight, workWidth], mode: InterpolationMode.Bicubic, align_corners: false, antialias: true);
        return resized.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Pastes <paramref name="generated"/> (RGB of the crop box's size) into a copy of <paramref name="original"/>
    /// through the blurred mask: out = orig·(1 − a) + gen·a inside the box; pixels where a = 0 and everything outside
    /// the box keep their exact original bytes.
    /// </summary>
    public static ImagePixels Paste(ImagePixels original, byte[] generated, (int X, int Y, int Width, int Height) box, float[] blurred)
    {
        var rgb = (byte[])original.Rgb.Clone();
        for (int y = 0; y < box.Height; y++)
            for (int x = 0; x < box.Width; x++)
            {
                int ox = box.X + x, oy = box.Y + y;
                float a = Math.Clamp(blurred[oy * original.Width + ox], 0f, 1f);
                if (a <= 0) continue;
                for (int c = 0; c < 3; c++)
                {
                    int i = (oy * original.Width + ox) * 3 + c;
                    rgb[i] = (byte)Math.Clamp(Math.Round(original.Rgb[i] * (1 - a) + generated[(y * box.Width + x) * 3 + c] * a), 0, 255);
                }
            }
        return new ImagePixels(original.Width, original.Height, rgb);
    }

    /// <summary>Replaces masked pixels by a blur of the unmasked surroundings, widening the blur until every pixel is covered (A1111's "fill").</summary>
    public static ImagePixels Fill(ImagePixels image, float[] hardMask)
    {
        int w = image.Width, h = image.Height;
        var result = (byte[])image.Rgb.Clone();
        var known = hardMask.Select(m => m < 0.5f).ToArray();
        var color = new float[w * h * 3];
        for (int i = 0; i < w * h; i++)
            for (int c = 0; c < 3; c++) color[i * 3 + c] = known[i] ? image.Rgb[i * 3 + c] : 0;
        for (int radius = 1; radius <= Math.Max(w, h) && known.Any(k => !k); radius *= 2)
        {
            var next = (bool[])known.Clone();
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    if (known[i]) continue;
                    float r = 0, g = 0, b = 0; int n = 0;
                    for (int dy = -radius; dy <= radius; dy += Math.Max(1, radius / 2))
                        for (int dx = -radius; dx <= radius; dx += Math.Max(1, radius / 2))
                        {
                            int yy = y + dy, xx = x + dx;
                            if (yy < 0 || yy >= h || xx < 0 || xx >= w || !known[yy * w + xx]) continue;
                            int j = yy * w + xx;
                            r += color[j * 3]; g += color[j * 3 + 1]; b += color[j * 3 + 2]; n++;
                        }
                    if (n == 0) continue;
                    color[i * 3] = r / n; color[i * 3 + 1] = g / n; color[i * 3 + 2] = b / n;
                    next[i] = true;
                }
            known = next;
        }
        for (int i = 0; i < w * h; i++)
            if (hardMask[i] >= 0.5f)
                for (int c = 0; c < 3; c++) result[i * 3 + c] = (byte)Math.Clamp(Math.Round(color[i * 3 + c]), 0, 255);
        return new ImagePixels(w, h, result);
    }
}
