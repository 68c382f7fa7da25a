using System.Security.Cryptography;
using Redraft.Diffusion.Tests;
using Redraft.Tests.Shared;

namespace Redraft.Cli.Tests;

/// <summary>
/// The command line against a fake Hugging Face hub (HF_ENDPOINT): a first run without --model downloads the default
/// (the tiny model, standing in for SD-Turbo) and the CLIP vocabulary and makes an image; a second run makes no
/// request; --offline refuses with the command to run; models found in a Hugging Face cache or an A1111 folder are
/// used in place; <c>models pull</c>'s failures are one line with the documented exit codes.
/// </summary>
[Collection(CliModelCollection.Name)]
public sealed class FirstRunTests(CliModelFixture f) : IDisposable
{
    private readonly FakeHub _hub = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("redraft-firstrun-").FullName;

    private string Home => Path.Combine(_folder, "home");

    private Dictionary<string, string?> Environment(string? catalogue = null) => new()
    {
        ["HOME"] = _folder,
        ["REDRAFT_HOME"] = Home,
        ["HF_HOME"] = Path.Combine(_folder, "hf"),
        ["HF_HUB_CACHE"] = null,
        ["HF_ENDPOINT"] = _hub.Endpoint.AbsoluteUri,
        ["HF_TOKEN"] = null,
        ["HF_HUB_OFFLINE"] = null,
        ["REDRAFT_A1111_DIR"] = null,
        ["REDRAFT_CATALOGUE"] = catalogue ?? WriteCatalogue(),
    };

