using System.Text;
using System.Text.Json;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// A safetensors header (the JSON after the 8-byte length field), validated completely: every tensor's dtype, shape
/// and byte span are consistent, inside the data section and non-overlapping. The JSON is read in one forward pass
/// with no document tree, so the work is linear in the header's size and a header with too many entries is refused
/// as soon as the limit is passed.
/// </summary>
internal sealed class SafetensorsHeader
{
    /// <summary>
    /// Most entries (tensors plus metadata items) a header may list. An SDXL checkpoint has about 2,500 tensors, a
    /// LoRA for it a few thousand; the largest models published (mixtures of experts with a tensor per expert)
    /// have under 100,000 across all their files. A bound keeps a hostile header from making the reader allocate
    /// and sort millions of entries; at this bound the header parses in well under a second.
    /// </summary>
    public const int MaxEntries = 100_000;

    /// <summary>What to do about a file that is cut short or not safetensors.</summary>
    internal const string Redownload = "the file is truncated or not a safetensors file — download it again";

    private const string MetadataKey = "__metadata__";
    private const string Corrupt = "the file is corrupt or not a safetensors file — download it again";

    private SafetensorsHeader(Dictionary<string, TensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>All tensors by name, in header order.</summary>
    public Dictionary<string, TensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public Dictionary<string, string> Metadata { get; }

    /// <summary>Parses and validates <paramref name="json"/> for a data section of <paramref name="dataLength"/> bytes.</summary>
    /// <exception cref="CheckpointFormatException">The header is malformed; the message names <paramref name="path"/>.</exception>
    public static SafetensorsHeader Parse(string path, ReadOnlySpan<byte> json, long dataLength)
    {
        // The reader checks UTF-8 only where it decodes a string, so check it all up front.
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new CheckpointFormatException($"{path}: header is not valid UTF-8 JSON (invalid UTF-8 bytes); {Redownload}.");

        var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 16 });
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
                throw new CheckpointFormatException($"{path}: header is a JSON {Kind(reader.TokenType)}, not an object; {Redownload}.");

