using System.Globalization;
using System.Text;

namespace Redraft.Imaging;

/// <summary>
/// The generation parameters of an image in AUTOMATIC1111's infotext format, the text stored in
/// a PNG's <c>parameters</c> chunk:
/// <code>
/// a castle on a hill, sunset
/// Negative prompt: blurry, lowres
/// Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: abcdef1234, Model: name, Denoising strength: 0.75
/// </code>
/// </summary>
/// <remarks>Equality compares all values, including <see cref="Extra"/> (entries and order).</remarks>
public sealed record GenerationInfo
{
    private static readonly string[] StandardKeys =
        ["Prompt", "Negative prompt", "Steps", "Sampler", "CFG scale", "Seed", "Size", "Model hash", "Model", "Denoising strength"];

    private readonly IReadOnlyDictionary<string, string> _extra = new OrderedDictionary<string, string>();

    /// <summary>The prompt; may span several lines.</summary>
    public required string Prompt { get; init; }

    /// <summary>The negative prompt; empty when there is none (the line is then omitted).</summary>
    public string NegativePrompt { get; init; } = "";

    /// <summary>Number of sampling steps.</summary>
    public required int Steps { get; init; }

    /// <summary>Sampler name as A1111 spells it, e.g. <c>Euler a</c>, <c>DPM++ 2M</c>.</summary>
    public required string Sampler { get; init; }

    /// <summary>Classifier-free guidance scale.</summary>
    public required double CfgScale { get; init; }

    /// <summary>The seed.</summary>
    public required long Seed { get; init; }

    /// <summary>Output width in pixels.</summary>
    public required int Width { get; init; }

    /// <summary>Output height in pixels.</summary>
    public required int Height { get; init; }

    /// <summary>Short model hash (A1111's 10 hex digits), or null when not recorded.</summary>
    public string? ModelHash { get; init; }

    /// <summary>Model (checkpoint) name, or null when not recorded.</summary>
    public string? ModelName { get; init; }

    /// <summary>img2img denoising strength; null for txt2img.</summary>
    public double? DenoisingStrength { get; init; }

