using System.Buffers.Binary;
using System.Text;
using SkiaSharp;

namespace Redraft.Imaging.Tests;

public sealed class ImageFilesTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // ---- PNG save / load ----

    /// <summary>
    /// A file far larger than any usable image (here a sparse 600 MiB file that starts as a valid PNG) is refused
    /// from its size, before a byte is decoded, whether it is read as an init image or as a layer.
    /// </summary>
    [Fact]
    public void AFileLargerThanAnyUsableImageIsRefusedFromItsSize()
    {
        string path = _dir.File("huge.png");
        ImageFiles.SavePng(path, RgbImage.Filled(8, 8, 1, 2, 3));
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write)) stream.SetLength(600L * 1024 * 1024);
        var load = Assert.Throws<ImageInputException>(() => ImageFiles.Load(path));
        Assert.Contains("600 MiB", load.Message);
        Assert.Contains("limited to 512 MiB", Assert.Throws<ImageInputException>(() => ImageFiles.LoadRgba(path)).Message);
    }

    [Fact]
    public void SavePng_Load_RoundTripsExactPixels()
    {
        var image = TestImages.Random(37, 23);
        string path = _dir.File("round.png");

        ImageFiles.SavePng(path, image);
        var loaded = ImageFiles.Load(path);

        Assert.Equal(37, loaded.Width);
        Assert.Equal(23, loaded.Height);
        Assert.Equal(image.Pixels, loaded.Pixels);
    }

    [Fact]
    public void SavePng_TextChunks_ReadBackAndImageStillDecodes()
    {
        var image = TestImages.Random(16, 9, seed: 7);
        string path = _dir.File("text.png");
        var text = new Dictionary<string, string>
        {
            ["parameters"] = "a cat, \"fluffy\"\nNegative prompt: dog\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 16x9",
            ["Comment"] = "café",
            ["Title"] = "猫 🐱",
        };

        ImageFiles.SavePng(path, image, text);

        Assert.Equal(text.ToList(), ImageFiles.ReadPngText(path).ToList());
        // Skia still decodes it: the inserted chunks did not break the file.
        Assert.Equal(image.Pixels, ImageFiles.Load(path).Pixels);
        using (var bitmap = SKBitmap.Decode(path))
            Assert.Equal(16, bitmap.Width);

        // Layout: IHDR first, our text chunks right after it, IEND last, every CRC right.
        var chunks = TestImages.Chunks(File.ReadAllBytes(path));
        Assert.Equal(["IHDR", "tEXt", "tEXt", "iTXt"], chunks.Take(4).Select(c => c.Type));
        Assert.Equal("IEND", chunks[^1].Type);
        Assert.Equal(0xAE426082u, chunks[^1].Crc);
        foreach (var (type, data, crc) in chunks)
            Assert.Equal(Crc32.Append(Crc32.Compute(Encoding.ASCII.GetBytes(type)), data), crc);
    }

    [Fact]
    public void SavePng_WithoutText_HasNoTextChunks()
    {
        string path = _dir.File("plain.png");
        ImageFiles.SavePng(path, RgbImage.Filled(4, 4, 1, 2, 3));
        Assert.Empty(ImageFiles.ReadPngText(path));
    }

    [Fact]
    public void SavePng_OverwritesExistingFile_AndLeavesNoTempFiles()
    {
        string path = _dir.File("out.png");
        File.WriteAllText(path, "old content");

        ImageFiles.SavePng(path, RgbImage.Filled(3, 3, 9, 9, 9), new Dictionary<string, string> { ["parameters"] = "x" });

        Assert.Equal((9, 9, 9), ImageFiles.Load(path).GetPixel(2, 2));
        Assert.Equal([path], Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public void ReadPngText_ReadsZTXtCompressedITXtAndKeepsLastDuplicate()
    {
        string plain = _dir.File("plain.png");
        ImageFiles.SavePng(plain, RgbImage.Filled(2, 2, 0, 0, 0));
        byte[] png = File.ReadAllBytes(plain);

        byte[] ztxt = PngChunks.Build("zTXt", [.. "Comment"u8, 0, 0, .. PngChunksTests.Deflate(Encoding.Latin1.GetBytes("zipped"))]);
        byte[] itxt = PngChunks.Build("iTXt", [.. "parameters"u8, 0, 1, 0, 0, 0, .. PngChunksTests.Deflate(Encoding.UTF8.GetBytes("猫\nSteps: 1"))]);
        byte[] first = PngChunks.BuildText("Comment", "first");
        string path = _dir.File("chunks.png");
        File.WriteAllBytes(path, PngChunks.InsertAfterIhdr(png, [first, itxt, ztxt]));

        var text = ImageFiles.ReadPngText(path);

        Assert.Equal(
            [new("Comment", "zipped"), new("parameters", "猫\nSteps: 1")],
            text.ToList());
        Assert.Equal(2, ImageFiles.Load(path).Width);
    }

    [Fact]
    public void ReadPngText_CrcMismatch_IsImageInputException()
    {
        string path = _dir.File("crc.png");
        ImageFiles.SavePng(path, RgbImage.Filled(2, 2, 0, 0, 0), new Dictionary<string, string> { ["parameters"] = "hello" });
        byte[] bytes = File.ReadAllBytes(path);
        int at = bytes.AsSpan().IndexOf("hello"u8);
        bytes[at] = (byte)'j';
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<ImageInputException>(() => ImageFiles.ReadPngText(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains("CRC", ex.Message);
    }

    [Fact]
    public void ReadPngText_NotAPng_IsImageInputException()
    {
        string jpeg = _dir.File("photo.jpg");
        using (var bitmap = new SKBitmap(8, 8))
        using (var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90))
            File.WriteAllBytes(jpeg, data.ToArray());
        string txt = _dir.File("notes.txt");
        File.WriteAllText(txt, "hello");

        AssertInputError(() => ImageFiles.ReadPngText(jpeg), jpeg, "not a PNG");
        AssertInputError(() => ImageFiles.ReadPngText(txt), txt, "not a PNG");
        AssertInputError(() => ImageFiles.ReadPngText(_dir.File("missing.png")), _dir.File("missing.png"), "not found");
    }

    [Fact]
    public void ReadPngText_Truncated_IsImageInputException()
    {
        string path = _dir.File("cut.png");
        ImageFiles.SavePng(path, TestImages.Random(20, 20));
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        AssertInputError(() => ImageFiles.ReadPngText(path), path, "truncated");
    }

    // ---- Atomic write ----

    [Fact]
    public void SavePng_IntoMissingFolder_ThrowsAndLeavesNoTempFiles()
    {
        string path = Path.Combine(_dir.Path, "no-such-folder", "out.png");

        Assert.Throws<DirectoryNotFoundException>(() => ImageFiles.SavePng(path, RgbImage.Filled(2, 2, 0, 0, 0)));

        Assert.False(Directory.Exists(Path.Combine(_dir.Path, "no-such-folder")));
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void AtomicWrite_FailureMidWrite_LeavesExistingFileUntouchedAndNoTemp()
    {
        string path = _dir.File("keep.png");
        File.WriteAllText(path, "original");

        var ex = Assert.Throws<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[100_000]);
            throw new IOException("simulated disk full");
        }));

        Assert.Equal("simulated disk full", ex.Message);
        Assert.Equal("original", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public void SavePng_InvalidTextKey_ThrowsBeforeTouchingTheFile()
    {
        string path = _dir.File("keep.png");
        File.WriteAllText(path, "original");

        Assert.Throws<ArgumentException>(() =>
            ImageFiles.SavePng(path, RgbImage.Filled(2, 2, 0, 0, 0), new Dictionary<string, string> { [""] = "x" }));

        Assert.Equal("original", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_dir.Path));
    }

    // ---- Load errors ----

    [Fact]
    public void Load_TextFile_IsImageInputException()
    {
        string path = _dir.File("notes.txt");
        File.WriteAllText(path, "this is not an image\n");
        AssertInputError(() => ImageFiles.Load(path), path, "not an image SkiaSharp can decode");
    }

    [Fact]
    public void Load_EmptyFile_IsImageInputException()
    {
        string path = _dir.File("empty.png");
        File.WriteAllBytes(path, []);
        AssertInputError(() => ImageFiles.Load(path), path, "empty");
    }

    [Fact]
    public void Load_TruncatedPng_IsImageInputException()
    {
        string path = _dir.File("cut.png");
        ImageFiles.SavePng(path, TestImages.Random(64, 64));
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        AssertInputError(() => ImageFiles.Load(path), path, "truncated");
    }

    [Fact]
    public void Load_MissingFile_IsImageInputException()
    {
        string path = _dir.File("missing.png");
        AssertInputError(() => ImageFiles.Load(path), path, "not found");
    }

    [Fact]
    public void Load_HugeDimensions_RejectedBeforeDecoding()
    {
        // A header-only PNG claiming 20000x20000 pixels.
        byte[] ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, 20000);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), 20000);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // RGB
        byte[] idat = PngChunks.Build("IDAT", PngChunksTests.Deflate(new byte[100]));
        byte[] png = [.. PngChunks.Signature, .. PngChunks.Build("IHDR", ihdr), .. idat, .. PngChunks.Build("IEND", [])];
        string path = _dir.File("huge.png");
        File.WriteAllBytes(path, png);

        AssertInputError(() => ImageFiles.Load(path), path, "20000x20000");
    }

    // ---- Pixel conversion ----

    [Fact]
    public void Load_Alpha_IsCompositedOverWhite()
    {
        string path = _dir.File("alpha.png");
        var info = new SKImageInfo(4, 1, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using (var bitmap = new SKBitmap(info))
        {
            byte[] rgba =
            [
                255, 0, 0, 255,   // opaque red
                255, 0, 0, 0,     // fully transparent red -> white
                0, 0, 0, 128,     // half black -> mid grey
                0, 0, 255, 128,   // half blue -> light blue
            ];
            rgba.CopyTo(bitmap.GetPixelSpan());
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, data.ToArray());
        }

        var image = ImageFiles.Load(path);

        Assert.Equal((255, 0, 0), image.GetPixel(0, 0));
        Assert.Equal((255, 255, 255), image.GetPixel(1, 0));
        Assert.Equal((127, 127, 127), image.GetPixel(2, 0));
        Assert.Equal((127, 127, 255), image.GetPixel(3, 0));
    }

    [Fact]
    public void Load_DecodesJpegAndAppliesExifOrientation()
    {
        // 40x20: left half red, right half blue; EXIF orientation 6 = rotate 90 degrees clockwise to view.
        var pixels = new byte[40 * 20 * 3];
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 40; x++)
                pixels[(y * 40 + x) * 3 + (x < 20 ? 0 : 2)] = 255;
        string png = _dir.File("src.png");
        ImageFiles.SavePng(png, new RgbImage(40, 20, pixels));
        byte[] jpeg;
        using (var bitmap = SKBitmap.Decode(png))
        using (var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 100))
            jpeg = data.ToArray();
        byte[] exif =
        [
            0xFF, 0xE1, 0, 34, .. "Exif"u8, 0, 0,
            .. "MM"u8, 0, 42, 0, 0, 0, 8,          // TIFF header, big-endian, IFD at 8
            0, 1,                                  // one entry
            0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, // Orientation, SHORT, 1, value 6
            0, 0, 0, 0,                            // no next IFD
        ];
        string path = _dir.File("rotated.jpg");
        File.WriteAllBytes(path, [.. jpeg[..2], .. exif, .. jpeg[2..]]);

        var image = ImageFiles.Load(path);

        Assert.Equal(20, image.Width);
        Assert.Equal(40, image.Height);
        AssertNear((255, 0, 0), image.GetPixel(10, 5));   // left half ends up on top
        AssertNear((0, 0, 255), image.GetPixel(10, 35));
    }

    [Fact]
    public void Orient_MapsPixelsForEveryOrientation()
    {
        // 3x2 image with pixel values 0..5 in the red channel:  0 1 2 / 3 4 5
        var src = new RgbImage(3, 2, [.. Enumerable.Range(0, 6).SelectMany(i => new byte[] { (byte)i, 0, 0 })]);
        static RgbImage Orient(RgbImage image, SKEncodedOrigin origin)
        {
            var (pixels, w, h) = ImageOrientation.Apply(image.Pixels, image.Width, image.Height, 3, origin);
            return new RgbImage(w, h, pixels);
        }
        string Rows(RgbImage img) => string.Join("/", Enumerable.Range(0, img.Height)
            .Select(y => string.Concat(Enumerable.Range(0, img.Width).Select(x => img.GetPixel(x, y).R))));

        Assert.Equal("012/345", Rows(Orient(src, SKEncodedOrigin.TopLeft)));
        Assert.Equal("210/543", Rows(Orient(src, SKEncodedOrigin.TopRight)));
        Assert.Equal("543/210", Rows(Orient(src, SKEncodedOrigin.BottomRight)));
        Assert.Equal("345/012", Rows(Orient(src, SKEncodedOrigin.BottomLeft)));
        Assert.Equal("03/14/25", Rows(Orient(src, SKEncodedOrigin.LeftTop)));
        Assert.Equal("30/41/52", Rows(Orient(src, SKEncodedOrigin.RightTop)));
        Assert.Equal("52/41/30", Rows(Orient(src, SKEncodedOrigin.RightBottom)));
        Assert.Equal("25/14/03", Rows(Orient(src, SKEncodedOrigin.LeftBottom)));
    }

    // ---- Resize ----

    [Theory]
    [InlineData(100, 60, 37, 91)]    // shrink one axis, grow the other
    [InlineData(64, 64, 512, 512)]   // upscale
    [InlineData(1000, 900, 64, 48)]  // large reduction (box pre-halving)
    [InlineData(5, 5, 1, 1)]
    public void Resize_StretchesToExactSize(int w, int h, int tw, int th)
    {
        var resized = ImageFiles.Resize(TestImages.Random(w, h), tw, th);
        Assert.Equal(tw, resized.Width);
        Assert.Equal(th, resized.Height);
        Assert.Equal(tw * th * 3, resized.Pixels.Length);
    }

    [Fact]
    public void Resize_UniformColourStaysUniform()
    {
        var resized = ImageFiles.Resize(RgbImage.Filled(300, 200, 200, 100, 50), 77, 333);
        for (int y = 0; y < resized.Height; y += 7)
            for (int x = 0; x < resized.Width; x += 5)
                AssertNear((200, 100, 50), resized.GetPixel(x, y), tolerance: 1);
    }

    [Fact]
    public void Resize_SameSize_ReturnsEqualCopy()
    {
        var image = TestImages.Random(10, 10);
        var same = ImageFiles.Resize(image, 10, 10);
        Assert.NotSame(image.Pixels, same.Pixels);
        Assert.Equal(image.Pixels, same.Pixels);
    }

    [Fact]
    public void Resize_LargeReduction_AveragesInsteadOfAliasing()
    {
        // 1-pixel black/white stripes shrunk 16x must come out grey, not black or white.
        var pixels = new byte[256 * 256 * 3];
        for (int y = 0; y < 256; y++)
            for (int x = 0; x < 256; x += 2)
                pixels.AsSpan((y * 256 + x) * 3, 3).Fill(255);
        var small = ImageFiles.Resize(new RgbImage(256, 256, pixels), 16, 16);
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
                AssertNear((127, 127, 127), small.GetPixel(x, y), tolerance: 8);
    }

    [Fact]
    public void RgbImage_RejectsWrongBufferLength()
    {
        Assert.Throws<ArgumentException>(() => new RgbImage(2, 2, new byte[11]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RgbImage(0, 2, []));
    }

    private static void AssertInputError(Action action, string path, string fragment)
    {
        var ex = Assert.Throws<ImageInputException>(action);
        Assert.StartsWith(path + ":", ex.Message);
        Assert.Contains(fragment, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    private static void AssertNear((int R, int G, int B) expected, (byte R, byte G, byte B) actual, int tolerance = 12)
    {
        Assert.True(Math.Abs(expected.R - actual.R) <= tolerance
                    && Math.Abs(expected.G - actual.G) <= tolerance
                    && Math.Abs(expected.B - actual.B) <= tolerance,
            $"expected about {expected}, got {actual}");
    }
}
