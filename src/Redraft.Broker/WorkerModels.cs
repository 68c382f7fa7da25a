using System.Collections.Concurrent;
using System.Security.Cryptography;
using Redraft.Broker.Messages;

namespace Redraft.Broker;

/// <summary>
/// The model files a worker has, found by content: checkpoints anywhere under its models folder (LoRAs in
/// <c>Lora/</c>, VAEs in <c>VAE/</c>, as the server lays them out) and any extra checkpoints it was given. A job names
/// its files by SHA-256, so the worker runs its own copy of the same bytes whatever it is called or where it lives.
/// Hashes are computed once per file version.
/// </summary>
public sealed class WorkerModels(string modelsDir, IReadOnlyList<string>? extraCheckpoints = null)
{
    private static readonly string[] NotCheckpoints = ["Lora", "LyCORIS", "VAE", "taesd", "embeddings", "ESRGAN", "clip"];
    private readonly ConcurrentDictionary<(string Path, long Length, long Ticks), string> _sha256 = new();

    /// <summary>The models folder (absolute).</summary>
    public string Root { get; } = Path.GetFullPath(modelsDir);

    /// <summary>The checkpoints, with their hashes (computed now for files not seen before).</summary>
    public IReadOnlyList<(ModelReference Reference, string Path)> Checkpoints()
    {
        var files = new List<string>();
        if (Directory.Exists(Root))
            foreach (var file in Directory.EnumerateFiles(Root, "*.safetensors", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(Root, file);
                string top = relative.Split(Path.DirectorySeparatorChar)[0];
                if (relative.Contains(Path.DirectorySeparatorChar) && NotCheckpoints.Contains(top, StringComparer.OrdinalIgnoreCase)) continue;
                files.Add(file);
            }
        foreach (var extra in extraCheckpoints ?? [])
            if (File.Exists(extra)) files.Add(Path.GetFullPath(extra));
        return [.. files.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .Select(f => (new ModelReference(Path.GetFileName(f), Sha256(f)), f))];
    }

    /// <summary>The checkpoint with that content, or null.</summary>
    public string? Checkpoint(string sha256) => Checkpoints().FirstOrDefault(c => c.Reference.Sha256 == sha256).Path;

    /// <summary>
    /// The YAML config with that content for <paramref name="checkpoint"/>: the one beside it (as the loader finds it)
    /// when its content matches, else any under the models folder, or null.
    /// </summary>
    public string? Config(string checkpoint, string sha256)
    {
        if (Redraft.Diffusion.Checkpoints.LdmYamlConfig.FindBeside(checkpoint) is { } beside && Sha256(beside) == sha256) return beside;
        return Directory.Exists(Root)
            ? Directory.EnumerateFiles(Root, "*.yaml", SearchOption.AllDirectories).FirstOrDefault(f => Sha256(f) == sha256)
            : null;
    }

    /// <summary>The LoRA (in <c>Lora/</c>) with that content, or null.</summary>
    public string? Lora(string sha256) => Find("Lora", sha256);

    /// <summary>The VAE (in <c>VAE/</c>) with that content, or null.</summary>
    public string? Vae(string sha256) => Find("VAE", sha256);

    /// <summary>The file's SHA-256 (lower-case hex), computed once per file version.</summary>
    public string Sha256(string path)
    {
        var info = new FileInfo(path);
        return _sha256.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc.Ticks), key =>
        {
            using var stream = File.OpenRead(key.Path);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        });
    }

    private string? Find(string folder, string sha256)
    {
        string dir = Path.Combine(Root, folder);
        if (!Directory.Exists(dir)) return null;
        return Directory.EnumerateFiles(dir, "*.safetensors", SearchOption.AllDirectories).FirstOrDefault(f => Sha256(f) == sha256);
    }
}
