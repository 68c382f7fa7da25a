using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Redraft.Imaging;

/// <summary>
/// A minimal PNG chunk reader and writer (SkiaSharp has no chunk API): builds text chunks,
/// inserts chunks into an encoded PNG, and reads the text chunks back.
/// </summary>
/// <remarks>
/// Chunk layout (PNG spec §5.3): 4-byte big-endian data length, 4-byte ASCII type, data,
/// 4-byte big-endian CRC-32 over type and data. The file starts with an 8-byte signature
/// and the first chunk is IHDR. Problems in the input are reported as
/// <see cref="InvalidDataException"/>; callers add the file name.
/// </remarks>
internal static class PngChunks
{
    /// <summary>The 8-byte PNG file signature.</summary>
    public static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Largest text chunk (compressed or not) or decompressed text accepted when reading.</summary>
    public const int MaxTextBytes = 16 * 1024 * 1024;

    /// <summary>Encodes one whole chunk: length, type, data and CRC.</summary>
    public static byte[] Build(string type, ReadOnlySpan<byte> data)
    {
        if (type.Length != 4 || !type.All(char.IsAsciiLetter))
            throw new ArgumentException($"Invalid PNG chunk type '{type}'.", nameof(type));
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)data.Length);
        Encoding.ASCII.GetBytes(type, chunk.AsSpan(4, 4));
        data.CopyTo(chunk.AsSpan(8));
        uint crc = Crc32.Compute(chunk.AsSpan(4, 4 + data.Length));
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), crc);
        return chunk;
    }

    /// <summary>
    /// Builds a text chunk the way Pillow's <c>PngInfo.add_text</c> does (which A1111 uses):
    /// <c>tEXt</c> when the value is Latin-1, otherwise an uncompressed <c>iTXt</c> with UTF-8
    /// text and empty language tag and translated keyword.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The keyword is not 1–79 printable Latin-1 characters, or the text contains NUL.
    /// </exception>
    public static byte[] BuildText(string keyword, string text)
    {
        ValidateKeyword(keyword);
        ArgumentNullException.ThrowIfNull(text);
        if (text.Contains('\0'))
            throw new ArgumentException($"PNG text '{keyword}' must not contain NUL characters.", nameof(text));

        byte[] key = Encoding.Latin1.GetBytes(keyword);
        if (IsLatin1(text))
        {
            byte[] value = Encoding.Latin1.GetBytes(text);
            var data = new byte[key.Length + 1 + value.Length];
            key.CopyTo(data, 0);
            value.CopyTo(data, key.Length + 1);
            return Build("tEXt", data);
        }
        else
        {
            byte[] value = Encoding.UTF8.GetBytes(text);
            // keyword NUL, compression flag 0, method 0, language "" NUL, translated keyword "" NUL, text
            var data = new byte[key.Length + 5 + value.Length];
            key.CopyTo(data, 0);
            value.CopyTo(data, key.Length + 5);
            return Build("iTXt", data);
        }
    }

    /// <summary>
    /// Returns a copy of <paramref name="png"/> with <paramref name="chunks"/> (whole encoded
    /// chunks from <see cref="Build"/>) inserted right after IHDR.
    /// </summary>
    public static byte[] InsertAfterIhdr(ReadOnlySpan<byte> png, IReadOnlyList<byte[]> chunks)
    {
        if (png.Length < 8 + 12 || !png[..8].SequenceEqual(Signature))
            throw new InvalidDataException("not a PNG file");
        uint ihdrLength = BinaryPrimitives.ReadUInt32BigEndian(png[8..]);
        if (!png.Slice(12, 4).SequenceEqual("IHDR"u8) || ihdrLength != 13 || png.Length < 8 + 12 + 13)
            throw new InvalidDataException("PNG does not start with a valid IHDR chunk");
        int split = 8 + 12 + 13;

        int extra = chunks.Sum(c => c.Length);
        var result = new byte[png.Length + extra];
        png[..split].CopyTo(result);
        int at = split;
        foreach (byte[] chunk in chunks)
        {
            chunk.CopyTo(result, at);
            at += chunk.Length;
        }
        png[split..].CopyTo(result.AsSpan(at));
        return result;
    }

    /// <summary>
    /// Reads all tEXt, zTXt and iTXt chunks of the PNG in <paramref name="stream"/>, in file order.
    /// A keyword that appears twice keeps its first position and its last value (as Pillow does).
    /// CRCs of text chunks are verified; other chunks are skipped unread.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a PNG, truncated, or a malformed text chunk.</exception>
    public static OrderedDictionary<string, string> ReadText(Stream stream)
    {
        var result = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        Span<byte> header = stackalloc byte[8];
        Span<byte> crcBytes = stackalloc byte[4];
        if (!TryReadExactly(stream, header) || !header.SequenceEqual(Signature))
            throw new InvalidDataException("not a PNG file");

        bool first = true;
        while (true)
        {
            if (!TryReadExactly(stream, header))
                throw new InvalidDataException("truncated PNG (no IEND chunk)");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
            string type = Encoding.Latin1.GetString(header[4..]);
            if (length > int.MaxValue || !type.All(char.IsAsciiLetter))
                throw new InvalidDataException("corrupt PNG chunk header");
            if (first && type != "IHDR")
                throw new InvalidDataException("PNG does not start with IHDR");
            first = false;

            if (type is "tEXt" or "zTXt" or "iTXt")
            {
                if (length > MaxTextBytes)
                    throw new InvalidDataException($"{type} chunk too large ({length} bytes)");
                var data = new byte[length];
                if (!TryReadExactly(stream, data) || !TryReadExactly(stream, crcBytes))
                    throw new InvalidDataException($"truncated {type} chunk");
                uint expected = BinaryPrimitives.ReadUInt32BigEndian(crcBytes);
                uint actual = Crc32.Append(Crc32.Compute(header[4..]), data);
                if (expected != actual)
                    throw new InvalidDataException($"CRC mismatch in {type} chunk");
                var (key, value) = DecodeText(type, data);
                result[key] = value;
            }
            else
            {
                Skip(stream, (long)length + 4, type);
            }

            if (type == "IEND")
                return result;
        }
    }

    /// <summary>Decodes the data of a tEXt, zTXt or iTXt chunk into keyword and text.</summary>
    internal static (string Key, string Value) DecodeText(string type, byte[] data)
    {
        int nul = Array.IndexOf(data, (byte)0);
        if (nul < 1 || nul > 79)
            throw new InvalidDataException($"{type} chunk has an invalid keyword");
        string key = Encoding.Latin1.GetString(data, 0, nul);
        int p = nul + 1;
        switch (type)
        {
            case "tEXt":
                return (key, Encoding.Latin1.GetString(data, p, data.Length - p));
            case "zTXt":
                if (p >= data.Length || data[p] != 0)
                    throw new InvalidDataException("zTXt chunk has an unknown compression method");
                return (key, Encoding.Latin1.GetString(Inflate(data.AsSpan(p + 1))));
            default: // iTXt
                if (p + 2 > data.Length)
                    throw new InvalidDataException("truncated iTXt chunk");
                byte compressed = data[p], method = data[p + 1];
                p += 2;
                int languageEnd = Array.IndexOf(data, (byte)0, p);
                if (languageEnd < 0) throw new InvalidDataException("truncated iTXt chunk");
                int translatedEnd = Array.IndexOf(data, (byte)0, languageEnd + 1);
                if (translatedEnd < 0) throw new InvalidDataException("truncated iTXt chunk");
                p = translatedEnd + 1;
                ReadOnlySpan<byte> text = data.AsSpan(p);
                if (compressed == 1)
                {
                    if (method != 0) throw new InvalidDataException("iTXt chunk has an unknown compression method");
                    return (key, Encoding.UTF8.GetString(Inflate(text)));
                }
                if (compressed != 0) throw new InvalidDataException("iTXt chunk has an invalid compression flag");
                return (key, Encoding.UTF8.GetString(text));
        }
    }

    private static byte[] Inflate(ReadOnlySpan<byte> compressed)
    {
        try
        {
            using var input = new MemoryStream(compressed.ToArray());
            using var zlib = new ZLibStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = zlib.Read(buffer)) > 0)
            {
                if (output.Length + n > MaxTextBytes)
                    throw new InvalidDataException("compressed PNG text expands beyond 16 MB");
                output.Write(buffer, 0, n);
            }
            return output.ToArray();
        }
        catch (IOException ex)
        {
            throw new InvalidDataException("corrupt compressed PNG text", ex);
        }
    }

    private static bool IsLatin1(string text)
    {
        foreach (char c in text)
            if (c > '\u00FF') return false;
        return true;
    }

    private static void ValidateKeyword(string keyword)
    {
        ArgumentNullException.ThrowIfNull(keyword);
        bool ok = keyword.Length is >= 1 and <= 79
            && keyword.All(c => c is (>= ' ' and <= '~') or (>= '\u00A1' and <= '\u00FF'))
            && keyword[0] != ' ' && keyword[^1] != ' ' && !keyword.Contains("  ");
        if (!ok)
            throw new ArgumentException(
                $"Invalid PNG text keyword '{keyword}': 1-79 printable Latin-1 characters, no leading, trailing or double spaces.",
                nameof(keyword));
    }

    private static bool TryReadExactly(Stream stream, Span<byte> buffer)
    {
        try
        {
            stream.ReadExactly(buffer);
            return true;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
    }

    private static void Skip(Stream stream, long count, string type)
    {
        if (stream.CanSeek)
        {
            if (stream.Length - stream.Position < count)
                throw new InvalidDataException($"truncated {type} chunk");
            stream.Seek(count, SeekOrigin.Current);
            return;
        }
        var buffer = new byte[(int)Math.Min(count, 81920)];
        while (count > 0)
        {
            int n = stream.Read(buffer, 0, (int)Math.Min(count, buffer.Length));
            if (n == 0) throw new InvalidDataException($"truncated {type} chunk");
            count -= n;
        }
    }
}
