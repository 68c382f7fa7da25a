using System.Runtime.InteropServices;

namespace Redraft;

/// <summary>
/// Checks a path a user gave for a file to read before anything opens it: a FIFO, socket or device would block or
/// never end (a model "file" that is <c>/dev/zero</c>), so only regular files are read. Symbolic links are followed
/// (the Hugging Face cache is made of them).
/// </summary>
public static partial class InputFile
{
    /// <summary>
    /// Throws unless <paramref name="path"/> is an existing regular file (after links); <paramref name="what"/> names
    /// it in the message ("model", "init image").
    /// </summary>
    /// <exception cref="RedraftInputException">Missing, a folder, or not a regular file.</exception>
    public static void EnsureRegular(string path, string what)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
            throw new RedraftInputException($"{path}: the {what} is a folder, not a file.");
        if (!File.Exists(path))
            throw new RedraftInputException($"{path}: {what} file not found; check the path.");
        EnsureNotSpecial(path, what);
    }

    /// <summary>Throws when <paramref name="path"/> (which the caller found to exist) is a FIFO, socket or device.</summary>
    /// <exception cref="RedraftInputException">A special file.</exception>
    public static void EnsureNotSpecial(string path, string what)
    {
        if (Kind(path) is { } kind)
            throw new RedraftInputException($"{path}: the {what} is a {kind}, not a regular file; give a file on disk.");
    }

    /// <summary>Throws unless <paramref name="path"/> is a regular file of at most <paramref name="maxBytes"/> bytes (text settings files).</summary>
    public static void EnsureRegular(string path, string what, long maxBytes)
    {
        EnsureRegular(path, what);
        long length = new FileInfo(path).Length;
        if (length > maxBytes)
            throw new RedraftInputException($"{path}: the {what} is {length} bytes; the limit is {maxBytes} (is it the right file?).");
    }

    /// <summary>"FIFO", "socket", "device" for special files, null for regular files (and where this cannot be told).</summary>
    private static string? Kind(string path)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        // struct stat on Linux x86-64: st_mode is the 32-bit field at offset 24 (after st_dev, st_ino, st_nlink).
        var buffer = new byte[256];
        if (Stat(path, buffer) != 0) return null;
        uint mode = BitConverter.ToUInt32(buffer, 24) & 0xF000;
        return mode switch
        {
            0x1000 => "FIFO (named pipe)",
            0xC000 => "socket",
            0x2000 or 0x6000 => "device",
            _ => null,
        };
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Stat(string path, byte[] buffer);
}
