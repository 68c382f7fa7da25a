using System.Collections.Concurrent;
using System.Security.Cryptography;
using Redraft.Models;
using Redraft.Server.Api;

namespace Redraft.Server;

/// <summary>
/// The checkpoints, LoRAs and VAEs the server offers: files under the models folder (LoRAs in its <c>Lora</c>
/// sub-folder, VAEs in <c>VAE</c>, checkpoints anywhere else), plus the start model when it lives elsewhere, plus the
/// models <paramref name="inPlace"/> finds where they are (the Hugging Face cache, an AUTOMATIC1111 folder), never
/// copied. Every list is read from disk when asked, so <c>refresh-checkpoints</c> and a finished download need no
/// cache to be cleared.
/// A request names a checkpoint the way A1111's clients do (a title <c>name.safetensors [hash]</c>, a relative file
/// name with or without extension, a short or full hash); names resolve only to files of this list, so a request
/// cannot reach other paths. Hashes are computed once per file version and only for files that were loaded or asked
/// for by hash, as A1111 does.
/// <para>
/// Every name a client sends (<c>sd_model_checkpoint</c>, <c>sd_vae</c>, <c>&lt;lora:NAME:W&gt;</c>) is compared with
/// the names of the files listed here, never joined to a path: <c>../x</c>, <c>..\x</c> or an absolute path match no
/// listed name, so they are "not found" whatever exists on disk. Symbolic links the server's owner put in the folders
/// are followed (sharing one model collection between tools is usual); a client cannot create one.
/// </para>
/// </summary>
internal sealed class ModelFolder(string root, string? extraCheckpoint, ModelLibrary? inPlace = null)
{
    private static readonly string[] NotCheckpoints = ["Lora", "LyCORIS", "VAE", "taesd", "embeddings", "ESRGAN"];
    private readonly ConcurrentDictionary<(string Path, long Length, long Ticks), string> _sha256 = new();

    /// <summary>The models folder (absolute).</summary>
    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>A checkpoint as A1111 lists it.</summary>
    /// <param name="Name">Path relative to the models folder (file name for a checkpoint outside it).</param>
    /// <param name="Path">Absolute path.</param>
    public sealed record Checkpoint(string Name, string Path)
    {
        /// <summary>A1111's <c>model_name</c>: the relative name without extension, separators replaced by <c>_</c>.</summary>
        public string ModelName => System.IO.Path.ChangeExtension(Name, null).Replace('/', '_').Replace('\\', '_');
    }

