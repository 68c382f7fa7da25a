namespace Redraft.Models;

/// <summary>What a <c>--model</c> value (or its absence) comes to.</summary>
/// <param name="Path">The file or folder to load, when it is on disk.</param>
/// <param name="Download">The catalogue entry to download first, when it is not.</param>
/// <param name="Entry">The catalogue entry it is, if any (its settings suit the model).</param>
public sealed record ModelChoice(string? Path, CatalogueEntry? Download, CatalogueEntry? Entry);

/// <summary>A file <c>verify</c> checked.</summary>
/// <param name="Model">The model's name.</param>
/// <param name="Path">The file.</param>
/// <param name="Problem">Null when the file is there with its recorded SHA-256; else what is wrong.</param>
public sealed record VerifyResult(string Model, string Path, string? Problem);

/// <summary>
/// The models on this machine and the catalogue's: list, pull, remove, verify, and turn a <c>--model</c> value into
/// a path. What Redraft downloads is recorded in the models folder (<see cref="ModelManifest"/>); files found in the
/// Hugging Face cache, an AUTOMATIC1111 folder or put in the models folder by hand are used where they are and never
/// deleted.
/// </summary>
public sealed class ModelLibrary(ModelCatalogue catalogue, ModelPlaces places, ModelDownloader downloader)
{
    /// <summary>The catalogue.</summary>
    public ModelCatalogue Catalogue => catalogue;

    /// <summary>The folders.</summary>
    public ModelPlaces Places => places;

    /// <summary>True when downloads are off (<c>HF_HUB_OFFLINE</c>, <c>--offline</c>).</summary>
    public bool Offline => downloader.Hub.Offline;

    private static readonly string[] NotCheckpointFolders = ["Lora", "LyCORIS", "VAE", "taesd", "embeddings", "ESRGAN"];

