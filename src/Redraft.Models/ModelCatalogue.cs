using System.Text.Json;
using System.Text.Json.Serialization;

namespace Redraft.Models;

/// <summary>
/// The models Redraft knows how to fetch (<c>src/Redraft.Models/models.json</c>, inside the assembly), one of them
/// the default a generating command uses without <c>--model</c>. <c>REDRAFT_CATALOGUE</c> names a file of the same
/// shape that replaces it (more models, a mirror, tests).
/// </summary>
public sealed class ModelCatalogue
{
    /// <summary>The environment variable naming a catalogue file that replaces the built-in one.</summary>
    public const string EnvironmentVariable = "REDRAFT_CATALOGUE";

    private sealed record Document(
        [property: JsonPropertyName("default")] string Default,
        [property: JsonPropertyName("models")] IReadOnlyList<CatalogueEntry> Models);

    /// <summary>Every entry, in the file's order.</summary>
    public IReadOnlyList<CatalogueEntry> Entries { get; }

    /// <summary>The entry a generating command uses when no model is named.</summary>
    public CatalogueEntry Default { get; }

    private ModelCatalogue(Document document, string origin)
    {
        Entries = document.Models;
        Default = Find(document.Default) ?? throw new RedraftInputException($"{origin}: the default model \"{document.Default}\" is not one of its entries.");
    }

    /// <summary>The entry named <paramref name="name"/> (case-insensitive), or null.</summary>
    public CatalogueEntry? Find(string name) => Entries.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The built-in catalogue, or the file <c>REDRAFT_CATALOGUE</c> names.</summary>
    public static ModelCatalogue Load(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment(EnvironmentVariable) is { Length: > 0 } file)
        {
            InputFile.EnsureRegular(file, "model catalogue", 4 << 20);
            return Parse(File.ReadAllText(file), file);
        }
        using var stream = typeof(ModelCatalogue).Assembly.GetManifestResourceStream("Redraft.Models.models.json")
            ?? throw new InvalidOperationException("the built-in model catalogue is missing from the assembly");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd(), "built-in catalogue");
    }

    /// <summary>Reads a catalogue's JSON; <paramref name="origin"/> names it in messages.</summary>
    public static ModelCatalogue Parse(string json, string origin)
    {
        Document? document;
        try
        {
            document = JsonSerializer.Deserialize<Document>(json);
        }
        catch (JsonException e)
        {
            throw new RedraftInputException($"{origin}: not a model catalogue ({e.Message}).");
        }
        if (document?.Models is null || document.Default is null) throw new RedraftInputException($"{origin}: not a model catalogue (no \"models\" or \"default\").");
        foreach (var entry in document.Models)
            foreach (var file in entry.Files)
                if ((file.Repo is null || file.Path is null) && file.Url is null)
                    throw new RedraftInputException($"{origin}: model \"{entry.Name}\" has a file with neither repo+path nor url.");
        return new ModelCatalogue(document, origin);
    }
}
