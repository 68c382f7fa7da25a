using System.Security.Cryptography;
using System.Text;

namespace Redraft.Studio.Tests;

/// <summary>A fresh temporary folder per test class instance, deleted afterwards.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "redraft-studio-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

internal static class T
{
    /// <summary>A valid-looking hash for in-memory compositing tests.</summary>
    public static string Hash(string name) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)));

    public static RgbaImage Image(int w, int h, params (byte R, byte G, byte B, byte A)[] pixels)
    {
        Assert.Equal(w * h, pixels.Length);
        var bytes = new byte[w * h * 4];
        for (int i = 0; i < pixels.Length; i++)
        {
            bytes[i * 4] = pixels[i].R;
            bytes[i * 4 + 1] = pixels[i].G;
            bytes[i * 4 + 2] = pixels[i].B;
            bytes[i * 4 + 3] = pixels[i].A;
        }
        return new RgbaImage(w, h, bytes);
    }

    public static RgbaImage Random(int w, int h, int seed, bool opaque = false)
    {
        var bytes = new byte[w * h * 4];
        new Random(seed).NextBytes(bytes);
        if (opaque) for (int i = 3; i < bytes.Length; i += 4) bytes[i] = 255;
        return new RgbaImage(w, h, bytes);
    }

    public static byte[] Sha(string path) => SHA256.HashData(System.IO.File.ReadAllBytes(path));

    /// <summary>Hashes of every file in a folder (recursive), to prove a failed call changed nothing.</summary>
    public static Dictionary<string, string> Snapshot(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => System.IO.Path.GetRelativePath(folder, f), f => Convert.ToHexString(Sha(f)));
}