    /// <summary>Every model on disk, each file once: Redraft's downloads first, then the models folder, the Hugging Face cache and the A1111 folder.</summary>
    public IReadOnlyList<InstalledModel> Installed()
    {
        var list = new List<InstalledModel>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Add(InstalledModel m)
        {
            if (seen.Add(System.IO.Path.GetFullPath(m.Path))) list.Add(m);
        }

        var manifest = ModelManifest.Read(places.ManifestPath);
        foreach (var record in manifest.Models)
        {
            if (!record.Files.All(f => File.Exists(f.Path))) continue;
            string path = record.Files.Count == 1 ? record.Files[0].Path : System.IO.Path.GetDirectoryName(record.Files[0].Path)!;
            Add(new InstalledModel(record.Name, record.Role, path, record.Files.Sum(f => SizeOf(f.Path)), ModelSource.Redraft, record.FromCatalogue ? record.Name : null));
            foreach (var f in record.Files) seen.Add(f.Path);
        }

        // Two-file models (TAESD, the tokenizer) count as installed when both files are in their folder.
        foreach (var entry in catalogue.Entries.Where(e => e.Files.Count > 1))
        {
            string folder = places.FolderFor(entry.Role);
            if (entry.Files.All(f => File.Exists(System.IO.Path.Combine(folder, f.FileName))) && !seen.Contains(folder))
                Add(new InstalledModel(entry.Name, entry.Role, folder, entry.Files.Sum(f => SizeOf(System.IO.Path.Combine(folder, f.FileName))), ModelSource.ModelsFolder, entry.Name));
        }

        if (Directory.Exists(places.ModelsDir))
            foreach (var file in Directory.EnumerateFiles(places.ModelsDir, "*.safetensors", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                string relative = System.IO.Path.GetRelativePath(places.ModelsDir, file);
                string top = relative.Split(System.IO.Path.DirectorySeparatorChar)[0];
                var role = !relative.Contains(System.IO.Path.DirectorySeparatorChar) ? ModelRole.Checkpoint
                    : top.Equals("Lora", StringComparison.OrdinalIgnoreCase) ? ModelRole.Lora
                    : top.Equals("VAE", StringComparison.OrdinalIgnoreCase) ? ModelRole.Vae
                    : NotCheckpointFolders.Contains(top, StringComparer.OrdinalIgnoreCase) ? (ModelRole?)null : ModelRole.Checkpoint;
                if (role is { } r) Add(Found(file, r, ModelSource.ModelsFolder));
            }

        foreach (var entry in catalogue.Entries)
        {
            var cached = entry.Files.Select(f => f.Repo is null ? null : HuggingFaceCache.Find(places.HubCache, f.Repo, f.Revision, f.Path!)).ToList();
            if (cached.Count == 0 || cached.Any(c => c is null)) continue;
            string path = cached.Count == 1 ? cached[0]! : System.IO.Path.GetDirectoryName(cached[0])!;
            if (cached.Count > 1 && cached.Any(c => System.IO.Path.GetDirectoryName(c) != path)) continue;
            Add(new InstalledModel(entry.Name, entry.Role, path, cached.Sum(c => SizeOf(c!)), ModelSource.HuggingFaceCache, entry.Name));
        }
        foreach (var (_, file) in HuggingFaceCache.TopLevelFiles(places.HubCache))
            Add(Found(file, ModelRole.Checkpoint, ModelSource.HuggingFaceCache));

        foreach (var role in new[] { ModelRole.Checkpoint, ModelRole.Vae, ModelRole.Lora })
            if (places.A1111FolderFor(role) is { } folder && Directory.Exists(folder))
                foreach (var file in Directory.EnumerateFiles(folder, "*.safetensors", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                    Add(Found(file, role, ModelSource.A1111));
        return list;
    }

    /// <summary>A file found on disk, named after the catalogue entry whose file name and role it has, else its own stem.</summary>
    private InstalledModel Found(string file, ModelRole role, ModelSource source)
    {
        var entry = catalogue.Entries.FirstOrDefault(e => e.Role == role && e.Files.Count == 1 && e.Files[0].FileName == System.IO.Path.GetFileName(file));
        return new InstalledModel(entry?.Name ?? System.IO.Path.GetFileNameWithoutExtension(file), role, file, SizeOf(file), source, entry?.Name);
    }

    /// <summary>A file's size, through symbolic links (the Hugging Face cache is made of them).</summary>
    private static long SizeOf(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? info.Length : info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target ? target.Length : 0;
    }

    /// <summary>The installed copy of a catalogue entry (Redraft's, else one found in place), or null.</summary>
    public InstalledModel? FindInstalled(CatalogueEntry entry) => Installed().FirstOrDefault(m => m.CatalogueName == entry.Name);

    /// <summary>
    /// What <c>--model</c> means: a path on disk; else a catalogue name (its installed copy, or the entry to download);
    /// else an installed model's name; null = the catalogue's default.
    /// </summary>
    /// <exception cref="RedraftInputException">None of those.</exception>
    public ModelChoice Choose(string? asked)
    {
        if (asked is null)
        {
            var d = catalogue.Default;
            return FindInstalled(d) is { } have ? new ModelChoice(have.Path, null, d) : new ModelChoice(null, d, d);
        }
        if (File.Exists(asked) || Directory.Exists(asked)) return new ModelChoice(System.IO.Path.GetFullPath(asked), null, null);
        if (catalogue.Find(asked) is { } entry)
            return FindInstalled(entry) is { } have ? new ModelChoice(have.Path, null, entry) : new ModelChoice(null, entry, entry);
        var installed = Installed().Where(m => m.Role == ModelRole.Checkpoint).ToList();
        bool looksLikePath = asked.Contains('/') || asked.Contains('\\') || System.IO.Path.HasExtension(asked);
        var match = installed.FirstOrDefault(m => string.Equals(m.Name, asked, StringComparison.OrdinalIgnoreCase))
            ?? installed.FirstOrDefault(m => string.Equals(System.IO.Path.GetFileName(m.Path), asked, StringComparison.OrdinalIgnoreCase));
        if (match is not null) return new ModelChoice(match.Path, null, match.CatalogueName is { } n ? catalogue.Find(n) : null);
        // A path that does not exist goes on to the loader, whose message says how to get a model file.
        if (looksLikePath) return new ModelChoice(System.IO.Path.GetFullPath(asked), null, null);
        throw new RedraftInputException($"--model {asked}: not found: not a file, an installed model's name or a catalogue name; 'redraft models list' shows the names.");
    }

    /// <summary>
    /// Downloads a catalogue entry's files into their folder and records them, unless a copy is installed already
    /// (Redraft's, or found in place). A licence that needs acceptance is accepted by <paramref name="acceptLicence"/>,
    /// else <paramref name="ask"/> is asked once and the answer remembered.
    /// </summary>
    /// <returns>The installed model and whether anything was downloaded.</returns>
    public async Task<(InstalledModel Model, bool Downloaded)> PullAsync(CatalogueEntry entry, bool acceptLicence, Func<CatalogueEntry, bool>? ask,
        IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        if (FindInstalled(entry) is { } have) return (have, false);
        await EnsureLicenceAsync(entry, acceptLicence, ask, ct);
        string folder = places.FolderFor(entry.Role);
        var files = new List<ModelManifest.FileRecord>();
        foreach (var file in entry.Files)
        {
            var url = file.Url is { } plain ? new Uri(plain) : downloader.Hub.ResolveUrl(file.Repo!, file.Revision, file.Path!);
            string what = file.Repo is null ? file.FileName : $"{file.Repo}/{file.Path}";
            var result = await downloader.DownloadAsync(new DownloadRequest(url, folder, file.FileName, file.Sha256, what, file.Repo), progress, ct);
            files.Add(new ModelManifest.FileRecord(result.Path, result.Sha256, result.Size, url.AbsoluteUri, result.Commit));
        }
        await Record(new ModelManifest.ModelRecord(entry.Name, entry.Role, true, files), ct);
        return (FindInstalled(entry)!, true);
    }

    /// <summary>Downloads a plain URL (a Civitai link, a mirror) as a model of <paramref name="role"/>, named by the server's <c>Content-Disposition</c>.</summary>
    public async Task<InstalledModel> PullUrlAsync(Uri url, ModelRole role, IProgress<DownloadProgress>? progress, CancellationToken ct)
    {
        var result = await downloader.DownloadAsync(new DownloadRequest(url, places.FolderFor(role), null, null, url.Host + url.AbsolutePath), progress, ct);
        string name = System.IO.Path.GetFileNameWithoutExtension(result.Path);
        await Record(new ModelManifest.ModelRecord(name, role, false, [new(result.Path, result.Sha256, result.Size, url.AbsoluteUri, null)]), ct);
        return new InstalledModel(name, role, result.Path, result.Size, ModelSource.Redraft, null);
    }

    /// <summary>Deletes what Redraft downloaded under <paramref name="name"/>; refuses models found elsewhere.</summary>
    /// <returns>The files deleted.</returns>
    /// <exception cref="RedraftInputException">Not Redraft's download (the message says whose it is), or unknown.</exception>
    public async Task<IReadOnlyList<string>> RemoveAsync(string name, CancellationToken ct)
    {
        var deleted = new List<string>();
        bool recorded = ModelManifest.Read(places.ManifestPath).Models.Any(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase));
        if (recorded) await ModelManifest.UpdateAsync(places.ManifestPath, m =>
        {
            var ours = m.Models.Where(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase)).ToList();
            foreach (var file in ours.SelectMany(r => r.Files))
            {
                if (File.Exists(file.Path)) { File.Delete(file.Path); deleted.Add(file.Path); }
                foreach (var leftover in new[] { file.Path + ".part", DownloadLock.PathFor(file.Path) })
                    if (File.Exists(leftover)) File.Delete(leftover);
            }
            return m with { Models = [.. m.Models.Except(ours)] };
        }, ct);
        if (deleted.Count > 0) return deleted;
        var other = Installed().FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));
        throw other switch
        {
            { Source: ModelSource.HuggingFaceCache } => new RedraftInputException($"{name} is in the Hugging Face cache ({other.Path}), which Redraft only reads; remove it with 'huggingface-cli delete-cache'."),
            { Source: ModelSource.A1111 } => new RedraftInputException($"{name} is in the AUTOMATIC1111 folder ({other.Path}), which Redraft only reads; delete it there if you mean to."),
            { Source: ModelSource.ModelsFolder } => new RedraftInputException($"{name} ({other.Path}) was not downloaded by Redraft, so 'rm' leaves it; delete the file yourself if you mean to."),
            _ => new RedraftInputException($"{name}: no model Redraft downloaded has that name; 'redraft models list' shows them."),
        };
    }

    /// <summary>Re-hashes Redraft's downloads (all, or the one named) against the SHA-256 recorded when they arrived.</summary>
    public IReadOnlyList<VerifyResult> Verify(string? name)
    {
        var records = ModelManifest.Read(places.ManifestPath).Models
            .Where(r => name is null || string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase)).ToList();
        if (name is not null && records.Count == 0)
            throw new RedraftInputException($"{name}: no model Redraft downloaded has that name; 'redraft models list' shows them.");
        var results = new List<VerifyResult>();
        foreach (var record in records)
            foreach (var file in record.Files)
            {
                string? problem = !File.Exists(file.Path) ? "missing"
                    : ModelDownloader.HashFile(file.Path) is var sha && sha != file.Sha256 ? $"SHA-256 is {sha}, recorded {file.Sha256}" : null;
                results.Add(new VerifyResult(record.Name, file.Path, problem));
            }
        return results;
    }

    /// <summary>Whether <paramref name="entry"/>'s licence was accepted on this models folder.</summary>
    public bool LicenceAccepted(CatalogueEntry entry) =>
        entry.Licence is not { Acceptance: true } || ModelManifest.Read(places.ManifestPath).LicencesAccepted.Contains(entry.Name, StringComparer.OrdinalIgnoreCase);

    private async Task EnsureLicenceAsync(CatalogueEntry entry, bool acceptLicence, Func<CatalogueEntry, bool>? ask, CancellationToken ct)
    {
        if (LicenceAccepted(entry)) return;
        if (!acceptLicence && (ask is null || !ask(entry)))
            throw new RedraftInputException($"{entry.Name} is under the {entry.Licence!.Name} ({entry.Licence.Url}), which must be accepted before download; read it, then run again and answer y, or pass --accept-licence.");
        await ModelManifest.UpdateAsync(places.ManifestPath, m => m with { LicencesAccepted = [.. m.LicencesAccepted, entry.Name] }, ct);
    }

    private Task Record(ModelManifest.ModelRecord record, CancellationToken ct) =>
        ModelManifest.UpdateAsync(places.ManifestPath, m => m with
        {
            Models = [.. m.Models.Where(r => !string.Equals(r.Name, record.Name, StringComparison.OrdinalIgnoreCase)), record],
        }, ct);
}
