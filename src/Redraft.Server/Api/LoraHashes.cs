using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Redraft.Diffusion.Checkpoints;

namespace Redraft.Server.Api;

/// <summary>
/// The LoRA hashes AUTOMATIC1111 v1.10 writes into the infotext (<c>Lora hashes: "name: 0123456789ab, …"</c>, from
/// <c>extensions-builtin/Lora/extra_networks_lora.py</c>). A LoRA's hash is the safetensors metadata value
/// <c>sshs_model_hash</c> when the file has one (kohya's trainer writes it), else the "AddNet" hash of
/// <c>modules/hashes.py</c>: the SHA-256 of the file after its header (the tensor data, so editing the metadata does
/// not change it); the infotext keeps its first 12 hex digits. Each name is the one written in the prompt without
/// <c>:</c> and <c>,</c>; a name written twice is listed once.
/// </summary>
internal static class LoraHashes
{
    private static readonly ConcurrentDictionary<(string Path, long Length, long Ticks), string> Cache = new();

    /// <summary>The <c>Lora hashes</c> value for the LoRAs named in a prompt (in prompt order), or null when none has a hash.</summary>
    public static string? Infotext(IEnumerable<PromptNetworks.LoraMention> mentions)
    {
        var hashes = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var mention in mentions)
        {
            string? hash = ShortHash(mention.Path);
            if (string.IsNullOrEmpty(hash)) continue;
            hashes[mention.Name.Replace(":", "").Replace(",", "")] = hash;
        }
        return hashes.Count == 0 ? null : string.Join(", ", hashes.Select(h => $"{h.Key}: {h.Value}"));
    }

    /// <summary>The first 12 characters of the LoRA's hash, or null when the file cannot be read (A1111 then writes none).</summary>
    public static string? ShortHash(string path)
    {
        try
        {
            var info = new FileInfo(path);
            string hash = Cache.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc.Ticks), key => Hash(key.Path));
            return hash.Length > 12 ? hash[..12] : hash;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CheckpointFormatException)
        {
            return null;
        }
    }

    /// <summary><c>sshs_model_hash</c> from the metadata, else the SHA-256 (hex) of everything after the header.</summary>
    private static string Hash(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        Span<byte> lengthField = stackalloc byte[8];
        stream.ReadExactly(lengthField);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthField);
        if (headerLength == 0 || headerLength > (ulong)(stream.Length - 8))
            throw new CheckpointFormatException($"{path}: header length {headerLength} does not fit the file.");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var metadata = SafetensorsHeader.Parse(path, header, stream.Length - 8 - (long)headerLength).Metadata;
        if (metadata.TryGetValue("sshs_model_hash", out var stored) && stored.Length > 0) return stored;
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
