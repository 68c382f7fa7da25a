using System.Globalization;

namespace Redraft.Imaging;

/// <summary>A rectangle of canvas pixels: left column, top row, width, height.</summary>
public readonly record struct Region(int X, int Y, int Width, int Height)
{
    /// <summary>Parses <c>x,y,w,h</c> (the CLI's <c>--region</c> syntax).</summary>
    /// <exception cref="ImageInputException">Not four integers, or a width or height below 1.</exception>
    public static Region Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new int[4];
        if (parts.Length != 4 || !parts.Select((p, i) => int.TryParse(p, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out values[i])).All(ok => ok))
            throw new ImageInputException($"region '{text}': expected x,y,width,height (four integers, e.g. 64,64,256,128).");
        var region = new Region(values[0], values[1], values[2], values[3]);
        if (region.Width < 1 || region.Height < 1)
            throw new ImageInputException($"region '{text}': width and height must be at least 1.");
        return region;
    }

    /// <summary>Throws unless the region lies entirely inside a <paramref name="width"/> x <paramref name="height"/> canvas.</summary>
    /// <exception cref="ImageInputException">The region is empty or reaches outside the canvas.</exception>
    public void EnsureInside(int width, int height)
    {
        if (Width < 1 || Height < 1)
            throw new ImageInputException($"region {this}: width and height must be at least 1.");
        if (X < 0 || Y < 0 || (long)X + Width > width || (long)Y + Height > height)
            throw new ImageInputException(
                $"region {this} reaches outside the {width}x{height} canvas (it must lie within 0,0,{width},{height}).");
    }

    /// <summary><c>x,y,w,h</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{X},{Y},{Width},{Height}");
}
