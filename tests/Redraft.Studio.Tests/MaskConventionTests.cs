using Redraft.Imaging;

namespace Redraft.Studio.Tests;

/// <summary>
/// One convention for operation masks (inpaint, erase), AUTOMATIC1111's: white = act; a mask with transparency is
/// read from its alpha channel, any other from its luminance. Layer masks keep luminance × alpha.
/// </summary>
public sealed class MaskConventionTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void AnRgbFileIsReadByItsLuminance()
    {
        string path = _dir.File("rgb.png");
        ImageFiles.SavePng(path, new RgbImage(3, 1, [255, 255, 255, 0, 0, 0, 200, 40, 90]));
        var mask = MaskImage.LoadOperationMask(path);
        // Pillow's convert("L"): (R·19595 + G·38470 + B·7471 + 2^15) >> 16.
        Assert.Equal([255, 0, (byte)((200 * 19595 + 40 * 38470 + 90 * 7471 + 32768) >> 16)], mask.Pixels);
        Assert.Equal(94, mask.Pixels[2]);
    }

    [Fact]
    public void AnRgbaFileWithTransparencyIsReadByItsAlpha()
    {
        string path = _dir.File("rgba.png");
        // Black paint on a transparent background: painted = regenerate, whatever the colour.
        ImageFiles.SavePng(path, T.Image(3, 1, (0, 0, 0, 255), (255, 255, 255, 0), (10, 20, 30, 128)));
        Assert.Equal([255, 0, 128], MaskImage.LoadOperationMask(path).Pixels);
        // As a layer mask the same file means luminance × alpha (visible where white is painted).
        Assert.Equal([0, 0, 9], MaskImage.Load(path).Pixels);
    }

    [Fact]
    public void AFullyOpaqueRgbaFileIsReadByItsLuminance()
    {
        string path = _dir.File("opaque.png");
        ImageFiles.SavePng(path, T.Image(3, 1, (255, 255, 255, 255), (0, 0, 0, 255), (200, 40, 90, 255)));
        Assert.Equal([255, 0, 94], MaskImage.LoadOperationMask(path).Pixels);
    }

    [Fact]
    public void InvertAndResizeKeepTheConvention()
    {
        var mask = new MaskImage(2, 2, [0, 255, 255, 0]);
        Assert.Equal([255, 0, 0, 255], mask.Inverted().Pixels);
        var big = mask.Resized(8, 8);
        Assert.Equal((8, 8), (big.Width, big.Height));
        Assert.Equal(0, big[0, 0]);
        Assert.Equal(255, big[7, 0]);
        Assert.Equal(new Region(1, 2, 3, 1), new MaskImage(5, 4, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 0, 0, 0, 0, 0, 0]).Bounds());
        Assert.Null(MaskImage.Filled(3, 3, 0).Bounds());
    }
}
