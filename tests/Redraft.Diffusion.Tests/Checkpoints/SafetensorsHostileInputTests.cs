using System.Buffers.Binary;
using System.Text;
using Redraft.Diffusion.Checkpoints;
using TorchSharp;

namespace Redraft.Diffusion.Tests.Checkpoints;

/// <summary>Malformed files must be refused by <see cref="SafetensorsFile.Open"/> with a one-line message naming the problem.</summary>
public sealed class SafetensorsHostileInputTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Writes a hand-made file: u64 little-endian header length, header bytes, data bytes.</summary>
    private string Raw(byte[] header, int dataBytes, ulong? declaredLength = null)
    {
        string path = _temp.File(Guid.NewGuid().ToString("N") + ".safetensors");
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        for (int i = 0; i < dataBytes; i++) bytes[8 + header.Length + i] = (byte)(i * 37 + 1);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Raw(string headerJson, int dataBytes, ulong? declaredLength = null) =>
        Raw(Encoding.UTF8.GetBytes(headerJson), dataBytes, declaredLength);

    private static CheckpointFormatException Rejected(string path, params string[] fragments)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose());
        AssertMessage(e, path, fragments);
        return e;
    }

    private static void AssertMessage(Exception e, string path, params string[] fragments)
    {
        Assert.IsAssignableFrom<RedraftInputException>(e);
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith(path + ":", e.Message);
        foreach (var fragment in fragments) Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void Valid_hand_written_file_opens()
    {
        // Sanity check of the helper: two F32 tensors, a zero-size tensor at an arbitrary offset, metadata.
        string path = Raw("""
            {"__metadata__":{"format":"pt"},
             "a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
             "b":{"dtype":"F16","shape":[1,2],"data_offsets":[8,12]},
             "z":{"dtype":"BF16","shape":[0],"data_offsets":[4,4]}}
            """, 12);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(3, file.Tensors.Count);
        Assert.Equal("pt", file.Metadata["format"]);
        using var z = file.Load("z");
        Assert.Equal(0, z.numel());
    }

    [Fact]
    public void Truncated_data_is_rejected()
    {
        using var t = torch.ones(64);
        string path = _temp.File("cut.safetensors");
        SafetensorsWriter.Write(path, [new("weight", t)]);
        using (var stream = new FileStream(path, FileMode.Open)) stream.SetLength(stream.Length - 10);

        Rejected(path, "'weight'", "past the end of the data section", "truncated");
    }

    [Fact]
    public void Header_length_larger_than_file_is_rejected()
    {
        string path = Raw("{}", 0, declaredLength: 123456);
        Rejected(path, "header says 123456 bytes", "file has only 2", "truncated");
    }

    [Fact]
    public void Header_length_over_limit_is_rejected()
    {
        string path = Raw("{}", 0, declaredLength: ulong.MaxValue);
        Rejected(path, "more than the 100 MB limit");
    }

    [Fact]
    public void Empty_header_is_rejected()
    {
        string path = Raw("", 4);
        Rejected(path, "header is empty");
    }

    [Fact]
    public void Header_not_json_is_rejected()
    {
        string path = Raw("{\"a\": {\"dtype\": F32", 0);
        Rejected(path, "header is not valid UTF-8 JSON");
    }

    [Fact]
    public void Header_invalid_utf8_is_rejected()
    {
        string path = Raw([(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}'], 0);
        Rejected(path, "header is not valid UTF-8 JSON");
    }

    [Fact]
    public void Header_with_lone_surrogate_escape_is_rejected()
    {
        string path = Raw("{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0);
        Rejected(path, "invalid JSON string");
    }

    [Fact]
    public void Header_json_not_an_object_is_rejected()
    {
        Rejected(Raw("[1, 2, 3]", 0), "header is a JSON array, not an object");
        Rejected(Raw("\"hello\"", 0), "header is a JSON string, not an object");
    }

    [Fact]
    public void Offsets_outside_the_data_are_rejected()
    {
        string path = Raw("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", 16);
        Rejected(path, "'w'", "data_offsets [8, 24] reach past the end of the data section (16 bytes)");
    }

    [Fact]
    public void Overlapping_offsets_are_rejected()
    {
        string path = Raw("""
            {"first":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
             "second":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}
            """, 12);
        Rejected(path, "'second'", "overlap", "'first'");
    }

    [Fact]
    public void Identical_spans_are_rejected_as_overlap()
    {
        string path = Raw("""
            {"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},
             "b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}
            """, 4);
        Rejected(path, "overlap");
    }

    [Fact]
    public void Unknown_dtype_is_rejected()
    {
        string path = Raw("""{"q":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,2]}}""", 2);
        Rejected(path, "'q'", "unknown dtype 'Q4_K'");
        Rejected(Raw("""{"q":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}""", 4), "unknown dtype 'f32'");
    }

    [Fact]
    public void Shape_times_dtype_size_not_matching_span_is_rejected()
    {
        string path = Raw("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8);
        Rejected(path, "'w'", "needs 12 bytes but data_offsets [0, 8] span 8");
    }

    [Fact]
    public void Shape_overflow_is_rejected()
    {
        string path = Raw("""{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}""", 0);
        Rejected(path, "'w'", "too large");
    }

    [Fact]
    public void Negative_shape_is_rejected()
    {
        string path = Raw("""{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4);
        Rejected(path, "'w'", "negative dimension");
    }

    [Fact]
    public void Non_integer_shape_is_rejected()
    {
        string path = Raw("""{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", 4);
        Rejected(path, "'w'", "not an integer dimension");
    }

    [Fact]
    public void Begin_after_end_is_rejected()
    {
        string path = Raw("""{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}""", 8);
        Rejected(path, "'w'", "end before they begin");
    }

    [Fact]
    public void Missing_fields_are_rejected()
    {
        Rejected(Raw("""{"w":{"shape":[1],"data_offsets":[0,4]}}""", 4), "'w'", "no dtype");
        Rejected(Raw("""{"w":{"dtype":"F32","data_offsets":[0,4]}}""", 4), "'w'", "no shape");
        Rejected(Raw("""{"w":{"dtype":"F32","shape":[1]}}""", 4), "'w'", "no data_offsets");
        Rejected(Raw("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}""", 4), "'w'", "not a [begin, end] pair");
        Rejected(Raw("""{"w":[1,2]}""", 4), "'w'", "not an object");
    }

    [Fact]
    public void Duplicate_tensor_names_are_rejected()
    {
        string path = Raw("""
            {"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
             "w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}
            """, 8);
        Rejected(path, "'w'", "listed twice");
    }

    [Theory]
    [InlineData("""{"w":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}""", "two dtype fields")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"shape":[2],"data_offsets":[0,4]}}""", "two shape fields")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"data_offsets":[4,8]}}""", "two data_offsets fields")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"dt\u0079pe":"F32"}}""", "two dtype fields")]
    public void Duplicate_fields_inside_one_entry_are_rejected(string header, string expected)
    {
        // A JSON object with a key twice is read differently by different parsers (first or last wins): refuse it,
        // as the reference implementation does, rather than pick one.
        Rejected(Raw(header, 8), "'w'", expected);
    }

    /// <summary>A header of <paramref name="count"/> empty tensors plus one metadata item.</summary>
    private string ManyEntries(int count)
    {
        var header = new StringBuilder(count * 60);
        header.Append("""{"__metadata__":{"format":"pt"}""");
        for (int i = 0; i < count; i++) header.Append(",\"t").Append(i).Append("\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
        header.Append('}');
        return Raw(header.ToString(), 0);
    }

    [Fact]
    public void Header_entries_are_capped()
    {
        using (var file = SafetensorsFile.Open(ManyEntries(SafetensorsHeader.MaxEntries - 1)))
            Assert.Equal(SafetensorsHeader.MaxEntries - 1, file.Tensors.Count);
        Rejected(ManyEntries(SafetensorsHeader.MaxEntries), $"more than {SafetensorsHeader.MaxEntries} entries");
    }

    [Fact]
    public void Header_with_a_million_entries_is_rejected_at_the_cap()
    {
        string path = ManyEntries(1_000_000); // 59 MB of header, under the 100 MB limit
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Rejected(path, "more than 100000 entries");
        // Not a speed claim (see the note for measurements): a bound that a pass quadratic in the entries would break.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Non_string_metadata_is_rejected()
    {
        string path = Raw("""{"__metadata__":{"steps":20}}""", 0);
        Rejected(path, "__metadata__ entry 'steps' is a JSON number, not a string");
    }

    [Fact]
    public void File_shorter_than_8_bytes_is_rejected()
    {
        string path = _temp.File("tiny.safetensors");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5]);
        Rejected(path, "only 5 bytes", "shorter than the 8-byte header length field");

        string empty = _temp.File("empty.safetensors");
        File.WriteAllBytes(empty, []);
        Rejected(empty, "only 0 bytes");
    }

    [Fact]
    public void Nonexistent_file_is_rejected()
    {
        string path = _temp.File("nope.safetensors");
        Rejected(path, "file not found");
        Rejected(_temp.Path, "is a folder");
    }

    [Fact]
    public void Missing_tensor_name_on_load_is_rejected()
    {
        string path = Raw("""{"present":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4);
        using var file = SafetensorsFile.Open(path);
        var e = Assert.Throws<CheckpointFormatException>(() => file.Load("model.diffusion_model.out.2.weight"));
        AssertMessage(e, path, "missing tensor 'model.diffusion_model.out.2.weight'");
        Assert.Throws<CheckpointFormatException>(() => file.Load("absent", torch.ScalarType.Float32));
    }

    [Fact]
    public void Bool_tensor_with_bytes_other_than_0_and_1_is_rejected_on_load()
    {
        string path = Raw("""{"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}}""", 3); // helper fills 1, 38, 75
        using var file = SafetensorsFile.Open(path);
        var e = Assert.Throws<CheckpointFormatException>(() => file.Load("b"));
        AssertMessage(e, path, "'b'", "BOOL data holds bytes other than 0 and 1");
    }

    [Fact]
    public void Control_characters_in_names_stay_on_one_line()
    {
        string path = Raw("{\"bad\\nname\":{\"dtype\":\"X\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
        Rejected(path, "'bad\\u000aname'", "unknown dtype");
    }
}
