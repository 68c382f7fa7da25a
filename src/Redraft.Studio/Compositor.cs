using Redraft.Imaging;

namespace Redraft.Studio;

/// <summary>Supplies the pixels a document's hashes refer to (the document store, or a dictionary in tests).</summary>
public interface ILayerPixels
{
    /// <summary>The RGBA image stored under <paramref name="hash"/>.</summary>
    RgbaImage GetImage(string hash);

    /// <summary>The mask stored under <paramref name="hash"/>.</summary>
    MaskImage GetMask(string hash);
}

/// <summary>In-memory <see cref="ILayerPixels"/>: hash → image and hash → mask dictionaries.</summary>
public sealed class InMemoryLayerPixels : ILayerPixels
{
    /// <summary>Images by hash (any unique string works as a key for in-memory use).</summary>
    public Dictionary<string, RgbaImage> Images { get; } = new();

    /// <summary>Masks by hash.</summary>
    public Dictionary<string, MaskImage> Masks { get; } = new();

    /// <inheritdoc/>
    public RgbaImage GetImage(string hash) =>
        Images.TryGetValue(hash, out var i) ? i : throw new StudioInputException($"image {hash} is not stored.");

    /// <inheritdoc/>
    public MaskImage GetMask(string hash) =>
        Masks.TryGetValue(hash, out var m) ? m : throw new StudioInputException($"mask {hash} is not stored.");
}

/// <summary>
/// Compositing: a pure function from a document (and the pixels its hashes name) to an image.
/// </summary>
/// <remarks>
/// <para><b>Colour model.</b> Layer images have straight alpha. Each layer pixel's alpha is multiplied by its
/// mask value / 255 (the mask is in layer pixels, before scaling) and then, after resampling, by the layer's
/// opacity. Layers are drawn bottom to top with the Porter–Duff over-operator, computed in premultiplied
/// single-precision floats: <c>out = src + dst · (1 − src_alpha)</c>. Values are converted back to 8 bits once,
/// at the end, rounding to nearest (halves away from zero); straight colour is <c>premultiplied / alpha</c>
/// (0 where alpha is 0). No gamma handling: values are blended as stored, as image editors and
/// AUTOMATIC1111 do.</para>
/// <para><b>Scaling rule: area averaging (box filter) in premultiplied alpha.</b> A w x h layer is resampled to
/// W' = max(1, round(w·scale)) by H' = max(1, round(h·scale)) pixels; target pixel i along an axis covers the
/// source interval [i·w/W', (i+1)·w/W') and takes the overlap-weighted mean of the source pixels under it.
/// Integer up-scales therefore replicate pixels exactly (same as nearest neighbour), integer down-scales are
/// exact block means (2x2 at scale 0.5), and nothing aliases. Separable: horizontal, then vertical.</para>
/// <para><b>Placement.</b> The resampled layer's top-left pixel lands on canvas pixel (x, y); pixels outside
/// the canvas are clipped, so offsets may be negative or put the layer partly (or entirely) off-canvas.</para>
/// </remarks>
public static class Compositor
{
    /// <summary>The composite over an opaque background (white by default), as RGB.</summary>
    /// <exception cref="StudioInputException">A layer's mask is not the size of its image, or an image is missing.</exception>
    public static RgbImage Render(Document document, ILayerPixels pixels, byte backgroundR = 255, byte backgroundG = 255, byte backgroundB = 255)
    {
        float[] canvas = Accumulate(document, pixels);
        int n = document.Width * document.Height;
        var rgb = new byte[(long)n * 3];
        float br = backgroundR / 255f, bg = backgroundG / 255f, bb = backgroundB / 255f;
        for (int p = 0; p < n; p++)
        {
            int s = p * 4, d = p * 3;
            float ia = 1 - canvas[s + 3];
            rgb[d] = ToByte(canvas[s] + br * ia);
            rgb[d + 1] = ToByte(canvas[s + 1] + bg * ia);
            rgb[d + 2] = ToByte(canvas[s + 2] + bb * ia);
        }
        return new RgbImage(document.Width, document.Height, rgb);
    }

