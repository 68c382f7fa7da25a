using Redraft.Diffusion.Tests;

namespace Redraft.Canvas.Tests;

/// <summary>
/// A test that drives Chromium against a server on the tiny model: skipped, with the reason shown, without the shared
/// data (the tokenizer) or without <c>/usr/bin/chromium</c>; under <c>CI=true</c> neither is skipped (see
/// <see cref="SharedData.SkipReason"/> and <see cref="Chromium.SkipReason"/>).
/// </summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    /// <summary>Creates the attribute; sets <see cref="FactAttribute.Skip"/> when the data or the browser is missing.</summary>
    public BrowserFactAttribute()
    {
        Skip = SharedData.SkipReason ?? Chromium.SkipReason;
    }
}
