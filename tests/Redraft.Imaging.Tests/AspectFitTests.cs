namespace Redraft.Imaging.Tests;

/// <summary>
/// A1111's resize modes 1 ("crop and resize") and 2 ("resize and fill"): the geometry checked against crops and bars
/// worked out by hand, the bars against Pillow's Lanczos weights computed here in floating point.
/// </summary>
public sealed class AspectFitTests
{
    [Fact]
    public void Crop_WiderImage_KeepsTheCentreColumns()
    {
        var image = TestImages.Random(128, 64);
        // 64/64 > 128/64 is false: the height is scaled to 64 (no change) and the width follows: 128; x offset 32 − 64.
        Assert.Equal(Window(image, 32, 0, 64, 64).Pixels, AspectFit.Crop(image, 64, 64).Pixels);
    }

    [Fact]
    public void Crop_TallerImage_KeepsTheCentreRows()
    {
        var image = TestImages.Random(32, 96, seed: 2);
        Assert.Equal(Window(image, 0, 32, 32, 32).Pixels, AspectFit.Crop(image, 32, 32).Pixels);
    }

    [Fact]
    public void Crop_LargerImage_IsTheCentreOfTheImageScaledToCover()
    {
        var image = TestImages.Random(256, 128, seed: 3);
        var scaled = ImageFiles.Resize(image, 128, 64);
        Assert.Equal(Window(scaled, 32, 0, 64, 64).Pixels, AspectFit.Crop(image, 64, 64).Pixels);
    }

    [Fact]
    public void Fill_WiderImage_IsCentredWithItsEdgeRowsStretchedAboveAndBelow()
    {
        var image = TestImages.Random(64, 32, seed: 4);
        var filled = AspectFit.Fill(image, 64, 64);
        // Scaled to fit: 64 × 32 (no change), pasted at y = 32 − 16; bars of 16 rows above and below.
        Assert.Equal(image.Pixels, Window(filled, 0, 16, 64, 32).Pixels);
        for (int y = 0; y < 16; y++)
        {
            AssertRowNear(EdgeRow(image, [0, 1, 2]), Window(filled, 0, y, 64, 1).Pixels);
            AssertRowNear(EdgeRow(image, [31, 30, 29]), Window(filled, 0, 48 + y, 64, 1).Pixels);
        }
    }

    [Fact]
    public void Fill_TallerImage_IsCentredWithItsEdgeColumnsStretchedLeftAndRight()
    {
        var image = TestImages.Random(32, 64, seed: 5);
        var filled = AspectFit.Fill(image, 64, 64);
        Assert.Equal(image.Pixels, Window(filled, 16, 0, 32, 64).Pixels);
        var transposed = Transposed(image);
        for (int x = 0; x < 16; x++)
        {
            AssertRowNear(EdgeRow(transposed, [0, 1, 2]), Transposed(Window(filled, x, 0, 1, 64)).Pixels);
            AssertRowNear(EdgeRow(transposed, [31, 30, 29]), Transposed(Window(filled, 48 + x, 0, 1, 64)).Pixels);
        }
    }

    [Fact]
    public void Fill_FlatEdge_IsStretchedUnchanged()
    {
        // The Lanczos weights sum to one: an edge whose three outer rows are equal is copied as it is.
        var pixels = new byte[48 * 16 * 3];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(60 + i % 97);
        var image = new RgbImage(48, 16, pixels);
        for (int y = 1; y < 3; y++) Array.Copy(pixels, 0, pixels, y * 48 * 3, 48 * 3);
        var filled = AspectFit.Fill(image, 48, 48);
        for (int y = 0; y < 16; y++) Assert.Equal(Window(image, 0, 0, 48, 1).Pixels, Window(filled, 0, y, 48, 1).Pixels);
    }

    [Fact]
    public void Fill_OddHeight_LeavesNoPixelUnfilled()
    {
        // 33 rows in 64: pasted at 32 − 16 = 16, bars of 16 rows; the bottom bar starts at 49 and is cut at 64.
        var pixels = new byte[64 * 33 * 3];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(100 + i % 50);
        var filled = AspectFit.Fill(new RgbImage(64, 33, pixels), 64, 64);
        Assert.DoesNotContain((byte)0, filled.Pixels);
    }

    [Fact]
    public void Masks_FollowTheImageGeometry()
    {
        var values = new byte[64 * 32];
        new Random(6).NextBytes(values);
        var mask = new MaskImage(64, 32, values);
        var grey = new RgbImage(64, 32, [.. values.SelectMany(v => new[] { v, v, v })]);
        Assert.Equal(Channel(AspectFit.Fill(grey, 64, 64)), AspectFit.Fill(mask, 64, 64).Pixels);
        Assert.Equal(Channel(AspectFit.Crop(grey, 32, 32)), AspectFit.Crop(mask, 32, 32).Pixels);
    }

    /// <summary>
    /// A bar row as Pillow makes it from a zero-height box on the edge: the three rows nearest the edge weighed with
    /// the Lanczos-3 kernel at 0.5, 1.5 and 2.5 pixels, normalised (in floating point here; Pillow rounds in 22-bit
    /// fixed point, hence <see cref="AssertRowNear"/>).
    /// </summary>
    private static double[] EdgeRow(RgbImage image, int[] rows)
    {
        static double Sinc(double x) => x == 0 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);
        double[] weights = [.. new[] { 0.5, 1.5, 2.5 }.Select(d => Sinc(d) * Sinc(d / 3))];
        double total = weights.Sum();
        var row = new double[image.Width * 3];
        for (int i = 0; i < row.Length; i++)
            row[i] = rows.Select((r, k) => weights[k] / total * image.Pixels[r * image.Width * 3 + i]).Sum();
        return row;
    }

    private static void AssertRowNear(double[] expected, byte[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(Math.Clamp(Math.Round(expected[i]), 0, 255) - actual[i]) <= 1, $"byte {i}: expected {expected[i]:F2}, got {actual[i]}");
    }

    private static RgbImage Window(RgbImage image, int left, int top, int width, int height)
    {
        var pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            Array.Copy(image.Pixels, ((top + y) * image.Width + left) * 3, pixels, y * width * 3, width * 3);
        return new RgbImage(width, height, pixels);
    }

    private static RgbImage Transposed(RgbImage image)
    {
        var pixels = new byte[image.Pixels.Length];
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
                Array.Copy(image.Pixels, (y * image.Width + x) * 3, pixels, (x * image.Height + y) * 3, 3);
        return new RgbImage(image.Height, image.Width, pixels);
    }

    private static byte[] Channel(RgbImage image) => [.. Enumerable.Range(0, image.Width * image.Height).Select(i => image.Pixels[i * 3])];
}
