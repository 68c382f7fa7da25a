using System.Buffers.Binary;
using Redraft.Diffusion.Checkpoints;
using TorchSharp;

namespace Redraft.Diffusion.Tests.Checkpoints;

public sealed class SafetensorsRoundTripTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private static torch.Tensor FromBits(torch.ScalarType dtype, long[] shape, byte[] raw)
    {
        var t = torch.empty(shape, dtype);
        t.bytes = raw;
        return t;
    }

    private static byte[] U16Bytes(params ushort[] values)
    {
        var raw = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(raw.AsSpan(i * 2), values[i]);
        return raw;
    }

    private static byte[] F32Bytes(params float[] values)
    {
        var raw = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
        return raw;
    }

    [Fact]
    public void F32_F16_BF16_round_trip_bit_exact_with_shapes()
    {
        // Awkward values on purpose: signed zero, subnormals, extremes, infinities, NaN with a payload.
        byte[] f32 = F32Bytes(0f, -0f, 1.5f, -3.25f, float.MaxValue, float.Epsilon, float.PositiveInfinity, float.NegativeInfinity,
            BitConverter.Int32BitsToSingle(0x7FC00123), 1e-30f, 123456.789f, -1f);
        byte[] f16 = U16Bytes(0x3C00, 0x8000, 0x0001, 0x7BFF, 0xFC00, 0x7E01);          // 1, -0, 2^-24, 65504, -inf, NaN payload
        byte[] bf16 = U16Bytes(0x3F80, 0x8000, 0x0001, 0x7F7F, 0x7F80, 0x7FC1, 0xC049, 0x4049); // 1, -0, subnormal, max, inf, NaN, -3.14, 3.14

        using var a = FromBits(torch.ScalarType.Float32, [3, 4], f32);
        using var b = FromBits(torch.ScalarType.Float16, [2, 1, 3], f16);
        using var c = FromBits(torch.ScalarType.BFloat16, [8], bf16);
        using var scalar = torch.tensor(2.5f);
        using var empty = torch.empty([0, 4], torch.ScalarType.Float16);
        using var emptyBf = torch.empty([3, 0], torch.ScalarType.BFloat16);

        string path = _temp.File("model.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, torch.Tensor>
        {
            ["a.weight"] = a, ["b"] = b, ["c.bf16"] = c, ["scalar"] = scalar, ["empty"] = empty, ["empty.bf16"] = emptyBf,
        });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["a.weight", "b", "c.bf16", "scalar", "empty", "empty.bf16"], file.Tensors.Keys);
        Assert.Equal(SafetensorsDType.F32, file.Tensors["a.weight"].DType);
        Assert.Equal(SafetensorsDType.F16, file.Tensors["b"].DType);
        Assert.Equal(SafetensorsDType.BF16, file.Tensors["c.bf16"].DType);
        Assert.Equal(48, file.Tensors["a.weight"].ByteLength);
        Assert.Empty(file.Tensors["scalar"].Shape);
        Assert.Equal(0, file.Tensors["empty"].ByteLength);
        Assert.Empty(file.Metadata);

        using (var la = file.Load("a.weight"))
        {
            Assert.Equal(torch.ScalarType.Float32, la.dtype);
            Assert.Equal([3L, 4L], la.shape);
            Assert.Equal(f32, la.bytes.ToArray());
        }
        using (var lb = file.Load("b"))
        {
            Assert.Equal(torch.ScalarType.Float16, lb.dtype);
            Assert.Equal([2L, 1L, 3L], lb.shape);
            Assert.Equal(f16, lb.bytes.ToArray());
        }
        using (var lc = file.Load("c.bf16"))
        {
            Assert.Equal(torch.ScalarType.BFloat16, lc.dtype);
            Assert.Equal([8L], lc.shape);
            Assert.Equal(bf16, lc.bytes.ToArray());
            using var asFloat = lc.to_type(torch.ScalarType.Float32);
            Assert.Equal(1f, asFloat[0].item<float>());
            Assert.Equal(-3.140625f, asFloat[6].item<float>());
        }
        using (var ls = file.Load("scalar"))
        {
            Assert.Equal(0, ls.dim());
            Assert.Equal(2.5f, ls.item<float>());
        }
        using (var le = file.Load("empty"))
        {
            Assert.Equal([0L, 4L], le.shape);
            Assert.Equal(torch.ScalarType.Float16, le.dtype);
            Assert.Equal(0, le.numel());
        }
        using (var le = file.Load("empty.bf16"))
        {
            Assert.Equal([3L, 0L], le.shape);
            Assert.Equal(torch.ScalarType.BFloat16, le.dtype);
        }
    }

    [Fact]
    public void File_layout_is_padded_and_holds_raw_little_endian_bytes()
    {
        using var c = FromBits(torch.ScalarType.BFloat16, [3], U16Bytes(0x3F80, 0x7FC1, 0x0001));
        string path = _temp.File("layout.safetensors");
        SafetensorsWriter.Write(path, [new("x", c)]);

        byte[] raw = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(raw);
        Assert.Equal(0, (8 + headerLength) % 8);
        Assert.Equal(8 + headerLength + 6, raw.Length);
        string header = System.Text.Encoding.UTF8.GetString(raw, 8, (int)headerLength);
        Assert.StartsWith("{", header);
        Assert.Contains("\"BF16\"", header);
        Assert.Equal(new byte[] { 0x80, 0x3F, 0xC1, 0x7F, 0x01, 0x00 }, raw[^6..]);
    }

    [Fact]
    public void Non_contiguous_tensors_are_written_in_logical_order()
    {
        using var m = torch.arange(0, 6, dtype: torch.ScalarType.Float32).reshape(2, 3);
        using var t = m.t();
        Assert.False(t.is_contiguous());
        string path = _temp.File("t.safetensors");
        SafetensorsWriter.Write(path, [new("t", t)]);

        using var file = SafetensorsFile.Open(path);
        using var loaded = file.Load("t");
        Assert.Equal([3L, 2L], loaded.shape);
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, loaded.data<float>().ToArray());
    }

    [Fact]
    public void Metadata_round_trips()
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["modelspec.title"] = "Tüte \"quoted\" \\ back\nslash 🎨",
            ["empty"] = "",
        };
        using var t = torch.ones(2);
        string path = _temp.File("meta.safetensors");
        SafetensorsWriter.Write(path, [new("t", t)], metadata);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(metadata.OrderBy(p => p.Key), file.Metadata.OrderBy(p => p.Key));
        Assert.Single(file.Tensors);
    }

    [Fact]
    public void Load_with_dtype_converts()
    {
        using var c = FromBits(torch.ScalarType.BFloat16, [2], U16Bytes(0x3F80, 0xC049));
        string path = _temp.File("convert.safetensors");
        SafetensorsWriter.Write(path, [new("c", c)]);

        using var file = SafetensorsFile.Open(path);
        using var f = file.Load("c", torch.ScalarType.Float32);
        Assert.Equal(torch.ScalarType.Float32, f.dtype);
        Assert.Equal(new[] { 1f, -3.140625f }, f.data<float>().ToArray());
        using var same = file.Load("c", torch.ScalarType.BFloat16);
        Assert.Equal(torch.ScalarType.BFloat16, same.dtype);
    }

    [Fact]
    public void Integer_and_bool_dtypes_round_trip()
    {
        using var i64 = torch.tensor(new long[] { long.MinValue, -1, 0, long.MaxValue });
        using var i32 = torch.tensor(new int[] { int.MinValue, 7 });
        using var u8 = torch.tensor(new byte[] { 0, 255 });
        using var b = torch.tensor(new bool[] { true, false, true });
        using var f64 = torch.tensor(new double[] { Math.PI });
        string path = _temp.File("ints.safetensors");
        SafetensorsWriter.Write(path, [new("i64", i64), new("i32", i32), new("u8", u8), new("b", b), new("f64", f64)]);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(SafetensorsDType.BOOL, file.Tensors["b"].DType);
        using (var t = file.Load("i64")) Assert.Equal(new[] { long.MinValue, -1, 0, long.MaxValue }, t.data<long>().ToArray());
        using (var t = file.Load("i32")) Assert.Equal(new[] { int.MinValue, 7 }, t.data<int>().ToArray());
        using (var t = file.Load("u8")) Assert.Equal(new byte[] { 0, 255 }, t.data<byte>().ToArray());
        using (var t = file.Load("b")) Assert.Equal(new[] { true, false, true }, t.data<bool>().ToArray());
        using (var t = file.Load("f64")) Assert.Equal(Math.PI, t.item<double>());
    }

    [Fact]
    public void Concurrent_loads_return_correct_data()
    {
        var tensors = Enumerable.Range(0, 16)
            .Select(i => new KeyValuePair<string, torch.Tensor>($"t{i}", torch.full([1000 + i], (float)i)))
            .ToList();
        string path = _temp.File("many.safetensors");
        SafetensorsWriter.Write(path, tensors);
        foreach (var (_, t) in tensors) t.Dispose();

        using var file = SafetensorsFile.Open(path);
        Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 4 }, k =>
        {
            int i = k % 16;
            using var t = file.Load($"t{i}");
            Assert.Equal(1000 + i, t.numel());
            Assert.All(t.data<float>().ToArray(), v => Assert.Equal((float)i, v));
        });
    }

    [Fact]
    public void Load_after_dispose_throws_ObjectDisposedException()
    {
        using var t = torch.ones(2);
        string path = _temp.File("d.safetensors");
        SafetensorsWriter.Write(path, [new("t", t)]);
        var file = SafetensorsFile.Open(path);
        file.Dispose();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.Load("t"));
    }

    [Fact]
    public void Writer_replaces_existing_file()
    {
        string path = _temp.File("w.safetensors");
        using var one = torch.ones(3);
        using var two = torch.full([5], 2f);
        SafetensorsWriter.Write(path, [new("x", one)]);
        SafetensorsWriter.Write(path, [new("y", two)]);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["y"], file.Tensors.Keys);
        Assert.Single(Directory.GetFiles(_temp.Path));
    }

    [Fact]
    public void Writer_failure_leaves_target_untouched_and_no_temp_file()
    {
        string path = _temp.File("keep.safetensors");
        using var good = torch.ones(3);
        SafetensorsWriter.Write(path, [new("good", good)]);
        byte[] before = File.ReadAllBytes(path);

        using var complex = torch.zeros(2, dtype: torch.ScalarType.ComplexFloat32);
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [new("a", good), new("z", complex)]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [new("a", good), new("a", good)]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [new("__metadata__", good)]));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_temp.Path));
    }

    [Fact]
    public void Writer_failure_after_data_deletes_temp_file()
    {
        // The target is a folder: everything is written, then the final rename fails.
        string path = _temp.File("is-a-folder.safetensors");
        Directory.CreateDirectory(path);
        using var t = torch.ones(1000);
        Assert.ThrowsAny<IOException>(() => SafetensorsWriter.Write(path, [new("t", t)]));
        Assert.Empty(Directory.GetFiles(_temp.Path));
        Assert.True(Directory.Exists(path));
    }

    /// <summary>Values made one at a time and freed as the enumeration moves on: the writer must use each before asking for the next.</summary>
    private static IEnumerable<KeyValuePair<string, torch.Tensor>> OneAtATime(int count, List<long> liveCounts)
    {
        for (int i = 0; i < count; i++)
        {
            using var value = torch.full([1000], (float)i);
            liveCounts.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            yield return KeyValuePair.Create($"t{i}", value);
        }
    }

    [Fact]
    public void Streamed_values_are_written_as_they_come()
    {
        string path = _temp.File("streamed.safetensors");
        var declared = Enumerable.Range(0, 5).Select(i => new DeclaredTensor($"t{i}", torch.ScalarType.Float32, [1000])).ToList();
        var live = new List<long>();
        SafetensorsWriter.Write(path, declared, OneAtATime(5, live));

        Assert.True(live.Max() - live.Min() == 0, $"live tensors while writing: {string.Join(", ", live)}");
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(declared.Select(d => d.Name), file.Tensors.Keys);
        using var last = file.Load("t4");
        Assert.Equal(4f, last[999].item<float>());
    }

    [Fact]
    public void Streamed_values_that_break_their_declaration_write_nothing()
    {
        string path = _temp.File("keep.safetensors");
        using var good = torch.ones(3);
        SafetensorsWriter.Write(path, [new("good", good)]);
        byte[] before = File.ReadAllBytes(path);
        var live = new List<long>();
        DeclaredTensor F32(string name, long size) => new(name, torch.ScalarType.Float32, [size]);

        Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(path, [F32("t0", 1000), F32("t1", 999)], OneAtATime(2, live)));
        Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(path, [F32("t0", 1000), F32("x", 1000)], OneAtATime(2, live)));
        Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(path, [F32("t0", 1000)], OneAtATime(2, live)));
        Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(path, [F32("t0", 1000), F32("t1", 1000)], OneAtATime(1, live)));
        Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(path,
            [new DeclaredTensor("t0", torch.ScalarType.Float16, [1000])], OneAtATime(1, live)));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_temp.Path));
    }
}
