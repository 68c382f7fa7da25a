using System.Text.Json;
using System.Text.Json.Nodes;

namespace Redraft.Server;

/// <summary>
/// The options clients set with <c>POST /sdapi/v1/options</c>, as A1111 keeps them in its <c>config.json</c>: every key
/// posted, those Redraft acts on checked and typed (<see cref="Api.A1111Options.Validate"/>), the others as sent, so
/// a client reads back what it wrote. With a file (<see cref="ServerOptions.OptionsFile"/>) they survive a restart;
/// each change rewrites it atomically (<see cref="AtomicFile"/>), so a crash leaves the old or the new options.
/// </summary>
internal sealed class ServerSettingsStore
{
    private readonly object _gate = new();
    private readonly string? _file;
    private JsonObject _values;

    private ServerSettingsStore(string? file, JsonObject values)
    {
        _file = file;
        _values = values;
    }

    /// <summary>The options kept in <paramref name="file"/> (none when it does not exist yet), or in memory only when null.</summary>
    /// <exception cref="RedraftInputException">The file is not a JSON object or cannot be read.</exception>
    public static ServerSettingsStore Load(string? file)
    {
        if (file is null || !File.Exists(file)) return new ServerSettingsStore(file is null ? null : Path.GetFullPath(file), []);
        try
        {
            return JsonNode.Parse(File.ReadAllText(file)) is JsonObject values
                ? new ServerSettingsStore(Path.GetFullPath(file), values)
                : throw new RedraftInputException($"{file}: the server's options file is not a JSON object; fix it or delete it to start from A1111's defaults.");
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new RedraftInputException($"{file}: the server's options file cannot be read ({e.Message.ReplaceLineEndings(" ")}); fix it or delete it to start from A1111's defaults.");
        }
    }

    /// <summary>A copy of the options kept.</summary>
    public JsonObject Snapshot()
    {
        lock (_gate) return (JsonObject)_values.DeepClone();
    }

    /// <summary>Sets every option of <paramref name="values"/> (already checked) and writes the file.</summary>
    /// <exception cref="IOException">The file could not be written; the options kept are unchanged.</exception>
    public void Set(JsonObject values)
    {
        lock (_gate)
        {
            var next = (JsonObject)_values.DeepClone();
            foreach (var (key, value) in values) next[key] = value?.DeepClone();
            if (_file is not null)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(_file)!);
                AtomicFile.WriteAllText(_file, next.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            }
            _values = next;
        }
    }
}
