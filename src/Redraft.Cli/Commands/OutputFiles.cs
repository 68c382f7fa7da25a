using Redraft.Imaging;

namespace Redraft.Cli.Commands;

/// <summary>Where the generating commands write, checked before any work starts.</summary>
internal static class OutputFiles
{
    /// <summary>FILE.png for one image; FILE-0.png … FILE-(n-1).png for several.</summary>
    /// <exception cref="RedraftInputException">Not a .png name, or its folder does not exist.</exception>
    public static string[] Paths(string output, int count)
    {
        if (!output.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new RedraftInputException($"--out must name a .png file, got \"{output}\".");
        var dir = Path.GetDirectoryName(Path.GetFullPath(output))!;
        if (!Directory.Exists(dir))
            throw new RedraftInputException($"output folder {dir} does not exist; create it first.");
        if (count <= 1) return [output];
        var stem = output[..^4];
        return Enumerable.Range(0, count).Select(i => $"{stem}-{i}.png").ToArray();
    }

    /// <summary>Writes PNG bytes atomically (a failed or cancelled run leaves no file).</summary>
    public static void Write(string path, byte[] png) => AtomicFile.WriteAllBytes(path, png);
}
