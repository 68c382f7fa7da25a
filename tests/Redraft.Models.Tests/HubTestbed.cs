using Redraft.Tests.Shared;

namespace Redraft.Models.Tests;

/// <summary>A fake hub, a temp home and a library pointed at them (HF_ENDPOINT = the fake hub); all removed on dispose.</summary>
public sealed class HubTestbed : IDisposable
{
    public FakeHub Hub { get; } = new();
    public string Folder { get; } = Directory.CreateTempSubdirectory("redraft-models-").FullName;
    public string ModelsDir => Path.Combine(Folder, "home", "models");
    public string HubCache => Path.Combine(Folder, "hf", "hub");
    public string? A1111Dir { get; set; }
    public string? Token { get; set; }
    public bool Offline { get; set; }
    public Func<string, long>? FreeSpace { get; set; }

    public HubEnvironment Environment => new() { Endpoint = Hub.Endpoint, Token = Token, Offline = Offline, HubCache = HubCache };

    /// <summary>A one-file catalogue entry for <paramref name="repo"/>/<paramref name="path"/>.</summary>
    public static string Entry(string name, string repo, string path, string role = "checkpoint", string? sha256 = null, bool acceptance = false) => $$"""
        { "name": "{{name}}", "role": "{{role}}", "family": "sd1",
          "licence": { "name": "Test Licence", "url": "https://example.invalid/licence", "acceptance": {{(acceptance ? "true" : "false")}} },
          "files": [ { "repo": "{{repo}}", "revision": "main", "path": "{{path}}", "sha256": {{(sha256 is null ? "null" : $"\"{sha256}\"")}} } ] }
        """;

    public ModelCatalogue Catalogue(params string[] entries) =>
        ModelCatalogue.Parse($$"""{ "default": "{{System.Text.Json.JsonDocument.Parse(entries[0]).RootElement.GetProperty("name").GetString()}}", "models": [ {{string.Join(",", entries)}} ] }""", "test");

    public ModelLibrary Library(ModelCatalogue catalogue)
    {
        var places = new ModelPlaces(ModelsDir, new RedraftHome(Path.Combine(Folder, "home")), A1111Dir, HubCache);
        var downloader = new ModelDownloader(Environment)
        {
            Backoff = TimeSpan.FromMilliseconds(10),
            StallTimeout = TimeSpan.FromSeconds(20),
            FreeSpace = FreeSpace ?? (f => new DriveInfo(f).AvailableFreeSpace),
        };
        return new ModelLibrary(catalogue, places, downloader);
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Collects progress on the reporting thread (in order).</summary>
    public sealed class Recorder : IProgress<DownloadProgress>
    {
        private readonly List<DownloadProgress> _events = [];
        public Action<DownloadProgress>? Also { get; init; }
        public IReadOnlyList<DownloadProgress> Events { get { lock (_events) return [.. _events]; } }
        public void Report(DownloadProgress value)
        {
            lock (_events) _events.Add(value);
            Also?.Invoke(value);
        }
    }

    public void Dispose()
    {
        Hub.Dispose();
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}
