namespace Redraft.Diffusion.Text;

/// <summary>
/// A fragment of a prompt with its attention weight, as produced by <see cref="PromptParser.Parse"/>.
/// </summary>
/// <param name="Text">The fragment's text (escapes already resolved; may be empty).</param>
/// <param name="Weight">The multiplier applied to the fragment's tokens (1 = neutral).</param>
/// <remarks>
/// The keyword <c>BREAK</c> is represented, as in AUTOMATIC1111, by the marker
/// <see cref="Break"/> = <c>("BREAK", -1)</c>; test for it with <see cref="IsBreak"/>.
/// </remarks>
internal readonly record struct WeightedText(string Text, float Weight)
{
    /// <summary>The marker that stands for a <c>BREAK</c> keyword: start a new 75-token chunk.</summary>
    public static WeightedText Break { get; } = new("BREAK", -1f);

    /// <summary>True when this is the <see cref="Break"/> marker rather than text.</summary>
    public bool IsBreak => Weight == -1f && Text == "BREAK";
}