    /// <summary>The checkpoints, sorted by name.</summary>
    public IReadOnlyList<Checkpoint> Checkpoints()
    {
        var list = new List<Checkpoint>();
        if (Directory.Exists(Root))
            foreach (var file in Directory.EnumerateFiles(Root, "*.safetensors", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(Root, file);
                string top = relative.Split(Path.DirectorySeparatorChar)[0];
                if (relative.Contains(Path.DirectorySeparatorChar) && NotCheckpoints.Contains(top, StringComparer.OrdinalIgnoreCase)) continue;
                list.Add(new Checkpoint(relative, file));
            }
        if (extraCheckpoint is { } extra && !list.Any(c => c.Path == extra))
            list.Add(new Checkpoint(Path.GetFileName(extra), extra));
        foreach (var (name, path) in InPlace(ModelRole.Checkpoint))
            if (!list.Any(c => c.Path == path || c.Name == name)) list.Add(new Checkpoint(name, path));
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return list;
    }

    /// <summary>LoRA files (<c>Lora</c> sub-folder), sorted.</summary>
    public IReadOnlyList<string> Loras() => WithInPlace(Files("Lora"), ModelRole.Lora);

    /// <summary>VAE files (<c>VAE</c> sub-folder), sorted.</summary>
    public IReadOnlyList<string> Vaes() => WithInPlace(Files("VAE"), ModelRole.Vae);

    /// <summary>
    /// The checkpoint a client names, found as A1111 finds it (<see cref="CheckpointNames"/>): a title
    /// (<c>name [hash]</c>), a relative name with or without extension, a short, full or old-style hash, or part of a
    /// title.
    /// </summary>
    /// <exception cref="ApiException">422: no checkpoint of the list has that name.</exception>
    public Checkpoint Resolve(string asked) =>
        CheckpointNames.Match(asked.Trim(), Checkpoints(), KnownSha256, Sha256) ?? throw ApiException.Unprocessable(
            $"model \"{asked}\" not found; GET /sdapi/v1/sd-models lists the checkpoints in {Root}.");

    /// <summary>A1111's title of a checkpoint: <c>name [short hash]</c> once the hash is known, else the name.</summary>
    public static string Title(Checkpoint c, string? sha256) => sha256 is null ? c.Name : $"{c.Name} [{sha256[..10]}]";

    /// <summary>Forgets the hashes of files that are gone or were rewritten (<c>refresh-checkpoints</c>).</summary>
    public void ForgetStaleHashes()
    {
        foreach (var key in _sha256.Keys)
        {
            var info = new FileInfo(key.Path);
            if (!info.Exists || info.Length != key.Length || info.LastWriteTimeUtc.Ticks != key.Ticks) _sha256.TryRemove(key, out _);
        }
    }

    /// <summary>The VAE file named <paramref name="name"/> (its file name, with or without extension) in <c>VAE/</c>.</summary>
    /// <param name="name">What the client sent.</param>
    /// <param name="field">The field it came in, for the message (<c>override_settings.sd_vae</c>).</param>
    /// <exception cref="ApiException">422: no VAE of the list has that name.</exception>
    public string ResolveVae(string name, string field) =>
        Vaes().FirstOrDefault(p => Path.GetFileName(p) == name || Path.GetFileNameWithoutExtension(p) == name)
        ?? throw ApiException.Unprocessable($"{field}: VAE \"{name}\" not found; GET /sdapi/v1/sd-vae lists the VAEs in {Path.Combine(Root, "VAE")}.");

    /// <summary>The LoRA file whose name without extension is <paramref name="name"/> in <c>Lora/</c>, or null (A1111 skips a missing LoRA).</summary>
    public string? FindLora(string name) => Loras().FirstOrDefault(f => Path.GetFileNameWithoutExtension(f) == name);

    /// <summary>The file's sha256 (hex), computed once per file version.</summary>
    public string Sha256(string path)
    {
        var info = new FileInfo(path);
        return _sha256.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc.Ticks), key =>
        {
            using var stream = File.OpenRead(key.Path);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        });
    }

    /// <summary>The sha256 if it was computed already (A1111 lists hashes it knows and does not hash every file to list it).</summary>
    public string? KnownSha256(string path)
    {
        var info = new FileInfo(path);
        return info.Exists && _sha256.TryGetValue((info.FullName, info.Length, info.LastWriteTimeUtc.Ticks), out var hash) ? hash : null;
    }

    /// <summary>
    /// The single-file models of <paramref name="role"/> found in place: the name is the path inside the A1111 folder
    /// (as A1111 lists it), or the file name in the Hugging Face cache.
    /// </summary>
    private IEnumerable<(string Name, string Path)> InPlace(ModelRole role)
    {
        if (inPlace is null) yield break;
        foreach (var m in inPlace.Installed())
        {
            if (m.Role != role || m.Source is not (ModelSource.HuggingFaceCache or ModelSource.A1111) || !File.Exists(m.Path)) continue;
            string name = m.Source == ModelSource.A1111 && inPlace.Places.A1111FolderFor(role) is { } folder
                ? Path.GetRelativePath(folder, m.Path) : Path.GetFileName(m.Path);
            yield return (name, m.Path);
        }
    }

    private List<string> WithInPlace(List<string> files, ModelRole role)
    {
        foreach (var (_, path) in InPlace(role))
            if (!files.Contains(path) && !files.Any(f => Path.GetFileName(f) == Path.GetFileName(path))) files.Add(path);
        return files;
    }

    private List<string> Files(string folder)
    {
        string dir = Path.Combine(Root, folder);
        if (!Directory.Exists(dir)) return [];
        var files = Directory.EnumerateFiles(dir, "*.safetensors", SearchOption.AllDirectories).ToList();
        files.Sort(StringComparer.Ordinal);
        return files;
    }
}
