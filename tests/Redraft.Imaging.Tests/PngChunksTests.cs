using System.IO.Compression;
using System.Text;

namespace Redraft.Imaging.Tests;

public class PngChunksTests
{
    [Fact]
    public void Crc32_MatchesStandardCheckValue()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(0u, Crc32.Compute([]));
    }

    [Fact]
    public void IendChunk_HasTheWellKnownCrc()
    {
        byte[] iend = PngChunks.Build("IEND", []);
        Assert.Equal(new byte[] { 0, 0, 0, 0, (byte)'I', (byte)'E', (byte)'N', (byte)'D', 0xAE, 0x42, 0x60, 0x82 }, iend);
    }

    [Fact]
    public void BuildText_Latin1_IsTExt()
    {
        byte[] chunk = PngChunks.BuildText("parameters", "café, 1:2");
        var (type, data, _) = TestImages.Chunks([.. PngChunks.Signature, .. chunk]).Single();
        Assert.Equal("tEXt", type);
        Assert.Equal([.. Encoding.Latin1.GetBytes("parameters"), 0, .. Encoding.Latin1.GetBytes("café, 1:2")], data);
    }

    [Fact]
    public void BuildText_NonLatin1_IsUncompressedUtf8ITXt()
    {
        byte[] chunk = PngChunks.BuildText("parameters", "猫 🐱");
        var (type, data, _) = TestImages.Chunks([.. PngChunks.Signature, .. chunk]).Single();
        Assert.Equal("iTXt", type);
        Assert.Equal([.. "parameters"u8, 0, 0, 0, 0, 0, .. Encoding.UTF8.GetBytes("猫 🐱")], data);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" lead")]
    [InlineData("trail ")]
    [InlineData("dou  ble")]
    [InlineData("tab\tkey")]
    [InlineData("ключ")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123456789012345678901234")]
    public void BuildText_RejectsInvalidKeywords(string keyword)
    {
        Assert.Throws<ArgumentException>(() => PngChunks.BuildText(keyword, "x"));
    }

    [Fact]
    public void BuildText_RejectsNul()
    {
        Assert.Throws<ArgumentException>(() => PngChunks.BuildText("k", "a\0b"));
    }

    [Fact]
    public void DecodeText_ReadsZTXtAndCompressedITXt()
    {
        byte[] z = [.. "Comment"u8, 0, 0, .. Deflate(Encoding.Latin1.GetBytes("zipped é"))];
        Assert.Equal(("Comment", "zipped é"), PngChunks.DecodeText("zTXt", z));

        byte[] i = [.. "Title"u8, 0, 1, 0, .. "ja"u8, 0, .. Encoding.UTF8.GetBytes("題"), 0, .. Deflate(Encoding.UTF8.GetBytes("猫の絵"))];
        Assert.Equal(("Title", "猫の絵"), PngChunks.DecodeText("iTXt", i));
    }

    [Fact]
    public void DecodeText_CorruptCompressedText_IsInvalidData()
    {
        byte[] z = [.. "Comment"u8, 0, 0, 1, 2, 3, 4, 5];
        Assert.Throws<InvalidDataException>(() => PngChunks.DecodeText("zTXt", z));
    }

    internal static byte[] Deflate(byte[] data)
    {
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.Optimal))
            zlib.Write(data);
        return output.ToArray();
    }
}
