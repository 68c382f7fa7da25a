using System.Text.Json.Serialization;

namespace Redraft.Models;

/// <summary>What a model is for, which decides where it is installed and which lists show it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ModelRole>))]
public enum ModelRole
{
    /// <summary>A Stable Diffusion checkpoint (<c>models/</c>).</summary>
    [JsonStringEnumMemberName("checkpoint")] Checkpoint,
    /// <summary>A VAE (<c>models/VAE/</c>).</summary>
    [JsonStringEnumMemberName("vae")] Vae,
    /// <summary>A LoRA (<c>models/Lora/</c>).</summary>
    [JsonStringEnumMemberName("lora")] Lora,
    /// <summary>TAESD encoder and decoder (<c>$REDRAFT_HOME/taesd/</c>, where the engine looks).</summary>
    [JsonStringEnumMemberName("taesd")] Taesd,
    /// <summary>The CLIP vocabulary (<c>$REDRAFT_HOME/clip/</c>, where the tokenizer looks).</summary>
    [JsonStringEnumMemberName("tokenizer")] Tokenizer,
}

/// <summary>A model's licence; <see cref="Acceptance"/> means it is shown and must be accepted once before download.</summary>
public sealed record CatalogueLicence(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("url")] string Url,
    [property: JsonPropertyName("acceptance")] bool Acceptance);

/// <summary>One file of a catalogue entry: a Hugging Face file (repo, revision, path) or a plain URL.</summary>
public sealed record CatalogueFile
{
    /// <summary>Hugging Face repository, <c>org/name</c>.</summary>
    [JsonPropertyName("repo")] public string? Repo { get; init; }
    /// <summary>A commit hash where a source gave one, else a branch (<c>main</c>).</summary>
    [JsonPropertyName("revision")] public string Revision { get; init; } = "main";
    /// <summary>The file's path in the repository.</summary>
    [JsonPropertyName("path")] public string? Path { get; init; }
    /// <summary>A plain URL instead of a repository file.</summary>
    [JsonPropertyName("url")] public string? Url { get; init; }
    /// <summary>The name it is installed under, when not the path's file name.</summary>
    [JsonPropertyName("install_as")] public string? InstallAs { get; init; }
    /// <summary>Size in bytes, when a source gave it.</summary>
    [JsonPropertyName("size")] public long? Size { get; init; }
    /// <summary>SHA-256 (hex), when a source gave it; else the hub's announced one is checked.</summary>
    [JsonPropertyName("sha256")] public string? Sha256 { get; init; }

    /// <summary>The installed file name.</summary>
    public string FileName => InstallAs ?? System.IO.Path.GetFileName(Path ?? new Uri(Url!).AbsolutePath);
}

/// <summary>Sampling settings that suit a model (a distilled model wants 1 step and no guidance).</summary>
public sealed record CatalogueSettings(
    [property: JsonPropertyName("steps")] int? Steps,
    [property: JsonPropertyName("cfg")] double? Cfg,
    [property: JsonPropertyName("sampler")] string? Sampler);

/// <summary>A known model: its files, licence, role, family and where each fact came from.</summary>
public sealed record CatalogueEntry
{
    /// <summary>The short name commands use (<c>redraft models pull sd-turbo</c>).</summary>
    [JsonPropertyName("name")] public required string Name { get; init; }
    /// <summary>One line for lists.</summary>
    [JsonPropertyName("title")] public string Title { get; init; } = "";
    /// <summary>What it is for.</summary>
    [JsonPropertyName("role")] public ModelRole Role { get; init; }
    /// <summary>Model family (<c>sd1</c>, <c>sd2</c>; comma-separated when several).</summary>
    [JsonPropertyName("family")] public string Family { get; init; } = "";
    /// <summary>The licence.</summary>
    [JsonPropertyName("licence")] public CatalogueLicence? Licence { get; init; }
    /// <summary>Settings that suit the model, used by a generating command for options not given.</summary>
    [JsonPropertyName("settings")] public CatalogueSettings? Settings { get; init; }
    /// <summary>The files (TAESD and the tokenizer have two).</summary>
    [JsonPropertyName("files")] public IReadOnlyList<CatalogueFile> Files { get; init; } = [];
    /// <summary>Why the revision is a branch, when it is.</summary>
    [JsonPropertyName("revision_unverified")] public string? RevisionUnverified { get; init; }
    /// <summary>Where each fact came from.</summary>
    [JsonPropertyName("sources")] public IReadOnlyList<string> Sources { get; init; } = [];

    /// <summary>The total size, when every file's size is known.</summary>
    public long? Size => Files.All(f => f.Size is not null) ? Files.Sum(f => f.Size!.Value) : null;
}
