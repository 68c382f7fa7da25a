using System.Text;

namespace Redraft.Server.Api;

/// <summary>
/// AUTOMATIC1111's prompt styles (<c>modules/styles.py</c>, v1.10): named prompt and negative-prompt fragments in a
/// <c>styles.csv</c> (<c>name,prompt,negative_prompt</c>, UTF-8 with or without BOM; the old <c>name,text</c> form is
/// read too; rows whose name starts with <c>#</c> are comments; a later row of the same name replaces an earlier one
/// in its place). A request's <c>styles</c> are applied in order to its prompt and to its negative prompt: a style text
/// containing <c>{prompt}</c> has every <c>{prompt}</c> replaced by the prompt so far; any other is appended as
/// <c>prompt, style</c> (both stripped of surrounding whitespace, empty parts left out). A name that is not in the
/// file is an empty style, as in A1111: it changes the prompt only by stripping it. The file is read at start and
/// again whenever it changes; a missing file is no styles.
/// </summary>
internal sealed class PromptStyles(string? path)
{
    /// <summary>One style; <see cref="Prompt"/> and <see cref="NegativePrompt"/> are null where the row stops short (A1111 lists them as null).</summary>
    public sealed record Style(string Name, string? Prompt, string? NegativePrompt);

    /// <summary>Python's <c>str.strip()</c> whitespace (<c>str.isspace</c>): .NET's white space plus U+001C–U+001F.</summary>
    private static readonly char[] PythonWhitespace =
    [
        '\t', '\n', '\v', '\f', '\r', '\u001c', '\u001d', '\u001e', '\u001f', ' ', '\u0085', '\u00a0', '\u1680',
        '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005', '\u2006', '\u2007', '\u2008', '\u2009', '\u200a',
        '\u2028', '\u2029', '\u202f', '\u205f', '\u3000',
    ];

    private readonly Lock _gate = new();
    private (long Length, long Ticks)? _loadedVersion;
    private IReadOnlyList<Style> _styles = [];

    /// <summary>The styles file (absolute), or null for none.</summary>
    public string? FilePath { get; } = path is null ? null : Path.GetFullPath(path);

    /// <summary>The styles in file order, read again when the file changed since the last call.</summary>
    /// <exception cref="ApiException">500: the file changed and cannot be read as styles any more.</exception>
    public IReadOnlyList<Style> All()
    {
        try
        {
            return Current();
        }
        catch (RedraftInputException e)
        {
            throw new ApiException(500, e.Message);
        }
    }

    /// <summary>Reads the file now (at server start), so a broken one stops the start with a message.</summary>
    /// <exception cref="RedraftInputException">The file exists but is not a styles file.</exception>
    public void Load() => Current();

    /// <summary><paramref name="prompt"/> with the prompts of <paramref name="names"/> applied, as A1111's <c>apply_styles_to_prompt</c>.</summary>
    public string ApplyToPrompt(string prompt, IReadOnlyList<string> names) => Apply(prompt, names, s => s.Prompt);

    /// <summary><paramref name="negative"/> with the negative prompts of <paramref name="names"/> applied.</summary>
    public string ApplyToNegative(string negative, IReadOnlyList<string> names) => Apply(negative, names, s => s.NegativePrompt);

    private string Apply(string text, IReadOnlyList<string> names, Func<Style, string?> part)
    {
        if (names.Count == 0) return text;
        var byName = All().ToDictionary(s => s.Name, StringComparer.Ordinal);
        foreach (string name in names)
        {
            // An unknown name is A1111's empty "None" style; a missing field would fail there, it is empty here.
            string style = byName.TryGetValue(name, out var found) ? part(found) ?? "" : "";
            text = Merge(style, text);
        }
        return text;
    }

    /// <summary>A1111's <c>merge_prompts</c>.</summary>
    internal static string Merge(string style, string prompt)
    {
        if (style.Contains("{prompt}", StringComparison.Ordinal)) return style.Replace("{prompt}", prompt, StringComparison.Ordinal);
        return string.Join(", ", new[] { prompt.Trim(PythonWhitespace), style.Trim(PythonWhitespace) }.Where(p => p.Length > 0));
    }

    private IReadOnlyList<Style> Current()
    {
        if (FilePath is null) return [];
        lock (_gate)
        {
            var info = new FileInfo(FilePath);
            (long, long)? version = info.Exists ? (info.Length, info.LastWriteTimeUtc.Ticks) : null;
            if (version == _loadedVersion) return _styles;
            _styles = version is null ? [] : Read(FilePath);
            _loadedVersion = version;
            return _styles;
        }
    }

    /// <summary>Reads a styles file as A1111's <c>StyleDatabase.load_from_csv</c> (<c>csv.DictReader</c>).</summary>
    /// <exception cref="RedraftInputException">Not UTF-8, unreadable, or rows without the columns A1111 needs.</exception>
    internal static IReadOnlyList<Style> Read(string path)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(File.ReadAllBytes(path));
        }
        catch (DecoderFallbackException)
        {
            throw new RedraftInputException($"styles file {path}: not UTF-8 text; save it as UTF-8 CSV (name,prompt,negative_prompt).");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RedraftInputException($"styles file {path}: cannot read it ({e.Message.ReplaceLineEndings(" ")}).");
        }
        if (text.StartsWith('\uFEFF')) text = text[1..];

        var records = StylesCsv.Parse(text);
        var styles = new OrderedDictionary<string, Style>(StringComparer.Ordinal);
        if (records.Count == 0) return [];
        // csv.DictReader: the first record names the columns (a later duplicate column wins); short rows are null-padded.
        var header = records[0];
        int Column(string name) => header.LastIndexOf(name);
        int nameColumn = Column("name"), promptColumn = Column("prompt"), textColumn = Column("text"), negativeColumn = Column("negative_prompt");
        foreach (var row in records.Skip(1))
        {
            if (row.Count == 0) continue; // blank line
            string? Field(int column) => column >= 0 && column < row.Count ? row[column] : null;
            string? name = Field(nameColumn);
            if (nameColumn < 0 || (promptColumn < 0 && textColumn < 0) || name is null)
                throw new RedraftInputException(
                    $"styles file {path}: a row has no name or no prompt; the first line must name the columns: name,prompt,negative_prompt.");
            if (name.StartsWith('#')) continue;
            string? prompt = promptColumn >= 0 ? Field(promptColumn) : Field(textColumn);
            string? negative = negativeColumn >= 0 ? Field(negativeColumn) : "";
            styles[name] = new Style(name, prompt, negative);
        }
        return [.. styles.Values];
    }
}