    /// <summary>
    /// Other parameters (e.g. <c>Schedule type</c>, <c>Clip skip</c>, <c>Version</c>), in order;
    /// written after the standard ones. The dictionary is copied on assignment.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// A key is one of the standard keys, or is not a valid infotext key (letters, digits, <c>_</c>,
    /// spaces, <c>-</c> and <c>/</c>, at least two characters, starting and ending with a letter or digit).
    /// </exception>
    public IReadOnlyDictionary<string, string> Extra
    {
        get => _extra;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            var copy = new OrderedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, v) in value)
            {
                if (!Infotext.KeyRegex().IsMatch(key))
                    throw new ArgumentException($"'{key}' is not a valid infotext key.", nameof(Extra));
                if (StandardKeys.Contains(key))
                    throw new ArgumentException($"'{key}' is a standard parameter; set its property instead.", nameof(Extra));
                ArgumentNullException.ThrowIfNull(v, $"Extra[{key}]");
                copy[key] = v;
            }
            _extra = copy;
        }
    }

    /// <summary>
    /// Formats the parameters as AUTOMATIC1111's <c>create_infotext</c> does: the prompt, then
    /// <c>Negative prompt: …</c> (omitted when empty), then one line of
    /// <c>Steps, Sampler, CFG scale, Seed, Size, Model hash, Model, Denoising strength</c>
    /// (null ones omitted) followed by <see cref="Extra"/> in its order (Redraft's order, which the PNGs of the command
    /// line and of documents keep so that recorded generations re-run byte for byte; see
    /// <see cref="FormatInA1111Order"/>). Values with a comma, colon or newline are JSON-quoted; numbers are
    /// culture-invariant and whole numbers have no <c>.0</c> (<c>CFG scale: 7</c>, <c>CFG scale: 7.5</c>). The whole
    /// text is trimmed, as A1111 does.
    /// </summary>
    public string Format() => FormatPairs(a1111Order: false);

    /// <summary>
    /// As <see cref="Format()"/>, with the pairs in AUTOMATIC1111 v1.10's order (<see cref="InfotextOrder"/>): its fixed
    /// keys where present (<c>Steps, Sampler, Schedule type, CFG scale, …, Size, Model hash, Model, …, VAE, Variation
    /// seed, …, Denoising strength, …, RNG, Tiling</c>), then the other <see cref="Extra"/> entries in their order, then
    /// <c>Version</c> and <c>User</c>. For clients that read A1111's infotext by position (the API server).
    /// </summary>
    public string FormatInA1111Order() => FormatPairs(a1111Order: true);

    private string FormatPairs(bool a1111Order)
    {
        var pairs = new List<(string Key, string Value)>
        {
            ("Steps", Steps.ToString(CultureInfo.InvariantCulture)),
            ("Sampler", Sampler),
            ("CFG scale", Infotext.FormatNumber(CfgScale)),
            ("Seed", Seed.ToString(CultureInfo.InvariantCulture)),
            ("Size", string.Create(CultureInfo.InvariantCulture, $"{Width}x{Height}")),
        };
        if (ModelHash is not null) pairs.Add(("Model hash", ModelHash));
        if (ModelName is not null) pairs.Add(("Model", ModelName));
        if (DenoisingStrength is double strength) pairs.Add(("Denoising strength", Infotext.FormatNumber(strength)));
        foreach (var (key, value) in Extra) pairs.Add((key, value));
        if (a1111Order) pairs = InfotextOrder.Sort(pairs);

        var text = new StringBuilder(KeepInPlace(Prompt, firstLineToo: true));
        if (NegativePrompt.Length > 0)
            text.Append("\nNegative prompt: ").Append(KeepInPlace(NegativePrompt, firstLineToo: false));
        text.Append('\n').AppendJoin(", ", pairs.Select(p => $"{p.Key}: {Infotext.Quote(p.Value)}"));
        return text.ToString().Trim();
    }

    /// <summary>
    /// A prompt line starting with <c>Negative prompt:</c> would be read back as the start of the negative prompt
    /// (by A1111's parser and by <see cref="Parse"/>), letting a prompt forge what a PNG says. Such a line is joined to
    /// the line before it with a space, which changes nothing the model sees (CLIP's tokenizer reads a newline as a
    /// space); a prompt whose very first line starts so gets a zero-width space in front (not whitespace to Python's
    /// <c>strip()</c>, so the parsers keep it).
    /// </summary>
    private static string KeepInPlace(string text, bool firstLineToo)
    {
        const string Marker = "Negative prompt:";
        if (!text.Contains(Marker, StringComparison.Ordinal)) return text;
        string[] lines = text.Split('\n');
        var result = new StringBuilder(text.Length + 1);
        for (int i = 0; i < lines.Length; i++)
        {
            bool forging = lines[i].TrimStart().StartsWith(Marker, StringComparison.Ordinal);
            if (i > 0) result.Append(forging ? ' ' : '\n');
            else if (forging && firstLineToo) result.Append('\u200B');
            result.Append(lines[i]);
        }
        return result.ToString();
    }

    /// <summary>
    /// Parses infotext as AUTOMATIC1111's <c>parse_generation_parameters</c> does: the last line,
    /// if it holds at least three <c>key: value</c> pairs, is the parameters line; the lines
    /// before it are the prompt (each line trimmed) until a line starting with
    /// <c>Negative prompt:</c>, which starts the negative prompt. Quoted values are unquoted;
    /// <c>Size: WxH</c> gives <see cref="Width"/> and <see cref="Height"/>; pairs with an empty
    /// value are skipped (A1111 skips them too); unknown keys go to <see cref="Extra"/> in order,
    /// unchanged (A1111 would split other <c>WxH</c> values such as <c>Hires resize</c> into two keys;
    /// they are kept whole here so that <see cref="Format"/> writes them back).
    /// A repeated key keeps its last value.
    /// </summary>
    /// <exception cref="FormatException">
    /// There is no parameters line, or Steps, Sampler, CFG scale, Seed or Size is missing or not a valid value.
    /// </exception>
    public static GenerationInfo Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] lines = text.Trim().Split('\n');
        string lastLine = lines[^1];
        var matches = Infotext.ParamRegex().Matches(lastLine);
        if (matches.Count < 3)
            throw new FormatException(
                "Not AUTOMATIC1111 generation parameters: no line like 'Steps: 20, Sampler: Euler a, CFG scale: 7, …'.");

        var prompt = new StringBuilder();
        var negative = new StringBuilder();
        bool inNegative = false;
        foreach (string raw in lines.AsSpan(0, lines.Length - 1))
        {
            string line = raw.Trim();
            if (line.StartsWith("Negative prompt:", StringComparison.Ordinal))
            {
                inNegative = true;
                line = line["Negative prompt:".Length..].Trim();
            }
            StringBuilder target = inNegative ? negative : prompt;
            if (target.Length > 0) target.Append('\n');
            target.Append(line);
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var extra = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Text.RegularExpressions.Match m in matches)
        {
            string key = m.Groups[1].Value;
            string value = m.Groups[2].Value;
            if (value.Length == 0)
                continue;
            if (value[0] == '"' && value[^1] == '"')
                value = Infotext.Unquote(value);
            if (StandardKeys.Contains(key))
                values[key] = value;
            else
                extra[key] = value;
        }

        string Required(string key) => values.TryGetValue(key, out var v)
            ? v
            : throw new FormatException($"Generation parameters have no '{key}'.");

        var size = Infotext.SizeRegex().Match(Required("Size"));
        if (!size.Success)
            throw new FormatException($"Size: '{values["Size"]}' is not WIDTHxHEIGHT.");

        return new GenerationInfo
        {
            Prompt = prompt.ToString(),
            NegativePrompt = negative.ToString(),
            Steps = ParseInt("Steps", Required("Steps")),
            Sampler = Required("Sampler"),
            CfgScale = ParseDouble("CFG scale", Required("CFG scale")),
            Seed = ParseLong("Seed", Required("Seed")),
            Width = ParseInt("Size", size.Groups[1].Value),
            Height = ParseInt("Size", size.Groups[2].Value),
            ModelHash = values.GetValueOrDefault("Model hash"),
            ModelName = values.GetValueOrDefault("Model"),
            DenoisingStrength = values.TryGetValue("Denoising strength", out var d) ? ParseDouble("Denoising strength", d) : null,
            Extra = extra,
        };
    }

    private static int ParseInt(string key, string value) =>
        int.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n)
            ? n : throw new FormatException($"{key}: '{value}' is not a whole number.");

    private static long ParseLong(string key, string value) =>
        long.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n)
            ? n : throw new FormatException($"{key}: '{value}' is not a whole number.");

    private static double ParseDouble(string key, string value) =>
        double.TryParse(value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double n)
            ? n : throw new FormatException($"{key}: '{value}' is not a number.");

    /// <inheritdoc/>
    public bool Equals(GenerationInfo? other) =>
        other is not null
        && Prompt == other.Prompt
        && NegativePrompt == other.NegativePrompt
        && Steps == other.Steps
        && Sampler == other.Sampler
        && CfgScale.Equals(other.CfgScale)
        && Seed == other.Seed
        && Width == other.Width
        && Height == other.Height
        && ModelHash == other.ModelHash
        && ModelName == other.ModelName
        && Nullable.Equals(DenoisingStrength, other.DenoisingStrength)
        && Extra.SequenceEqual(other.Extra);

    /// <inheritdoc/>
    public override int GetHashCode() =>
        HashCode.Combine(HashCode.Combine(Prompt, NegativePrompt, Steps, Sampler, CfgScale, Seed, Width, Height),
            ModelHash, ModelName, DenoisingStrength, Extra.Count);
}
