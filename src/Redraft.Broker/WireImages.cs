using Redraft.Studio.Generation;

namespace Redraft.Broker;

/// <summary>A job's input pixels as PNG bytes (lossless): the init image as RGB, the mask as 8-bit grey.</summary>
public static class WireImages
{
    /// <summary>The init image's PNG, or null.</summary>
    public static byte[]? InitPng(GenerationInputs? inputs) => inputs?.Init is { } init ? ImageFiles.EncodePng(init) : null;

    /// <summary>The mask's PNG, or null.</summary>
    public static byte[]? MaskPng(GenerationInputs? inputs) => inputs?.Mask is { } mask ? ImageFiles.EncodePng(mask) : null;

    /// <summary>The inputs back from their PNGs (exactly the pixels that were sent), or null when there are none.</summary>
    public static GenerationInputs? Inputs(byte[]? initPng, byte[]? maskPng)
    {
        if (initPng is null && maskPng is null) return null;
        var init = initPng is null ? null : ImageFiles.DecodeRgba(initPng, "the job's init image").ToRgb();
        // Grey decodes to r = g = b = v with full alpha, whose layer mask is v again.
        var mask = maskPng is null ? null : MaskImage.FromRgba(ImageFiles.DecodeRgba(maskPng, "the job's mask"));
        return new GenerationInputs(init, mask);
    }
}
