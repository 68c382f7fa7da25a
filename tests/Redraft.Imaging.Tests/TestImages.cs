namespace Redraft.Imaging.Tests;

internal static class TestImages
{
    public static RgbImage Random(int width, int height, int seed = 1)
    {
        var pixels = new byte[width * height * 3];
        new Random(seed).NextBytes(pixels);
        return new RgbImage(width, height, pixels);
    }

    /// <summary>Splits a PNG into (type, data, stored CRC) triples.</summary>
    public static List<(string Type, byte[] Data, uint Crc)> Chunks(byte[] png)
    {
        var result = new List<(string, byte[], uint)>();
        int p = 8;
        while (p < png.Length)
        {
            int length = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(p));
            string type = System.Text.Encoding.ASCII.GetString(png, p + 4, 4);
            byte[] data = png.AsSpan(p + 8, length).ToArray();
            uint crc = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(p + 8 + length));
            result.Add((type, data, crc));
            p += 12 + length;
        }
        return result;
    }
}
