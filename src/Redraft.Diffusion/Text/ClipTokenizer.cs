using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Redraft.Diffusion.Text;

/// <summary>
/// The CLIP byte-level BPE tokenizer used by Stable Diffusion's text encoders
/// (the <c>openai/clip-vit-large-patch14</c> vocabulary: <c>vocab.json</c> + <c>merges.txt</c>).
/// </summary>
/// <remarks>
/// <para>
/// Text is normalised the way the Hugging Face fast CLIP tokenizer does it: Unicode NFC, every run of
/// whitespace collapsed to one space, ends trimmed, lower-cased. It is then split with CLIP's
/// word pattern (the two special tokens, the English contractions, letter runs, single digits, runs of
/// other non-space characters) and each piece is byte-level BPE-encoded with <c>&lt;/w&gt;</c> marking
/// the end of the word. The BPE itself is Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>.
/// </para>
/// <para>
/// Skipped on purpose: the <c>ftfy.fix_text</c> repair and the double HTML unescaping that OpenAI's
/// original tokenizer runs first. They only change exotic input (mojibake, curly quotes, control
/// characters, HTML entities such as <c>&amp;amp;</c>); ordinary prompts encode identically. Special
/// token text (<c>&lt;|startoftext|&gt;</c>, <c>&lt;|endoftext|&gt;</c>, any case) inside a prompt becomes
/// the special id, as in the Hugging Face tokenizers.
/// </para>
/// <para>Instances are immutable and safe to use from several threads.</para>
/// </remarks>
internal sealed class ClipTokenizer
{
    /// <summary>Id of <c>&lt;|startoftext|&gt;</c>, the token that opens every 77-token row.</summary>
    public const int Bos = 49406;

    /// <summary>Id of <c>&lt;|endoftext|&gt;</c>, the token that closes every row (and pads SD 1.x rows).</summary>
    public const int Eos = 49407;

    /// <summary>Name of the vocabulary file (token → id JSON object).</summary>
    public const string VocabFileName = "vocab.json";

    /// <summary>Name of the merges file (one "left right" pair per line, by rank).</summary>
    public const string MergesFileName = "merges.txt";

    private const string StartOfText = "<|startoftext|>";
    private const string EndOfText = "<|endoftext|>";

    // CLIP's word pattern; the input is already lower-cased, so no IgnoreCase is needed.
    private const string WordPattern =
        @"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

    private static readonly Regex WhitespaceRun = new(@"\s+", RegexOptions.Compiled | RegexOptions.CultureInvariant);

    private readonly BpeTokenizer _bpe;

    private ClipTokenizer(BpeTokenizer bpe, int vocabularySize)
    {
        _bpe = bpe;
        VocabularySize = vocabularySize;
    }

    /// <summary>Number of entries in the vocabulary (49,408 for CLIP, including the two special tokens).</summary>
    public int VocabularySize { get; }

    /// <summary>
    /// Loads <c>vocab.json</c> and <c>merges.txt</c> from <paramref name="directory"/>
    /// (use <see cref="TokenizerLocator.Locate(string?, string?)"/> to find it).
    /// </summary>
    /// <param name="directory">A folder holding both vocabulary files.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="RedraftInputException">A file is missing, or the files are not a CLIP vocabulary.</exception>
    public static ClipTokenizer Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string vocabPath = Path.Combine(directory, VocabFileName);
        string mergesPath = Path.Combine(directory, MergesFileName);
        foreach (string path in new[] { vocabPath, mergesPath })
        {
            if (!File.Exists(path))
            {
                throw new RedraftInputException(
                    $"CLIP vocabulary file not found: {path}. The folder must hold both {VocabFileName} and {MergesFileName}.");
            }
            InputFile.EnsureRegular(path, "CLIP vocabulary file", 64L << 20);
        }

