namespace Redraft.Models.Tests;

/// <summary>Models already in a Hugging Face cache (with its symbolic links) or an AUTOMATIC1111 folder are listed and used where they are, and never deleted.</summary>
public sealed class InPlaceTests
{
    private static string CacheFile(string cache, string repo, string path, byte[] bytes) => HuggingFaceCacheLayout.CacheFile(cache, repo, path, bytes);

    [Fact]
    public async Task HuggingFaceCacheAndA1111ModelsAreListedUsedInPlaceAndNotRemoved()
    {
        using var bed = new HubTestbed();
        bed.A1111Dir = Path.Combine(bed.Folder, "webui");
        string cached = CacheFile(bed.HubCache, "test-org/tiny", "tiny.safetensors", HubTestbed.RandomBytes(5000, 1));
        string other = CacheFile(bed.HubCache, "someone/other", "other.safetensors", HubTestbed.RandomBytes(3000, 2));
        string a1111Checkpoint = Path.Combine(bed.A1111Dir, "models", "Stable-diffusion", "dreamy.safetensors");
        string a1111Lora = Path.Combine(bed.A1111Dir, "models", "Lora", "ink.safetensors");
        foreach (var f in new[] { a1111Checkpoint, a1111Lora })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(f)!);
            File.WriteAllBytes(f, HubTestbed.RandomBytes(2000, 3));
        }
        var library = bed.Library(bed.Catalogue(HubTestbed.Entry("tiny", "test-org/tiny", "tiny.safetensors")));

        var installed = library.Installed();

        Assert.Contains(installed, m => m is { Name: "tiny", Source: ModelSource.HuggingFaceCache, Role: ModelRole.Checkpoint } && m.Path == cached && m.Size == 5000);
        Assert.Contains(installed, m => m is { Name: "other", Source: ModelSource.HuggingFaceCache } && m.Path == other);
        Assert.Contains(installed, m => m is { Name: "dreamy", Source: ModelSource.A1111, Role: ModelRole.Checkpoint } && m.Path == a1111Checkpoint);
        Assert.Contains(installed, m => m is { Name: "ink", Source: ModelSource.A1111, Role: ModelRole.Lora });

        // The catalogue name, an installed name and the default all resolve to the files where they are: no download.
        Assert.Equal(new ModelChoice(cached, null, library.Catalogue.Entries[0]), library.Choose("tiny"));
        Assert.Equal(cached, library.Choose(null).Path);
        Assert.Equal(a1111Checkpoint, library.Choose("dreamy").Path);
        var (pulled, downloaded) = await library.PullAsync(library.Catalogue.Entries[0], false, null, null, default);
        Assert.False(downloaded);
        Assert.Equal(cached, pulled.Path);

        var hf = await Assert.ThrowsAsync<RedraftInputException>(() => library.RemoveAsync("tiny", default));
        Assert.Contains("Hugging Face cache", hf.Message);
        var a1111 = await Assert.ThrowsAsync<RedraftInputException>(() => library.RemoveAsync("dreamy", default));
        Assert.Contains("AUTOMATIC1111", a1111.Message);
        Assert.True(File.Exists(cached) && File.Exists(a1111Checkpoint));
        Assert.Empty(bed.Hub.Log);
        Assert.False(Directory.Exists(bed.ModelsDir), "nothing may be created under the models folder");
    }
}
