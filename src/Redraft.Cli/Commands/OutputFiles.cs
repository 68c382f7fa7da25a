using System.Globalization;
using System.Text;

namespace Redraft.Cli.Commands;

/// <summary>
/// Where the generating commands write, checked before any work starts: an explicit <c>--out</c> (overwritten only
/// with <c>--overwrite</c>), or, without one, A1111-style numbered files in
/// <c>$REDRAFT_HOME/outputs/KIND/YYYY-MM-DD/NNNNN-SEED.png</c> that never replace a file.
/// </summary>
internal static class OutputFiles
{
    /// <summary>FILE.png for one image; FILE-0.png … FILE-(n-1).png for several.</summary>
    /// <exception cref="RedraftInputException">Not a .png name, a name too long, a folder that does not exist or
    /// cannot be written, or a file that exists without <paramref name="overwrite"/>.</exception>
    public static string[] Paths(string output, int count, bool overwrite = true)
    {
        if (!output.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new RedraftInputException($"--out must name a .png file, got \"{output}\".");
        var dir = Path.GetDirectoryName(Path.GetFullPath(output))!;
        if (!Directory.Exists(dir))
            throw new RedraftInputException($"output folder {dir} does not exist; create it first.");
        var paths = count <= 1 ? [output] : Enumerable.Range(0, count).Select(i => $"{output[..^4]}-{i}.png").ToArray();
        foreach (var path in paths)
        {
            if (Encoding.UTF8.GetByteCount(Path.GetFileName(path)) + 40 > 255) // room for the temporary file's name
                throw new RedraftInputException($"--out: the file name {Path.GetFileName(path)} is too long; use a shorter one.");
            if (!overwrite && File.Exists(path))
                throw new RedraftInputException($"{path} exists; pass --overwrite to replace it, or choose another name.");
        }
        EnsureWritable(dir);
        return paths;
    }

    /// <summary>
    /// The folder numbered outputs of <paramref name="kind"/> go to today (created), checked writable before any work.
    /// </summary>
    public static string NumberedFolder(string kind)
    {
        var folder = Path.Combine(RedraftHome.Current.Outputs, kind, DateTime.Now.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new RedraftInputException($"cannot create the output folder {folder} ({ex.Message}); pass --out FILE.png or set REDRAFT_HOME.", ex);
        }
        EnsureWritable(folder);
        return folder;
    }

    /// <summary>Writes a numbered file (<c>NNNNN-SEED.png</c>, the next free number) without ever replacing one; returns its path.</summary>
    public static string WriteNumbered(string folder, long seed, byte[] png)
    {
        int next = Directory.EnumerateFiles(folder, "*.png")
            .Select(f => Path.GetFileName(f).Split('-')[0])
            .Select(n => int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v + 1 : 0)
            .DefaultIfEmpty(0).Max();
        for (int number = next; ; number++)
        {
            string path = Path.Combine(folder, $"{number:D5}-{seed.ToString(CultureInfo.InvariantCulture)}.png");
            if (AtomicFile.TryWriteNew(path, png)) return path;
        }
    }

    /// <summary>Writes PNG bytes atomically (a failed or cancelled run leaves no file).</summary>
    public static void Write(string path, byte[] png) => AtomicFile.WriteAllBytes(path, png);

    private static void EnsureWritable(string folder)
    {
        if (AtomicFile.CannotWriteIn(folder) is { } why)
            throw new RedraftInputException($"cannot write into {folder} ({why}); choose another output folder.");
    }
}