    /// <summary>The composite over a transparent background, as straight-alpha RGBA.</summary>
    /// <exception cref="StudioInputException">A layer's mask is not the size of its image, or an image is missing.</exception>
    public static RgbaImage RenderRgba(Document document, ILayerPixels pixels)
    {
        float[] canvas = Accumulate(document, pixels);
        int n = document.Width * document.Height;
        var rgba = new byte[(long)n * 4];
        for (int s = 0; s < rgba.Length; s += 4)
        {
            float a = canvas[s + 3];
            byte a8 = ToByte(a);
            if (a8 == 0) continue;
            rgba[s] = ToByte(canvas[s] / a);
            rgba[s + 1] = ToByte(canvas[s + 1] / a);
            rgba[s + 2] = ToByte(canvas[s + 2] / a);
            rgba[s + 3] = a8;
        }
        return new RgbaImage(document.Width, document.Height, rgba);
    }

    /// <summary>The size a w x h layer has on the canvas at <paramref name="scale"/>.</summary>
    public static (int Width, int Height) ScaledSize(int width, int height, double scale) =>
        (ScaledLength(width, scale), ScaledLength(height, scale));

    internal static int ScaledLength(int length, double scale) =>
        (int)Math.Max(1, Math.Min(int.MaxValue / 8, Math.Round(length * scale, MidpointRounding.AwayFromZero)));

    private static byte ToByte(float v)
    {
        float x = MathF.Round(v * 255f, MidpointRounding.AwayFromZero);
        return x <= 0 ? (byte)0 : x >= 255 ? (byte)255 : (byte)x;
    }

