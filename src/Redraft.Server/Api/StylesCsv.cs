using System.Text;

namespace Redraft.Server.Api;

/// <summary>
/// Reads CSV the way AUTOMATIC1111 reads <c>styles.csv</c>: Python's <c>csv</c> module with the default "excel"
/// dialect and <c>skipinitialspace=True</c>, on a file opened with <c>newline=''</c>. Fields are separated by commas;
/// a field starting with <c>"</c> is quoted (<c>""</c> inside is one quote; commas and line breaks are kept); spaces
/// right after a comma or at the start of a record are dropped; a record ends at <c>\r\n</c>, <c>\n</c> or <c>\r</c>
/// outside quotes; a line with nothing on it is an empty record (<c>csv.DictReader</c> skips those).
/// Like Python's non-strict reader, text after a closing quote is appended to the field (<c>"a"b</c> reads
/// <c>ab</c>) and a quote inside an unquoted field is an ordinary character.
/// </summary>
internal static class StylesCsv
{
    private enum State { StartRecord, StartField, InField, InQuotedField, QuoteInQuotedField }

    /// <summary>The records of <paramref name="text"/>, each a list of fields (empty for a blank line).</summary>
    public static List<List<string>> Parse(string text)
    {
        var records = new List<List<string>>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var state = State.StartRecord;
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            switch (state)
            {
                case State.StartRecord:
                    if (c is '\r' or '\n')
                    {
                        records.Add([]); // a blank line
                        i += c == '\r' && i + 1 < text.Length && text[i + 1] == '\n' ? 2 : 1;
                        continue;
                    }
                    state = State.StartField;
                    continue; // the same character starts the first field
                case State.StartField:
                    if (c is '\r' or '\n')
                    {
                        fields.Add("");
                        EndRecord(ref i);
                        continue;
                    }
                    if (c == '"') state = State.InQuotedField;
                    else if (c == ' ') { } // skipinitialspace
                    else if (c == ',') fields.Add("");
                    else
                    {
                        field.Append(c);
                        state = State.InField;
                    }
                    break;
                case State.InField:
                    if (c is '\r' or '\n')
                    {
                        SaveField();
                        EndRecord(ref i);
                        continue;
                    }
                    if (c == ',')
                    {
                        SaveField();
                        state = State.StartField;
                    }
                    else field.Append(c);
                    break;
                case State.InQuotedField:
                    if (c == '"') state = State.QuoteInQuotedField;
                    else field.Append(c);
                    break;
                case State.QuoteInQuotedField:
                    if (c == '"')
                    {
                        field.Append('"');
                        state = State.InQuotedField;
                    }
                    else if (c == ',')
                    {
                        SaveField();
                        state = State.StartField;
                    }
                    else if (c is '\r' or '\n')
                    {
                        SaveField();
                        EndRecord(ref i);
                        continue;
                    }
                    else
                    {
                        field.Append(c);
                        state = State.InField;
                    }
                    break;
            }
            i++;
        }
        // End of text: Python ends the last record as if a line break followed (an open quoted field included).
        if (state != State.StartRecord)
        {
            SaveField();
            records.Add(fields);
        }
        return records;

        void SaveField()
        {
            fields.Add(field.ToString());
            field.Clear();
        }

        void EndRecord(ref int at)
        {
            records.Add(fields);
            fields = [];
            state = State.StartRecord;
            at += text[at] == '\r' && at + 1 < text.Length && text[at + 1] == '\n' ? 2 : 1;
        }
    }
}
