using SkiaSharp;

namespace Redraft.Studio;

/// <summary>
/// The fonts Redraft ships for labels (contact sheets): SkiaSharp's NoDependencies build has no system fonts.
/// DejaVu Sans is embedded in this assembly; its licence is Fonts/DejaVuSans-LICENSE.txt.
/// </summary>
public static class StudioFonts
{
    /// <summary>DejaVu Sans, a new typeface the caller disposes.</summary>
    public static SKTypeface LoadSans()
    {
        using var stream = typeof(StudioFonts).Assembly.GetManifestResourceStream("Redraft.Studio.Fonts.DejaVuSans.ttf")
            ?? throw new InvalidOperationException("the embedded DejaVuSans.ttf is missing from Redraft.Studio.");
        return SKTypeface.FromStream(stream)
            ?? throw new InvalidOperationException("SkiaSharp could not load the embedded DejaVuSans.ttf.");
    }
}
