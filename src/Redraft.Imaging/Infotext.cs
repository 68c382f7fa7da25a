using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Redraft.Imaging;

/// <summary>
/// The low-level pieces of AUTOMATIC1111's infotext ("generation parameters") format, following
/// <c>modules/infotext_utils.py</c> (<c>quote</c>, <c>unquote</c>, <c>re_param</c>) and
/// <c>processing.create_infotext</c>. <see cref="GenerationInfo"/> builds on these.
/// </summary>
internal static partial class Infotext
{
    /// <summary>A1111's <c>re_param</c>: one <c>key: value</c> pair, the value optionally JSON-quoted.</summary>
    [GeneratedRegex("""\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)""", RegexOptions.CultureInvariant)]
    internal static partial Regex ParamRegex();

    /// <summary>A1111's <c>re_imagesize</c>: <c>512x768</c>.</summary>
    [GeneratedRegex("^([0-9]+)x([0-9]+)$", RegexOptions.CultureInvariant)]
    internal static partial Regex SizeRegex();

    /// <summary>A valid parameter key, one that <see cref="ParamRegex"/> reads back whole.</summary>
    [GeneratedRegex(@"^\w[\w \-/]*\w$", RegexOptions.CultureInvariant)]
    internal static partial Regex KeyRegex();

    /// <summary>
    /// A1111's <c>quote</c>: values containing a comma, newline or colon become a JSON string
    /// literal as Python's <c>json.dumps(v, ensure_ascii=False)</c> writes it; others stay as they are.
    /// One addition: a value that starts with a double quote is quoted too, because A1111's own
    /// parser would otherwise strip its quotes (A1111 reads the quoted form back correctly).
    /// </summary>
    public static string Quote(string value)
    {
        if (!value.Contains(',') && !value.Contains('\n') && !value.Contains(':') && !value.StartsWith('"'))
            return value;

        var sb = new StringBuilder(value.Length + 2);
        sb.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < ' ')
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else
                        sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
        return sb.ToString();
    }

    /// <summary>
    /// A1111's <c>unquote</c>: a value in double quotes is decoded as a JSON string; if that
    /// fails, or it is not quoted, it is returned unchanged.
    /// </summary>
    public static string Unquote(string value)
    {
        if (value.Length == 0 || value[0] != '"' || value[^1] != '"')
            return value;
        try
        {
            return JsonSerializer.Deserialize<string>(value) ?? value;
        }
        catch (JsonException)
        {
            return value;
        }
    }

    /// <summary>
    /// A number as A1111 shows it: culture-invariant, shortest form that round-trips,
    /// no trailing <c>.0</c> for whole numbers (<c>7</c>, <c>7.5</c>, <c>0.75</c>).
    /// </summary>
    public static string FormatNumber(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