    private static string Sha(string file) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));

    /// <summary>A catalogue whose default is the tiny model at test-org/tiny-default, plus the CLIP vocabulary and a broken entry.</summary>
    private string WriteCatalogue()
    {
        string vocab = Path.Combine(SharedData.ClipDir, "vocab.json"), merges = Path.Combine(SharedData.ClipDir, "merges.txt");
        string json = $$"""
            { "default": "tiny", "models": [
              { "name": "tiny", "title": "tiny stand-in", "role": "checkpoint", "family": "sd1", "settings": { "steps": 2 },
                "files": [ { "repo": "test-org/tiny-default", "revision": "main", "path": "tiny.safetensors", "size": {{new FileInfo(f.Model).Length}}, "sha256": "{{Sha(f.Model)}}" } ] },
              { "name": "clip-tokenizer", "title": "CLIP vocabulary", "role": "tokenizer",
                "files": [ { "repo": "openai/clip-vit-large-patch14", "path": "vocab.json", "sha256": "{{Sha(vocab)}}" },
                           { "repo": "openai/clip-vit-large-patch14", "path": "merges.txt", "sha256": "{{Sha(merges)}}" } ] },
              { "name": "broken", "title": "announced with the wrong hash", "role": "checkpoint", "files": [ { "repo": "test-org/broken", "path": "broken.safetensors" } ] },
              { "name": "gone", "title": "not on the hub", "role": "checkpoint", "files": [ { "repo": "test-org/gone", "path": "gone.safetensors" } ] }
            ] }
            """;
        string file = Path.Combine(_folder, "catalogue.json");
        File.WriteAllText(file, json);
        _hub.Add("test-org/tiny-default", "tiny.safetensors", new FakeHub.HubFile { Bytes = File.ReadAllBytes(f.Model) });
        _hub.Add("openai/clip-vit-large-patch14", "vocab.json", new FakeHub.HubFile { Bytes = File.ReadAllBytes(vocab), Lfs = false });
        _hub.Add("openai/clip-vit-large-patch14", "merges.txt", new FakeHub.HubFile { Bytes = File.ReadAllBytes(merges), Lfs = false });
        _hub.Add("test-org/broken", "broken.safetensors", new FakeHub.HubFile { Bytes = [1, 2, 3], AnnouncedSha256 = new string('c', 64) });
        return file;
    }

    private static string[] Txt2Img(string output, params string[] extra) =>
        ["txt2img", "--prompt", "a lighthouse at dusk", "--width", "64", "--height", "64", "--seed", "7", "--threads", "1", "--out", output, .. extra];

    [SharedDataFact]
    public void AFirstRunWithoutModelDownloadsTheDefaultAndTheVocabularyThenLaterRunsMakeNoRequest()
    {
        var env = Environment();
        string first = Path.Combine(_folder, "first.png");

        var run = RedraftProcess.Run(Txt2Img(first), env);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.True(File.Exists(first));
        Assert.Contains("tiny is not installed; downloading it (tiny stand-in", run.Stderr);
        Assert.Contains("clip-tokenizer is not installed", run.Stderr);
        Assert.Contains("tiny runs with --steps 2 unless given", run.Stderr);
        Assert.Equal(File.ReadAllBytes(f.Model), File.ReadAllBytes(Path.Combine(Home, "models", "tiny.safetensors")));
        Assert.True(File.Exists(Path.Combine(Home, "clip", "vocab.json")) && File.Exists(Path.Combine(Home, "clip", "merges.txt")));
        Assert.Equal(3, _hub.Gets.Count(r => r.Status is 200));   // the model from the CDN, the two vocabulary files from the hub
        int requests = _hub.Log.Count;

        string second = Path.Combine(_folder, "second.png");
        var again = RedraftProcess.Run(Txt2Img(second), env);

        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
        Assert.Equal(requests, _hub.Log.Count);
        Assert.DoesNotContain("downloading", again.Stderr);

        var list = RedraftProcess.Run(["models", "list"], env);
        Assert.Equal(0, list.ExitCode);
        Assert.Matches(@"tiny \*\s+checkpoint\s+\S+ \S+\s+" + System.Text.RegularExpressions.Regex.Escape(Path.Combine(Home, "models", "tiny.safetensors")), list.Stdout);
        Assert.Matches(@"broken\s+checkpoint\s+\?\s+available", list.Stdout);
    }

    [SharedDataFact]
    public void OfflineRefusesWithTheCommandToRun()
    {
        string output = Path.Combine(_folder, "out.png");
        var run = RedraftProcess.Run(Txt2Img(output, "--offline"), Environment());

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("run 'redraft models pull tiny' with network access first", run.Stderr);
        Assert.Empty(_hub.Log);
        Assert.False(File.Exists(output));
    }

    [SharedDataFact]
    public void PullFailuresAreOneLineWithTheirExitCodes()
    {
        var env = Environment();
        var wrong = RedraftProcess.Run(["models", "pull", "broken"], env);
        Assert.Equal(1, wrong.ExitCode);
        var last = wrong.Stderr.Trim().Split('\n')[^1];
        Assert.StartsWith("redraft: test-org/broken/broken.safetensors: the download's SHA-256 is", last);
        Assert.Contains("removed", last);
        Assert.False(File.Exists(Path.Combine(Home, "models", "broken.safetensors")));
        Assert.False(File.Exists(Path.Combine(Home, "models", "broken.safetensors.part")));

        var missing = RedraftProcess.Run(["models", "pull", "gone"], env);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("redraft: test-org/gone/gone.safetensors not found (HTTP 404", missing.Stderr.Trim().Split('\n')[^1]);
    }

    [SharedDataFact]
    public void ModelsInAHuggingFaceCacheAndAnA1111FolderAreUsedInPlace()
    {
        var env = Environment();
        // The Hugging Face cache's layout: blob, snapshot symlink, refs/main.
        string repoDir = Path.Combine(_folder, "hf", "hub", "models--test-org--tiny-default");
        string blob = Path.Combine(repoDir, "blobs", Sha(f.Model));
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        File.Copy(f.Model, blob);
        Directory.CreateDirectory(Path.Combine(repoDir, "snapshots", "abc123"));
        File.CreateSymbolicLink(Path.Combine(repoDir, "snapshots", "abc123", "tiny.safetensors"), Path.Combine("..", "..", "blobs", Sha(f.Model)));
        Directory.CreateDirectory(Path.Combine(repoDir, "refs"));
        File.WriteAllText(Path.Combine(repoDir, "refs", "main"), "abc123");
        string a1111 = Path.Combine(_folder, "webui");
        Directory.CreateDirectory(Path.Combine(a1111, "models", "Stable-diffusion"));
        File.Copy(f.Model, Path.Combine(a1111, "models", "Stable-diffusion", "webui-tiny.safetensors"));

        var fromCache = RedraftProcess.Run(Txt2Img(Path.Combine(_folder, "cache.png"), "--tokenizer", SharedData.ClipDir), env);
        var fromA1111 = RedraftProcess.Run(Txt2Img(Path.Combine(_folder, "a1111.png"), "--tokenizer", SharedData.ClipDir, "--a1111-dir", a1111, "--model", "webui-tiny"), env);
        var rm = RedraftProcess.Run(["models", "rm", "tiny"], env);

        Assert.True(fromCache.ExitCode == 0, fromCache.Stderr);
        Assert.True(fromA1111.ExitCode == 0, fromA1111.Stderr);
        Assert.Contains("model tiny ", fromCache.Stderr);
        Assert.Contains("model webui-tiny ", fromA1111.Stderr);
        Assert.Equal(2, rm.ExitCode);
        Assert.Contains("Hugging Face cache", rm.Stderr);
        Assert.Empty(_hub.Log);
        Assert.False(Directory.Exists(Path.Combine(Home, "models")), "nothing may be created under the models folder");
    }

    public void Dispose()
    {
        _hub.Dispose();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}
