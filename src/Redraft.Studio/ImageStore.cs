using System.Security.Cryptography;

namespace Redraft.Studio;

/// <summary>
/// A document's content-addressed images: <c>images/SHA256.png</c>, named by the SHA-256 of the file's bytes, so a
/// name verifies its content. Written atomically, never overwritten or deleted (history keeps referring to them).
/// </summary>
public sealed class ImageStore
{
    /// <summary>The sub-folder of a document folder.</summary>
    public const string FolderName = "images";

    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>The images of the document folder <paramref name="documentFolder"/>.</summary>
    public ImageStore(string documentFolder) => Folder = Path.Combine(documentFolder, FolderName);

    /// <summary>Full path of the <c>images/</c> folder.</summary>
    public string Folder { get; }

    /// <summary>Path of the image named <paramref name="hash"/>.</summary>
    /// <exception cref="StudioInputException">Not a hash.</exception>
    public string PathOf(string hash)
    {
        if (!Document.IsHash(hash))
            throw new StudioInputException($"'{hash}' is not an image hash (64 lowercase hex digits).");
        return Path.Combine(Folder, hash + ".png");
    }

    /// <summary>Whether an image of that name is stored (its content is not checked).</summary>
    public bool Contains(string hash) => Document.IsHash(hash) && File.Exists(PathOf(hash));

    /// <summary>Stores PNG bytes as they are; returns their hash. Storing the same bytes twice is a no-op.</summary>
    public string StoreBytes(byte[] png)
    {
        string hash = Convert.ToHexStringLower(SHA256.HashData(png));
        string path = PathOf(hash);
        if (!File.Exists(path)) AtomicFile.WriteAllBytes(path, png);
        return hash;
    }

    /// <summary>Encodes and stores an RGBA image; returns its hash.</summary>
    public string Store(RgbaImage image) => StoreBytes(ImageFiles.EncodePng(image));

    /// <summary>Encodes and stores a mask as a grayscale PNG; returns its hash.</summary>
    public string Store(MaskImage mask) => StoreBytes(ImageFiles.EncodePng(mask));

    /// <summary>Stores PNG bytes as they are (keeping, say, a <c>parameters</c> chunk) after checking they decode.</summary>
    /// <exception cref="StudioInputException">Not a PNG that decodes.</exception>
    public string StorePng(ReadOnlySpan<byte> png)
    {
        if (!png.StartsWith(PngSignature))
            throw new StudioInputException("not a PNG (bad signature).");
        var bytes = png.ToArray();
        ImageFiles.DecodeRgba(bytes, "PNG");
        return StoreBytes(bytes);
    }

    /// <summary>Loads a stored image, checking that its bytes still match its name.</summary>
    /// <exception cref="StudioInputException">Missing, altered or not decodable.</exception>
    public RgbaImage Get(string hash) => ImageFiles.DecodeRgba(ReadChecked(hash), PathOf(hash));

    /// <summary>Loads a stored mask (luminance × alpha, as <see cref="MaskImage.FromRgba"/>).</summary>
    public MaskImage GetMask(string hash) => MaskImage.FromRgba(Get(hash));

    /// <summary>What is wrong with the stored image <paramref name="hash"/>, or null when it is present, intact and decodes.</summary>
    public string? Problem(string hash)
    {
        try
        {
            Get(hash);
            return null;
        }
        catch (RedraftInputException ex)
        {
            return ex.Message;
        }
    }

    private byte[] ReadChecked(string hash)
    {
        string path = PathOf(hash);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StudioInputException($"image {FolderName}/{hash}.png is missing.", ex);
        }
        if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != hash)
            throw new StudioInputException($"image {FolderName}/{hash}.png was altered (its content does not match its name).");
        return bytes;
    }
}
