using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Redraft.Diffusion.Checkpoints;

namespace Redraft.Server.Api;

/// <summary>
/// A LoRA as A1111's <c>loras</c> lists it: the file name without extension, the alias its trainer wrote
/// (<c>ss_output_name</c>, else the name), the path, and the safetensors <c>__metadata__</c> with values that hold
/// JSON objects parsed (clients read training tags from them). Headers are read once per file version.
/// </summary>
internal static class LoraMetadata
{
    private static readonly ConcurrentDictionary<(string Path, long Length, long Ticks), JsonObject> Cache = new();

    /// <summary>The <c>loras</c> entry of the file at <paramref name="path"/>.</summary>
    public static LoraItem Item(string path)
    {
        string name = Path.GetFileNameWithoutExtension(path);
        var metadata = Read(path);
        string alias = metadata["ss_output_name"] is JsonValue v && v.TryGetValue(out string? output) ? output : name;
        return new LoraItem(name, alias, path, metadata);
    }

    private static JsonObject Read(string path)
    {
        var info = new FileInfo(path);
        var cached = Cache.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc.Ticks), key =>
        {
            var metadata = new JsonObject();
            try
            {
                using var file = SafetensorsFile.Open(key.Path);
                foreach (var (k, value) in file.Metadata) metadata[k] = Parsed(value);
            }
            catch (Exception e) when (e is CheckpointFormatException or IOException or UnauthorizedAccessException)
            {
                // A1111 lists an unreadable LoRA with empty metadata; generating with it says what is wrong.
            }
            return metadata;
        });
        return (JsonObject)cached.DeepClone();
    }

    /// <summary>A1111 parses a metadata value that starts with <c>{</c> as JSON and keeps it as text if that fails.</summary>
    private static JsonNode? Parsed(string value)
    {
        if (value.StartsWith('{'))
        {
            try
            {
                return JsonNode.Parse(value);
            }
            catch (JsonException)
            {
            }
        }
        return value;
    }
}
