using Redraft.Tests.Shared;

namespace Redraft.Models.Tests;

/// <summary>
/// <c>pull</c> against a fake Hugging Face hub (a real HTTP server with a CDN on a second port), through
/// <c>HF_ENDPOINT</c>'s setting: progress, resume after a cut, servers that ignore ranges or answer 416, wrong hashes,
/// 404/401, the disk check before any GET, concurrent pulls, cancellation, and where the token goes.
/// </summary>
public sealed class DownloadTests
{
    private const string Repo = "test-org/tiny";
    private const string File1 = "tiny.safetensors";

    private static async Task<(InstalledModel Model, bool Downloaded)> Pull(HubTestbed bed, ModelLibrary library, IProgress<DownloadProgress>? progress = null, CancellationToken ct = default) =>
        await library.PullAsync(library.Catalogue.Entries[0], acceptLicence: false, ask: null, progress, ct);

    [Fact]
    public async Task PullReportsProgressFollowsTheRedirectAndPutsTheVerifiedFileInPlace()
    {
        using var bed = new HubTestbed();
        var bytes = HubTestbed.RandomBytes(1_000_000, 1);
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = bytes, ChunkDelay = TimeSpan.FromMilliseconds(5) });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1)));
        var progress = new HubTestbed.Recorder();

        var (model, downloaded) = await Pull(bed, library, progress);

        Assert.True(downloaded);
        Assert.Equal(Path.Combine(bed.ModelsDir, File1), model.Path);
        Assert.Equal(bytes, File.ReadAllBytes(model.Path));
        Assert.False(File.Exists(model.Path + ".part"));
        var downloading = progress.Events.Where(e => e.Phase == DownloadPhase.Downloading).ToList();
        Assert.True(downloading.Count >= 2, $"{downloading.Count} progress events");
        Assert.All(downloading, e => Assert.Equal(bytes.Length, e.Total));
        Assert.Equal(downloading.Select(e => e.Bytes).Order(), downloading.Select(e => e.Bytes));
        Assert.Contains(downloading, e => e.BytesPerSecond > 0 && e.Eta is not null);
        Assert.Equal(DownloadPhase.Done, progress.Events[^1].Phase);
        // HEAD on the hub (the redirect's headers), then the bytes from the CDN host.
        Assert.Equal(["hub HEAD", "hub GET", "cdn GET"], bed.Hub.Log.Select(r => $"{r.Host} {r.Method}"));
        Assert.Equal([302, 302, 200], bed.Hub.Log.Select(r => r.Status));
    }

    [Fact]
    public async Task AConnectionCutMidFileIsResumedWithRangeToTheSameBytes()
    {
        using var bed = new HubTestbed();
        var bytes = HubTestbed.RandomBytes(2_000_000, 2);
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = bytes, CutTimes = 1, CutAfter = 700_000 });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1)));

        var (model, _) = await Pull(bed, library);

        Assert.Equal(bytes, File.ReadAllBytes(model.Path));
        var cdn = bed.Hub.Gets.Where(r => r.Host == "cdn").ToList();
        Assert.Equal(2, cdn.Count);
        Assert.Null(cdn[0].Range);
        Assert.Matches(@"^bytes=\d+-$", cdn[1].Range);
        Assert.Equal(206, cdn[1].Status);
        long resumedAt = long.Parse(cdn[1].Range!["bytes=".Length..^1]);
        Assert.InRange(resumedAt, 1, 700_000);
    }

    [Fact]
    public async Task AServerThatIgnoresRangeRestartsTheFileCleanly()
    {
        using var bed = new HubTestbed();
        var bytes = HubTestbed.RandomBytes(500_000, 3);
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = bytes, IgnoreRange = true });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1)));
        Directory.CreateDirectory(bed.ModelsDir);
        File.WriteAllBytes(Path.Combine(bed.ModelsDir, File1 + ".part"), HubTestbed.RandomBytes(100_000, 99));   // not a prefix

        var (model, _) = await Pull(bed, library);

        Assert.Equal(bytes, File.ReadAllBytes(model.Path));
        var cdn = Assert.Single(bed.Hub.Gets, r => r.Host == "cdn");
        Assert.Equal("bytes=100000-", cdn.Range);
        Assert.Equal(200, cdn.Status);
    }

    [Fact]
    public async Task A416StartsTheFileOverWithoutRange()
    {
        using var bed = new HubTestbed();
        var bytes = HubTestbed.RandomBytes(300_000, 4);
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = bytes });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1)));
        Directory.CreateDirectory(bed.ModelsDir);
        File.WriteAllBytes(Path.Combine(bed.ModelsDir, File1 + ".part"), HubTestbed.RandomBytes(bytes.Length, 98));   // full length, wrong bytes

        var (model, _) = await Pull(bed, library);

        Assert.Equal(bytes, File.ReadAllBytes(model.Path));
        var cdn = bed.Hub.Gets.Where(r => r.Host == "cdn").ToList();
        Assert.Equal([416, 200], cdn.Select(r => r.Status));
        Assert.Equal($"bytes={bytes.Length}-", cdn[0].Range);
        Assert.Null(cdn[1].Range);
    }

    [Fact]
    public async Task AWrongHashRemovesTheFileAndSaysSo()
    {
        using var bed = new HubTestbed();
        var bytes = HubTestbed.RandomBytes(200_000, 5);
        string wrong = new('a', 64);
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = bytes, AnnouncedSha256 = wrong });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1)));

        var e = await Assert.ThrowsAsync<ModelDownloadException>(() => Pull(bed, library));

        Assert.Contains(wrong, e.Message);
        Assert.Contains("removed", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(File.Exists(Path.Combine(bed.ModelsDir, File1)));
        Assert.False(File.Exists(Path.Combine(bed.ModelsDir, File1 + ".part")));
        Assert.Empty(library.Installed());
    }

    [Fact]
    public async Task ACatalogueHashOverridesTheHubsAndIsChecked()
    {
        using var bed = new HubTestbed();
        var bytes = HubTestbed.RandomBytes(100_000, 6);
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = bytes, Lfs = false });   // small file: no X-Linked-Etag
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1, sha256: new string('b', 64))));

        var e = await Assert.ThrowsAsync<ModelDownloadException>(() => Pull(bed, library));
        Assert.Contains("from the catalogue", e.Message);
    }

    [Fact]
    public async Task NotFoundIsOneLineNamingTheFile()
    {
        using var bed = new HubTestbed();
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, "missing.safetensors")));

        var e = await Assert.ThrowsAsync<ModelAccessException>(() => Pull(bed, library));

        Assert.Contains($"{Repo}/missing.safetensors not found (HTTP 404", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Empty(bed.Hub.Gets);
    }

    [Fact]
    public async Task AGatedRepositorySaysWhichRepoAndHowToSetTheToken()
    {
        using var bed = new HubTestbed();
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = HubTestbed.RandomBytes(1000, 7), RequiredToken = "hf_secret" });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1)));

        var e = await Assert.ThrowsAsync<ModelAccessException>(() => Pull(bed, library));

        Assert.StartsWith($"{Repo} needs access (HTTP 401)", e.Message);
        Assert.Contains("set HF_TOKEN", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task TheTokenGoesToTheHubAndNeverToTheRedirectHost()
    {
        using var bed = new HubTestbed { Token = "hf_secret" };
        var bytes = HubTestbed.RandomBytes(300_000, 8);
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = bytes, RequiredToken = "hf_secret", CutTimes = 1, CutAfter = 100_000 });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1)));

        var (model, _) = await Pull(bed, library);

        Assert.Equal(bytes, File.ReadAllBytes(model.Path));
        Assert.All(bed.Hub.Log.Where(r => r.Host == "hub"), r => Assert.Equal("Bearer hf_secret", r.Authorization));
        var cdn = bed.Hub.Log.Where(r => r.Host == "cdn").ToList();
        Assert.Equal(2, cdn.Count);   // the first GET and the resumed one
        Assert.All(cdn, r => Assert.Null(r.Authorization));
    }

    [Fact]
    public async Task ASizeLargerThanFreeSpaceIsRefusedBeforeAnyGet()
    {
        using var bed = new HubTestbed();
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = HubTestbed.RandomBytes(1000, 9), AnnouncedSize = 4_000_000_000_000_000 });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1)));

        var e = await Assert.ThrowsAsync<ModelAccessException>(() => Pull(bed, library));

        Assert.Contains("needs 4000000.00 GB", e.Message);
        Assert.Contains("free", e.Message);
        Assert.Equal(["HEAD"], bed.Hub.Log.Select(r => r.Method));
        Assert.Empty(bed.Hub.Gets);
    }

    [Fact]
    public async Task TwoPullsOfOneModelAtOnceDownloadItOnceAndNeitherCorruptsIt()
    {
        using var bed = new HubTestbed();
        var bytes = HubTestbed.RandomBytes(1_500_000, 10);
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = bytes, ChunkDelay = TimeSpan.FromMilliseconds(20) });
        var catalogue = bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1));
        var first = new HubTestbed.Recorder();
        var second = new HubTestbed.Recorder();

        var a = Task.Run(() => Pull(bed, bed.Library(catalogue), first));
        var b = Task.Run(() => Pull(bed, bed.Library(catalogue), second));
        var results = await Task.WhenAll(a, b);

        Assert.All(results, r => Assert.Equal(bytes, File.ReadAllBytes(r.Model.Path)));
        Assert.Single(bed.Hub.Gets, r => r.Host == "cdn");
        // One of them waited and said so.
        Assert.Single(new[] { first, second }, p => p.Events.Any(e => e.Phase == DownloadPhase.Waiting && e.Message!.Contains("another download")));
    }

    [Fact]
    public async Task CancellingLeavesAPartThatTheNextPullResumes()
    {
        using var bed = new HubTestbed();
        var bytes = HubTestbed.RandomBytes(2_000_000, 11);
        var file = bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = bytes, ChunkDelay = TimeSpan.FromMilliseconds(30) });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1)));
        using var cts = new CancellationTokenSource();
        var progress = new HubTestbed.Recorder { Also = e => { if (e.Bytes >= 300_000) cts.Cancel(); } };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Pull(bed, library, progress, cts.Token));

        string part = Path.Combine(bed.ModelsDir, File1 + ".part");
        Assert.True(File.Exists(part));
        var partial = File.ReadAllBytes(part);
        Assert.InRange(partial.Length, 300_000, bytes.Length - 1);
        Assert.Equal(bytes[..partial.Length], partial);
        Assert.False(File.Exists(Path.Combine(bed.ModelsDir, File1)));

        var (model, _) = await Pull(bed, bed.Library(library.Catalogue));
        Assert.Equal(bytes, File.ReadAllBytes(model.Path));
        Assert.Equal($"bytes={partial.Length}-", bed.Hub.Gets.Last(r => r.Host == "cdn").Range);
    }

    [Fact]
    public async Task APlainUrlIsNamedFromContentDisposition()
    {
        using var bed = new HubTestbed();
        var bytes = HubTestbed.RandomBytes(50_000, 12);
        var url = bed.Hub.AddDownload("4242", new FakeHub.HubFile { Bytes = bytes, DispositionName = "painterly-v2.safetensors" });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1)));

        var model = await library.PullUrlAsync(url, ModelRole.Lora, null, default);

        Assert.Equal(Path.Combine(bed.ModelsDir, "Lora", "painterly-v2.safetensors"), model.Path);
        Assert.Equal(bytes, File.ReadAllBytes(model.Path));
        Assert.Contains(library.Installed(), m => m.Name == "painterly-v2" && m.Source == ModelSource.Redraft);
    }

    [Fact]
    public async Task OfflineRefusesWithoutTouchingTheNetwork()
    {
        using var bed = new HubTestbed { Offline = true };
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = HubTestbed.RandomBytes(1000, 13) });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1)));

        var e = await Assert.ThrowsAsync<ModelAccessException>(() => Pull(bed, library));

        Assert.Contains("redraft models pull", e.Message);
        Assert.Empty(bed.Hub.Log);
    }

    [Fact]
    public async Task ALicenceNeedingAcceptanceIsAskedOnceThenRemembered()
    {
        using var bed = new HubTestbed();
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = HubTestbed.RandomBytes(1000, 14) });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1, acceptance: true)));
        var entry = library.Catalogue.Entries[0];

        var refused = await Assert.ThrowsAsync<RedraftInputException>(() => library.PullAsync(entry, false, _ => false, null, default));
        Assert.Contains("--accept-licence", refused.Message);
        Assert.Empty(bed.Hub.Log);

        int asked = 0;
        await library.PullAsync(entry, false, _ => { asked++; return true; }, null, default);
        Assert.Equal(1, asked);
        await library.RemoveAsync("tiny", default);
        await library.PullAsync(entry, false, _ => throw new InvalidOperationException("asked twice"), null, default);
    }

    [Fact]
    public async Task VerifyFindsAChangedFile()
    {
        using var bed = new HubTestbed();
        bed.Hub.Add(Repo, File1, new FakeHub.HubFile { Bytes = HubTestbed.RandomBytes(10_000, 15) });
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", Repo, File1)));
        var (model, _) = await Pull(bed, library);
        Assert.Null(Assert.Single(library.Verify(null)).Problem);

        using (var f = new FileStream(model.Path, FileMode.Open, FileAccess.Write)) f.WriteByte(0);

        Assert.StartsWith("SHA-256 is", Assert.Single(library.Verify("tiny")).Problem);
    }
}
