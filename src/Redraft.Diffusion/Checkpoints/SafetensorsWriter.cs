using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>Writes <c>.safetensors</c> files atomically and without buffering the whole file in memory.</summary>
internal static class SafetensorsWriter
{
    private const string MetadataKey = "__metadata__";

    /// <summary>
    /// Writes <paramref name="tensors"/> (in the given order) and optional <paramref name="metadata"/> to
    /// <paramref name="path"/>. The data goes to a temporary file in the same folder that is then renamed over
    /// the target, so readers see either the old file or the complete new one; on failure the temporary file
    /// is deleted and the target is left untouched. Tensors on other devices or non-contiguous tensors are
    /// copied to contiguous CPU tensors one at a time; the caller's tensors are not modified or disposed.
    /// </summary>
    /// <exception cref="ArgumentException">A name is repeated or reserved, or a tensor's dtype has no safetensors equivalent.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);

        var entries = tensors.ToList();
        var declared = entries.Select(e =>
        {
            ArgumentNullException.ThrowIfNull(e.Key, nameof(tensors));
            ArgumentNullException.ThrowIfNull(e.Value, $"tensor '{e.Key}'");
            return new DeclaredTensor(e.Key, e.Value.dtype, e.Value.shape);
        }).ToList();
        Write(path, declared, entries, metadata);
    }

    /// <summary>
    /// As <see cref="Write(string, IEnumerable{KeyValuePair{string, torch.Tensor}}, IReadOnlyDictionary{string, string}?)"/>,
    /// streaming: the header is built from <paramref name="declared"/>, then <paramref name="values"/> is enumerated
    /// once and each value written as it comes, so a producer that makes one tensor at a time (and frees it when the
    /// enumeration moves on) keeps only that one in memory. The values must come in the declared order with the
    /// declared names, dtypes and shapes; otherwise <see cref="InvalidOperationException"/> and nothing is written.
    /// </summary>
    /// <exception cref="ArgumentException">A name is repeated or reserved, or a dtype has no safetensors equivalent.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void Write(string path, IReadOnlyList<DeclaredTensor> declared,
        IEnumerable<KeyValuePair<string, torch.Tensor>> values, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(declared);
        ArgumentNullException.ThrowIfNull(values);

        var header = BuildHeader(declared, metadata);

        AtomicFile.Write(path, file =>
        {
            // Not disposed: that would close the file before AtomicFile flushes it to disk.
            var stream = new BufferedStream(file, 1 << 16);
            Span<byte> length = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            int index = 0;
            foreach (var (name, tensor) in values)
            {
                if (index >= declared.Count)
                    throw new InvalidOperationException($"tensor '{name}' was not declared ({declared.Count} were).");
                var expected = declared[index++];
                if (name != expected.Name || tensor is null || !expected.Matches(tensor))
                    throw new InvalidOperationException($"tensor '{name}' does not match its declaration {expected}.");
                WriteData(stream, tensor);
            }
            if (index != declared.Count)
                throw new InvalidOperationException($"{declared.Count} tensors were declared but {index} given.");
            stream.Flush();
        });
    }

    private static byte[] BuildHeader(IReadOnlyList<DeclaredTensor> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    ArgumentNullException.ThrowIfNull(value, $"{nameof(metadata)}[{key}]");
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            long offset = 0;
            foreach (var entry in entries)
            {
                ArgumentNullException.ThrowIfNull(entry, nameof(entries));
                var (name, scalarType, shape) = entry;
                ArgumentNullException.ThrowIfNull(name, nameof(entries));
                if (name == MetadataKey)
                    throw new ArgumentException($"'{MetadataKey}' is reserved and cannot name a tensor.", nameof(entries));
                if (!seen.Add(name))
                    throw new ArgumentException($"tensor '{name}' is given twice.", nameof(entries));
                var dtype = SafetensorsDTypeExtensions.FromScalarType(scalarType)
                    ?? throw new ArgumentException($"tensor '{name}' has dtype {scalarType}, which safetensors files cannot hold here.", nameof(entries));

                long bytes = shape.Aggregate(1L, (a, b) => checked(a * b)) * dtype.ElementSize();
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype.HeaderName());
                json.WriteStartArray("shape");
                foreach (var dim in shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }

        // Pad with spaces so the data section starts 8-byte aligned (8-byte length field + header).
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static void WriteData(Stream stream, torch.Tensor tensor)
    {
        torch.Tensor? onCpu = null;
        torch.Tensor? contiguous = null;
        try
        {
            var source = tensor;
            if (source.device_type != DeviceType.CPU) source = onCpu = source.cpu();
            if (!source.is_contiguous()) source = contiguous = source.contiguous();
            TensorMemory.ForEachChunk(source, (chunk, _) => stream.Write(chunk));
        }
        finally
        {
            contiguous?.Dispose();
            onCpu?.Dispose();
        }
    }
}
