using Redraft.Studio;
using SkiaSharp;

namespace Redraft.Studio.Tests;

public sealed class StudioFontsTests
{
    [Fact]
    public void TheEmbeddedDejaVuSansLoadsAndHasDigitGlyphs()
    {
        using var typeface = StudioFonts.LoadSans();
        Assert.Equal("DejaVu Sans", typeface.FamilyName);
        using var font = new SKFont(typeface, 12);
        var glyphs = font.GetGlyphs("seed 0123456789");
        Assert.All(glyphs, g => Assert.NotEqual(0, g));
    }

    [Fact]
    public void TheFontLicenceShipsBesideTheAssembly()
    {
        string licence = Path.Combine(AppContext.BaseDirectory, "Fonts", "DejaVuSans-LICENSE.txt");
        Assert.True(File.Exists(licence), licence);
        Assert.Contains("Bitstream Vera", File.ReadAllText(licence));
    }
}
