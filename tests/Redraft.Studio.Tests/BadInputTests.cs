using Microsoft.Data.Sqlite;

namespace Redraft.Studio.Tests;

/// <summary>Bad inputs give one-line <see cref="StudioInputException"/>s and leave every file as it was.</summary>
public class BadInputTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _folder;

    public BadInputTests()
    {
        _folder = _dir.File("doc");
        using var store = DocumentStore.NewDocument(_folder, 8, 8, T.Random(8, 8, 1, opaque: true), "start");
        store.AddLayer(T.Random(4, 4, 2), new LayerOptions { X = 2, Y = 2 });
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// Runs <paramref name="action"/>, expects a one-line user error (a document's or an image file's) containing
    /// <paramref name="expected"/>, and checks nothing changed.
    /// </summary>
    private RedraftInputException Fails(Action action, string expected)
    {
        var before = T.Snapshot(_folder);
        var ex = Assert.ThrowsAny<RedraftInputException>(action);
        Assert.Contains(expected, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        var after = T.Snapshot(_folder);
        Assert.Equal(before.OrderBy(p => p.Key), after.OrderBy(p => p.Key));
        return ex;
    }

    private void WithStore(Action<DocumentStore> action)
    {
        using var store = DocumentStore.Open(_folder);
        action(store);
    }

    [Fact]
    public void Unknown_layer()
    {
        var ex = Fails(() => WithStore(s => s.Erase("L9", MaskImage.Filled(8, 8, 255))), "no layer 'L9'");
        Assert.Contains("layers: L1, L2", ex.Message);
    }

    [Fact]
    public void Erase_mask_of_another_size_is_rejected_not_resized()
    {
        Fails(() => WithStore(s => s.Erase("L2", MaskImage.Filled(4, 4, 255))), "mask is 4x4 but the canvas is 8x8");
        Fails(() => WithStore(s => s.Erase("L2", MaskImage.Filled(8, 8, 255), MaskSpace.Layer)), "layer L2's image is 4x4");
    }

    [Fact]
    public void Layer_mask_of_another_size_is_rejected()
    {
        string image = _dir.File("img.png"), mask = _dir.File("mask.png");
        ImageFiles.SavePng(image, T.Random(3, 3, 5));
        ImageFiles.SavePng(mask, T.Random(2, 3, 6));
        Fails(() => WithStore(s => s.AddLayer(image, null, mask)), "mask is 2x3 but the layer image is 3x3");
    }

    [Fact]
    public void Layer_entirely_outside_the_canvas_and_values_out_of_range()
    {
        Fails(() => WithStore(s => s.AddLayer(T.Random(2, 2, 1), new LayerOptions { X = 8 })), "entirely outside the 8x8 canvas");
        Fails(() => WithStore(s => s.AddLayer(T.Random(2, 2, 1), new LayerOptions { X = -2 })), "entirely outside");
        Fails(() => WithStore(s => s.AddLayer(T.Random(2, 2, 1), new LayerOptions { Scale = 0 })), "scale 0 is out of range");
        Fails(() => WithStore(s => s.AddLayer(T.Random(2, 2, 1), new LayerOptions { Opacity = 1.5 })), "opacity 1.5 is out of range");
        Fails(() => WithStore(s => s.AddLayer(_dir.File("nope.png"))), "file not found");
    }

    [Fact]
    public void Region_outside_the_canvas()
    {
        var ex = Assert.Throws<ImageInputException>(() => MaskImage.FromRegion(8, 8, new Region(6, 0, 4, 4)));
        Assert.Contains("reaches outside the 8x8 canvas", ex.Message);
        Assert.Throws<ImageInputException>(() => new Region(-1, 0, 2, 2).EnsureInside(8, 8));
        Assert.Throws<ImageInputException>(() => Region.Parse("1,2,3"));
        Assert.Throws<ImageInputException>(() => Region.Parse("1,2,0,3"));
        Assert.Equal(new Region(1, 2, 3, 4), Region.Parse("1, 2,3 ,4"));
        new Region(0, 0, 8, 8).EnsureInside(8, 8);
    }

    [Theory]
    [InlineData("{ not json", "not valid JSON")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("""{"format":"something-else","version":1}""", "format is 'something-else'")]
    [InlineData("""{"format":"redraft-document","version":9,"state":1,"width":8,"height":8,"layers":[]}""", "format version 9 is newer")]
    [InlineData("""{"format":"redraft-document","version":1,"state":1,"width":8,"layers":[]}""", "'height' is missing")]
    [InlineData("""{"format":"redraft-document","version":1,"state":1,"width":8,"height":8,"layers":[{"id":"L1"}]}""", "layers[0]: 'image' is missing")]
    [InlineData("""{"format":"redraft-document","version":1,"state":1,"width":8,"height":8,"layers":[{"id":"L1","image":"abc"}]}""", "not a SHA-256 hash")]
    [InlineData("""{"format":"redraft-document","version":1,"state":1,"width":0,"height":8,"layers":[]}""", "canvas size 0x8")]
    [InlineData("", "not valid JSON")]
    public void Corrupt_document_json(string content, string expected)
    {
        File.WriteAllText(Path.Combine(_folder, "document.json"), content);
        var ex = Fails(() => DocumentStore.Open(_folder), expected);
        Assert.StartsWith(Path.Combine(_folder, "document.json"), ex.Message);
    }

    [Fact]
    public void Document_json_edited_outside_redraft()
    {
        string path = Path.Combine(_folder, "document.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"x\": 2", "\"x\": 3"));
        Fails(() => DocumentStore.Open(_folder), "differs from state 2");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"state\": 2", "\"state\": 77"));
        Fails(() => DocumentStore.Open(_folder), "refers to state 77");
    }

    [Fact]
    public void Layer_pointing_at_a_missing_image()
    {
        string image;
        using (var store = DocumentStore.Open(_folder)) image = store.ImagePath(store.Document.GetLayer("L2").Image);
        File.Delete(image);
        Fails(() => DocumentStore.Open(_folder), $"layer L2 ('layer'): image images/{Path.GetFileName(image)} is missing");
    }

    [Fact]
    public void Corrupt_image_is_reported_when_read()
    {
        using var store = DocumentStore.Open(_folder);
        string path = store.ImagePath(store.Document.GetLayer("L2").Image);
        var bytes = File.ReadAllBytes(path);
        bytes[^20] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<StudioInputException>(() => store.Render());
        Assert.Contains("content does not match its name", ex.Message);
        Assert.NotEmpty(store.Verify());
    }

    [Fact]
    public void Database_from_a_newer_schema()
    {
        SetPragma("user_version", 3);
        Fails(() => DocumentStore.Open(_folder), "history schema version 3 is newer than this Redraft reads (2)");
    }

    [Fact]
    public void Database_of_another_application_or_not_a_database()
    {
        SetPragma("application_id", 7);
        Fails(() => DocumentStore.Open(_folder), "not a Redraft history database");
        File.WriteAllText(Path.Combine(_folder, "history.db"), "this is not sqlite, just some text that is long enough to look like a header");
        foreach (var f in Directory.GetFiles(_folder, "history.db-*")) File.Delete(f);
        Fails(() => DocumentStore.Open(_folder), "cannot read the history database");
    }

    [Fact]
    public void Missing_files_and_folders()
    {
        Assert.Contains("no such document folder", Assert.Throws<StudioInputException>(() => DocumentStore.Open(_dir.File("none"))).Message);
        File.Delete(Path.Combine(_folder, "history.db"));
        Fails(() => DocumentStore.Open(_folder), "history.db: missing");
        File.Delete(Path.Combine(_folder, "document.json"));
        Fails(() => DocumentStore.Open(_folder), "not a Redraft document");
    }

    [Fact]
    public void New_document_refuses_a_non_empty_folder_and_missing_size()
    {
        Fails(() => DocumentStore.NewDocument(_folder, 8, 8, (string?)null), "already exists and is not empty");
        Assert.Contains("give a canvas size or an image", Assert.Throws<StudioInputException>(
            () => DocumentStore.NewDocument(_dir.File("other"), null, null, (string?)null)).Message);
        Assert.Contains("out of range", Assert.Throws<StudioInputException>(
            () => DocumentStore.NewDocument(_dir.File("other"), 0, 8, (string?)null)).Message);
        Assert.False(Directory.Exists(_dir.File("other")));
        Assert.Single(Directory.GetFileSystemEntries(_dir.Path)); // only "doc": no temporary folders
    }

    [Fact]
    public void Record_operation_rejects_bad_records()
    {
        Fails(() => WithStore(s => s.RecordOperation(new OperationRecord { Kind = "Bad Kind" }, s.Document)), "operation kind 'Bad Kind' is invalid");
        Fails(() => WithStore(s => s.RecordOperation(new OperationRecord { Kind = "generate", ParametersJson = "[1]" }, s.Document)), "must be a JSON object");
        Fails(() => WithStore(s => s.RecordOperation(new OperationRecord { Kind = "generate", Outputs = [T.Hash("nothing")] }, s.Document)), "is not stored");
        Fails(() => WithStore(s => s.RecordOperation(new OperationRecord { Kind = "generate" },
            s.Document.WithLayerOnTop(new Layer { Id = "L1", Image = T.Hash("x") }))), "layer id 'L1' appears twice");
        Fails(() => WithStore(s => s.RecordOperation(new OperationRecord { Kind = "generate" },
            s.Document.WithLayerOnTop(new Layer { Id = "L7", Image = T.Hash("x") }))), "is not stored");
        Fails(() => WithStore(s => s.RecordOperation(new OperationRecord { Kind = "generate" }, s.Document with { Width = 9 })), "cannot change it to 9x8");
    }

    private void SetPragma(string name, int value)
    {
        using var db = new SqliteConnection($"Data Source={Path.Combine(_folder, "history.db")};Pooling=False");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = $"PRAGMA {name}={value}";
        cmd.ExecuteNonQuery();
    }
}
