namespace Redraft.Server.Tests;

/// <summary>
/// Symbolic links the server's owner puts in the models folder are followed (one model collection shared between
/// tools is usual); clients still reach only the listed names.
/// </summary>
public sealed class ModelFolderLinkTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("redraft-model-links-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_root, true); } catch (IOException) { }
    }

    [Fact]
    public void LinkedFilesAndFolders_AreListed_AndOnlyTheirListedNamesResolve()
    {
        string models = Path.Combine(_root, "models"), shared = Path.Combine(_root, "shared");
        Directory.CreateDirectory(models);
        Directory.CreateDirectory(Path.Combine(shared, "sub"));
        File.WriteAllText(Path.Combine(shared, "a.safetensors"), "x");
        File.WriteAllText(Path.Combine(shared, "sub", "b.safetensors"), "x");
        File.CreateSymbolicLink(Path.Combine(models, "a.safetensors"), Path.Combine(shared, "a.safetensors"));
        Directory.CreateSymbolicLink(Path.Combine(models, "linked"), Path.Combine(shared, "sub"));
        var folder = new ModelFolder(models, null);
        Assert.Equal(["a.safetensors", Path.Combine("linked", "b.safetensors")], folder.Checkpoints().Select(c => c.Name));
        Assert.Equal(Path.Combine(models, "linked", "b.safetensors"), folder.Resolve("linked/b").Path);
        Assert.Throws<Redraft.Server.Api.ApiException>(() => folder.Resolve(Path.Combine(shared, "sub", "b.safetensors")));
        Assert.Throws<Redraft.Server.Api.ApiException>(() => folder.Resolve("../shared/a.safetensors"));
    }
}