    /// <summary>Premultiplied RGBA floats in [0, 1], 4 per canvas pixel.</summary>
    private static float[] Accumulate(Document document, ILayerPixels pixels)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(pixels);
        document.Validate();
        int cw = document.Width, ch = document.Height;
        var canvas = new float[(long)cw * ch * 4];
        foreach (var layer in document.Layers)
        {
            if (!layer.IsDrawn || layer.Opacity <= 0) continue;
            RgbaImage image = pixels.GetImage(layer.Image);
            MaskImage? mask = layer.Mask is null ? null : pixels.GetMask(layer.Mask);
            if (mask is not null && (mask.Width != image.Width || mask.Height != image.Height))
                throw new StudioInputException(
                    $"layer {layer.Id}: mask is {mask.Width}x{mask.Height} but the image is {image.Width}x{image.Height}.");
            DrawLayer(canvas, cw, ch, layer, image, mask);
        }
        return canvas;
    }

    private static void DrawLayer(float[] canvas, int cw, int ch, Layer layer, RgbaImage image, MaskImage? mask)
    {
        int w = image.Width, h = image.Height;
        int sw = ScaledLength(w, layer.Scale), sh = ScaledLength(h, layer.Scale);
        // Visible window of the scaled layer, in scaled-layer pixels.
        long tx0 = Math.Max(0, -(long)layer.X), tx1 = Math.Min(sw, (long)cw - layer.X);
        long ty0 = Math.Max(0, -(long)layer.Y), ty1 = Math.Min(sh, (long)ch - layer.Y);
        if (tx0 >= tx1 || ty0 >= ty1) return;

        Taps[] cols = Weights(w, sw, (int)tx0, (int)tx1);
        Taps[] rows = Weights(h, sh, (int)ty0, (int)ty1);
        int sy0 = rows[0].First, sy1 = rows[^1].First + rows[^1].Weights.Length;
        int nCols = cols.Length;

        // Horizontal pass over the source rows that are needed: premultiplied, mask applied.
        var mid = new float[(long)(sy1 - sy0) * nCols * 4];
        byte[] src = image.Pixels;
        byte[]? m = mask?.Pixels;
        const float inv = 1f / 255f;
        for (int sy = sy0; sy < sy1; sy++)
        {
            int rowBase = sy * w;
            long midRow = (long)(sy - sy0) * nCols * 4;
            for (int c = 0; c < nCols; c++)
            {
                Taps t = cols[c];
                float r = 0, g = 0, b = 0, a = 0;
                for (int k = 0; k < t.Weights.Length; k++)
                {
                    int p = rowBase + t.First + k;
                    int i = p * 4;
                    float alpha = src[i + 3] * inv;
                    if (m is not null) alpha *= m[p] * inv;
                    float wa = alpha * t.Weights[k];
                    r += src[i] * inv * wa;
                    g += src[i + 1] * inv * wa;
                    b += src[i + 2] * inv * wa;
                    a += wa;
                }
                long o = midRow + c * 4;
                mid[o] = r; mid[o + 1] = g; mid[o + 2] = b; mid[o + 3] = a;
            }
        }

        // Vertical pass, opacity, and over onto the canvas.
        float opacity = (float)layer.Opacity;
        for (int rIdx = 0; rIdx < rows.Length; rIdx++)
        {
            Taps t = rows[rIdx];
            int cy = (int)(layer.Y + ty0 + rIdx);
            long canvasRow = (long)cy * cw;
            for (int c = 0; c < nCols; c++)
            {
                float r = 0, g = 0, b = 0, a = 0;
                for (int k = 0; k < t.Weights.Length; k++)
                {
                    long o = ((long)(t.First + k - sy0) * nCols + c) * 4;
                    float wk = t.Weights[k];
                    r += mid[o] * wk; g += mid[o + 1] * wk; b += mid[o + 2] * wk; a += mid[o + 3] * wk;
                }
                r *= opacity; g *= opacity; b *= opacity; a *= opacity;
                if (a <= 0) continue;
                long d = (canvasRow + layer.X + tx0 + c) * 4;
                float keep = 1 - a;
                canvas[d] = r + canvas[d] * keep;
                canvas[d + 1] = g + canvas[d + 1] * keep;
                canvas[d + 2] = b + canvas[d + 2] * keep;
                canvas[d + 3] = a + canvas[d + 3] * keep;
            }
        }
    }

    /// <summary>Source pixels first … first+n−1 with their weights (summing to 1).</summary>
    internal readonly record struct Taps(int First, float[] Weights);

    /// <summary>Area-average taps for target pixels [t0, t1) when <paramref name="source"/> pixels become <paramref name="target"/>.</summary>
    internal static Taps[] Weights(int source, int target, int t0, int t1)
    {
        var result = new Taps[t1 - t0];
        for (int t = t0; t < t1; t++)
        {
            // Interval in source units; integer products keep exact boundaries exact.
            double a = (double)((long)t * source) / target, b = (double)((long)(t + 1) * source) / target;
            result[t - t0] = Overlap(a, b, source);
        }
        return result;
    }

    /// <summary>Overlap of [a, b) with unit cells 0…cells−1, normalised to sum 1; slivers under 1e-9 are dropped.</summary>
    internal static Taps Overlap(double a, double b, int cells)
    {
        int first = Math.Max(0, (int)Math.Floor(a));
        int last = Math.Min(cells - 1, (int)Math.Ceiling(b) - 1);
        double length = b - a;
        while (first < last && Math.Min(first + 1, b) - Math.Max(first, a) < 1e-9 * length) first++;
        while (last > first && Math.Min(last + 1, b) - Math.Max(last, a) < 1e-9 * length) last--;
        var weights = new float[last - first + 1];
        double total = 0;
        for (int i = first; i <= last; i++) total += Math.Max(0, Math.Min(i + 1, b) - Math.Max(i, a));
        for (int i = first; i <= last; i++)
            weights[i - first] = (float)(Math.Max(0, Math.Min(i + 1, b) - Math.Max(i, a)) / total);
        return new Taps(first, weights);
    }
}
