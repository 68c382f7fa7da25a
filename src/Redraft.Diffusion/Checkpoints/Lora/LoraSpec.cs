using System.Globalization;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>A LoRA file and the strength it is merged with (1 = as trained, 0 = no effect, negative inverts).</summary>
/// <param name="Path">The <c>.safetensors</c> file.</param>
/// <param name="Weight">Multiplier of the file's low-rank updates (on top of its own alpha/rank scale).</param>
public sealed record LoraSpec(string Path, double Weight = 1.0)
{
    /// <summary>
    /// Parses <c>FILE</c> or <c>FILE:WEIGHT</c> (<c>style.safetensors:0.8</c>). The text is split at its last colon
    /// only when what follows is a number, so a path that contains colons still works; the weight is an invariant-culture
    /// decimal number and must be finite.
    /// </summary>
    /// <exception cref="RedraftInputException">The text is empty, the path part is empty, or the weight is not finite.</exception>
    public static LoraSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrWhiteSpace(text))
            throw new RedraftInputException("LoRA: empty value; expected FILE or FILE:WEIGHT (e.g. style.safetensors:0.8).");
        int colon = text.LastIndexOf(':');
        if (colon < 0) return new LoraSpec(text, 1.0);
        string tail = text[(colon + 1)..];
        if (!double.TryParse(tail, NumberStyles.Float, CultureInfo.InvariantCulture, out double weight))
        {
            // Not a number after the colon: either a path containing a colon or a mistyped weight. A tail that is
            // empty or starts like a number (and is not a path) is a syntax error rather than part of the file name.
            bool looksNumeric = tail.Length == 0
                || (tail[0] is (>= '0' and <= '9') or '.' or '-' or '+' && tail.IndexOfAny(['/', '\\']) < 0);
            if (looksNumeric)
                throw new RedraftInputException(
                    $"LoRA \"{text}\": \"{tail}\" is not a weight; expected FILE or FILE:WEIGHT with a number such as 0.8.");
            return new LoraSpec(text, 1.0);
        }
        if (!double.IsFinite(weight))
            throw new RedraftInputException($"LoRA \"{text}\": the weight must be a finite number, got {tail}.");
        string path = text[..colon];
        if (path.Length == 0)
            throw new RedraftInputException($"LoRA \"{text}\": no file before the weight; expected FILE:WEIGHT.");
        return new LoraSpec(path, weight);
    }

    /// <summary>The <c>FILE:WEIGHT</c> form (invariant culture, round-trippable).</summary>
    public override string ToString() => $"{Path}:{Weight.ToString("R", CultureInfo.InvariantCulture)}";
}
