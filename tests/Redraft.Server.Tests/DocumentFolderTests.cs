using Redraft.Server.Api;
using Redraft.Server.Documents;
using Redraft.Studio;

namespace Redraft.Server.Tests;

/// <summary>
/// A document name from a URL is matched against the documents folder's listing, never joined to a path: names that
/// would leave the folder, or reach hidden and temporary folders, are "not found" even where such a document exists.
/// (Over HTTP Kestrel already normalises most of these; this checks the folder's own rule.)
/// </summary>
public sealed class DocumentFolderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("redraft-docfolder-").FullName;

    [Fact]
    public void Resolve_FindsListedDocumentsOnly()
    {
        string documents = Path.Combine(_root, "documents");
        using (DocumentStore.NewDocument(Path.Combine(documents, "inside"), 8, 8)) { }
        using (DocumentStore.NewDocument(Path.Combine(documents, ".hidden"), 8, 8)) { }
        using (DocumentStore.NewDocument(Path.Combine(documents, "inside", "nested"), 8, 8)) { }
        using (DocumentStore.NewDocument(Path.Combine(_root, "outside"), 8, 8)) { }
        var folder = new DocumentFolder(documents);

        Assert.Equal(["inside"], folder.Names());
        Assert.Equal(Path.Combine(documents, "inside"), folder.Resolve("inside"));
        foreach (string name in new[] { "../outside", "..", ".", ".hidden", "inside/nested", "inside/../inside", _root + "/outside", "", "INSIDE" })
        {
            var e = Assert.Throws<ApiException>(() => folder.Resolve(name));
            Assert.Equal(404, e.Status);
        }
    }

    [Fact]
    public void NewFolder_RefusesNamesThatAreNotOneFolderName_AndTakenNames()
    {
        var folder = new DocumentFolder(Path.Combine(_root, "documents"));
        Assert.Equal(Path.Combine(folder.Root, "my sketch-2.v1"), folder.NewFolder("my sketch-2.v1"));
        foreach (string name in new[] { "../x", "a/b", "a\\b", ".x", " x", "x.", "", new string('a', 101), "x\ny" })
            Assert.Equal(400, Assert.Throws<ApiException>(() => folder.NewFolder(name)).Status);
        using (DocumentStore.NewDocument(Path.Combine(folder.Root, "taken"), 8, 8)) { }
        Assert.Equal(409, Assert.Throws<ApiException>(() => folder.NewFolder("taken")).Status);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, true); } catch (IOException) { }
    }
}