        var specialTokens = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            [StartOfText] = Bos,
            [EndOfText] = Eos,
        };

        BpeTokenizer bpe;
        try
        {
            var options = new BpeOptions(vocabPath, mergesPath)
            {
                EndOfWordSuffix = "</w>",
                ByteLevel = true,
                Normalizer = null, // ClipTokenizer normalises itself (NFC, whitespace, lower case).
                PreTokenizer = new RegexPreTokenizer(
                    new Regex(WordPattern, RegexOptions.Compiled | RegexOptions.CultureInvariant),
                    specialTokens),
                SpecialTokens = specialTokens,
            };
            bpe = BpeTokenizer.Create(options);
        }
        catch (Exception e) when (e is not RedraftInputException)
        {
            throw new RedraftInputException(
                $"Could not read the CLIP vocabulary in {directory} ({e.Message}). Replace {VocabFileName} and {MergesFileName} with the files of openai/clip-vit-large-patch14.",
                e);
        }

        int size = bpe.Vocabulary.Count;
        if (!bpe.Vocabulary.TryGetValue(StartOfText, out int bos) || bos != Bos
            || !bpe.Vocabulary.TryGetValue(EndOfText, out int eos) || eos != Eos)
        {
            throw new RedraftInputException(
                $"The vocabulary in {directory} is not CLIP's: expected {StartOfText}={Bos} and {EndOfText}={Eos}. Use the files of openai/clip-vit-large-patch14.");
        }

        return new ClipTokenizer(bpe, size);
    }

    /// <summary>
    /// Encodes <paramref name="text"/> to token ids, without the <see cref="Bos"/>/<see cref="Eos"/> frame
    /// and without truncation.
    /// </summary>
    /// <param name="text">Any text; empty or whitespace-only text gives no ids.</param>
    /// <returns>The token ids.</returns>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string normalized = Normalize(text);
        if (normalized.Length == 0)
        {
            return Array.Empty<int>();
        }

        return _bpe.EncodeToIds(normalized, considerPreTokenization: true, considerNormalization: false);
    }

    /// <summary>NFC (see <see cref="UnicodeNfc"/>), whitespace runs → one space, trimmed, lower-cased (invariant).</summary>
    internal static string Normalize(string text)
    {
        if (text.Length == 0)
        {
            return text;
        }

        string s = UnicodeNfc.Normalize(text);
        s = WhitespaceRun.Replace(s, " ").Trim();
        return PythonLower(s);
    }

    /// <summary>
    /// Python's <c>str.lower()</c>, which CLIP's reference tokenizer calls: the simple case mapping (.NET's invariant
    /// lower case, length-preserving) plus Python's two differences: İ (U+0130) becomes "i̇" (i + combining dot,
    /// its full mapping), and Σ becomes final ς at the end of a word (Unicode's Final_Sigma condition).
    /// </summary>
    internal static string PythonLower(string s)
    {
        string lower = s.ToLower(CultureInfo.InvariantCulture);
        if (s.IndexOf('\u0130') < 0 && s.IndexOf('\u03A3') < 0) return lower;
        var result = new System.Text.StringBuilder(s.Length + 4);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\u0130') result.Append("i\u0307");
            else if (s[i] == '\u03A3') result.Append(IsFinalSigma(s, i) ? '\u03C2' : '\u03C3');
            else result.Append(lower[i]);
        }
        return result.ToString();
    }

    /// <summary>Final_Sigma: a cased letter before (skipping case-ignorables) and none after (likewise).</summary>
    private static bool IsFinalSigma(string s, int at)
    {
        int j = at - 1;
        while (j >= 0 && IsCaseIgnorable(s[j])) j--;
        if (j < 0 || !IsCased(s[j])) return false;
        j = at + 1;
        while (j < s.Length && IsCaseIgnorable(s[j])) j++;
        return j == s.Length || !IsCased(s[j]);
    }

    private static bool IsCased(char c) => char.IsUpper(c) || char.IsLower(c)
        || char.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;

    private static bool IsCaseIgnorable(char c) =>
        char.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol
        || c is '\'' or '.' or ':' or '\u00B7' or '\u0387' or '\u05F4' or '\u2018' or '\u2019' or '\u2024' or '\u2027'
            or '\uFE13' or '\uFE52' or '\uFE55' or '\uFF07' or '\uFF0E' or '\uFF1A';
}