            bool sawMetadata = false;
            int entries = 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = ReadString(path, ref reader);
                reader.Read();
                if (name != MetadataKey && ++entries > MaxEntries) throw TooMany(path);
                if (name == MetadataKey)
                {
                    if (sawMetadata)
                        throw new CheckpointFormatException($"{path}: header has two {MetadataKey} entries; the file is corrupt — download it again.");
                    sawMetadata = true;
                    entries += ParseMetadata(path, ref reader, metadata, MaxEntries - entries);
                    continue;
                }
                if (tensors.ContainsKey(name))
                    throw new CheckpointFormatException($"{path}: tensor {Quote(name)}: listed twice in the header; the file is corrupt — download it again.");
                tensors.Add(name, ParseEntry(path, name, ref reader, dataLength));
            }
            // Past the root object only whitespace (the format's padding) may follow: anything else throws here.
            reader.Read();
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException($"{path}: header is not valid UTF-8 JSON ({OneLine(e.Message)}); {Redownload}.", e);
        }

        CheckOverlaps(path, tensors.Values);
        return new SafetensorsHeader(tensors, metadata);
    }

    /// <summary>Reads the metadata object the reader is on; returns how many items it held.</summary>
    private static int ParseMetadata(string path, ref Utf8JsonReader reader, Dictionary<string, string> metadata, int room)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new CheckpointFormatException(
                $"{path}: {MetadataKey} is a JSON {Kind(reader.TokenType)}, not an object of strings; the file is corrupt — download it again.");
        int count = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (++count > room) throw TooMany(path);
            string key = ReadString(path, ref reader);
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw new CheckpointFormatException(
                    $"{path}: {MetadataKey} entry {Quote(key)} is a JSON {Kind(reader.TokenType)}, not a string; the file is corrupt — download it again.");
            if (!metadata.TryAdd(key, ReadString(path, ref reader)))
                throw new CheckpointFormatException(
                    $"{path}: {MetadataKey} entry {Quote(key)} is listed twice; the file is corrupt — download it again.");
        }
        return count;
    }

    /// <summary>Reads the tensor entry object the reader is on. Unknown fields are skipped; a known one twice is refused.</summary>
    private static TensorInfo ParseEntry(string path, string name, ref Utf8JsonReader reader, long dataLength)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new CheckpointFormatException($"{Where(path, name)}: header entry is a JSON {Kind(reader.TokenType)}, not an object; {Corrupt}.");

        SafetensorsDType? dtype = null;
        long[]? shape = null;
        (long Begin, long End)? offsets = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("dtype"u8))
            {
                if (dtype is not null) throw Twice(path, name, "dtype");
                reader.Read();
                dtype = ReadDType(path, name, ref reader);
            }
            else if (reader.ValueTextEquals("shape"u8))
            {
                if (shape is not null) throw Twice(path, name, "shape");
                reader.Read();
                shape = ReadShape(path, name, ref reader);
            }
            else if (reader.ValueTextEquals("data_offsets"u8))
            {
                if (offsets is not null) throw Twice(path, name, "data_offsets");
                reader.Read();
                offsets = ReadOffsets(path, name, ref reader);
            }
            else
            {
                reader.Skip();
            }
        }

        if (dtype is not { } type) throw new CheckpointFormatException($"{Where(path, name)}: header entry has no dtype; {Corrupt}.");
        if (shape is null) throw new CheckpointFormatException($"{Where(path, name)}: header entry has no shape; {Corrupt}.");
        if (offsets is not var (begin, end)) throw new CheckpointFormatException($"{Where(path, name)}: header entry has no data_offsets; {Corrupt}.");
        if (begin > end)
            throw new CheckpointFormatException($"{Where(path, name)}: data_offsets [{begin}, {end}] end before they begin; {Corrupt}.");

        long expected;
        try
        {
            expected = type.ElementSize();
            foreach (var dim in shape) expected = checked(expected * dim);
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException($"{Where(path, name)}: shape [{Dims(shape)}] is too large to address; {Corrupt}.");
        }
        if (expected != end - begin)
            throw new CheckpointFormatException(
                $"{Where(path, name)}: shape [{Dims(shape)}] × {type} ({type.ElementSize()} bytes) needs {expected} bytes but data_offsets [{begin}, {end}] span {end - begin}; {Corrupt}.");

        if (end > dataLength)
            throw new CheckpointFormatException(
                $"{Where(path, name)}: data_offsets [{begin}, {end}] reach past the end of the data section ({dataLength} bytes); {Redownload}.");

        return new TensorInfo(name, type, shape, begin, end);
    }

    private static SafetensorsDType ReadDType(string path, string name, ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
            throw new CheckpointFormatException($"{Where(path, name)}: dtype is a JSON {Kind(reader.TokenType)}, not a string; {Corrupt}.");
        string dtypeName = ReadString(path, ref reader);
        if (!SafetensorsDTypeExtensions.TryParseHeaderName(dtypeName, out var dtype))
            throw new CheckpointFormatException(
                $"{Where(path, name)}: unknown dtype {Quote(dtypeName)} (supported: {string.Join(", ", Enum.GetNames<SafetensorsDType>())}); convert the checkpoint to F32, F16 or BF16.");
        return dtype;
    }

    private static long[] ReadShape(string path, string name, ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new CheckpointFormatException($"{Where(path, name)}: shape is a JSON {Kind(reader.TokenType)}, not an array; {Corrupt}.");
        var shape = new List<long>(4);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long value))
                throw new CheckpointFormatException($"{Where(path, name)}: shape {Raw(ref reader)} is not an integer dimension; {Corrupt}.");
            if (value < 0)
                throw new CheckpointFormatException($"{Where(path, name)}: shape has a negative dimension ({value}); {Corrupt}.");
            shape.Add(value);
        }
        return shape.ToArray();
    }

    private static (long Begin, long End) ReadOffsets(string path, string name, ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new CheckpointFormatException($"{Where(path, name)}: data_offsets is not a [begin, end] pair; {Corrupt}.");
        Span<long> pair = stackalloc long[2];
        int count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (count == 2)
                throw new CheckpointFormatException($"{Where(path, name)}: data_offsets is not a [begin, end] pair; {Corrupt}.");
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long value))
                throw new CheckpointFormatException(
                    $"{Where(path, name)}: data_offsets value {Raw(ref reader)} is not an integer byte offset; {Corrupt}.");
            if (value < 0)
                throw new CheckpointFormatException($"{Where(path, name)}: data_offsets value {value} is negative; {Corrupt}.");
            pair[count++] = value;
        }
        if (count != 2)
            throw new CheckpointFormatException($"{Where(path, name)}: data_offsets is not a [begin, end] pair; {Corrupt}.");
        return (pair[0], pair[1]);
    }

    private static CheckpointFormatException TooMany(string path) =>
        new($"{path}: header lists more than {MaxEntries} entries (real checkpoints have a few thousand tensors); {Corrupt}.");

    private static CheckpointFormatException Twice(string path, string name, string field) =>
        new($"{Where(path, name)}: header entry has two {field} fields; {Corrupt}.");

    /// <summary>Reads the string (or property name) the reader is on; escapes forming invalid UTF-16 are a format error.</summary>
    private static string ReadString(string path, ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw new CheckpointFormatException($"{path}: header holds an invalid JSON string ({OneLine(e.Message)}); {Redownload}.", e);
        }
    }

    /// <summary>The value the reader is on, as written (shortened), for a message.</summary>
    private static string Raw(ref Utf8JsonReader reader)
    {
        const int Limit = 40;
        string text = reader.TokenType switch
        {
            JsonTokenType.StartArray => "[…]",
            JsonTokenType.StartObject => "{…}",
            JsonTokenType.String => "\"" + Encoding.UTF8.GetString(reader.ValueSpan) + "\"",
            _ => Encoding.UTF8.GetString(reader.ValueSpan),
        };
        return text.Length > Limit ? text[..Limit] + "…" : text;
    }

    private static void CheckOverlaps(string path, IEnumerable<TensorInfo> tensors)
    {
        // Empty tensors occupy no bytes and can sit anywhere (even inside another span). Sorting keeps this O(n log n).
        var ordered = tensors.Where(t => t.ByteLength > 0).ToArray();
        Array.Sort(ordered, (a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        TensorInfo? previous = null;
        foreach (var current in ordered)
        {
            if (previous is not null && current.Begin < previous.End)
                throw new CheckpointFormatException(
                    $"{path}: tensor {Quote(current.Name)}: bytes [{current.Begin}, {current.End}) overlap tensor {Quote(previous.Name)} at [{previous.Begin}, {previous.End}); the file is corrupt — download it again.");
            if (previous is null || current.End > previous.End) previous = current;
        }
    }

    private static string Where(string path, string name) => $"{path}: tensor {Quote(name)}";

    /// <summary>The dimensions for a message; a hostile rank is shortened so the message stays one short line.</summary>
    private static string Dims(long[] shape) =>
        shape.Length <= 8 ? string.Join(", ", shape) : string.Join(", ", shape.Take(8)) + $", … ({shape.Length} dimensions)";

    private static string Kind(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString().ToLowerInvariant(),
    };

    /// <summary>Quotes a name for a one-line message, escaping control characters.</summary>
    internal static string Quote(string name)
    {
        const int Limit = 200;
        var builder = new StringBuilder(name.Length + 2);
        builder.Append('\'');
        foreach (char c in name.Length > Limit ? name[..Limit] : name)
        {
            if (char.IsControl(c)) builder.Append($"\\u{(int)c:x4}");
            else builder.Append(c);
        }
        if (name.Length > Limit) builder.Append('…');
        builder.Append('\'');
        return builder.ToString();
    }

    internal static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
