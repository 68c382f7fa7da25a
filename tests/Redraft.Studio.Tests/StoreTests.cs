using System.Text;
using Microsoft.Data.Sqlite;
using Redraft.Imaging;

namespace Redraft.Studio.Tests;

public class StoreTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Png_rgba_round_trip_is_exact_including_colour_under_zero_alpha()
    {
        var image = T.Random(13, 7, seed: 5);
        var back = ImageFiles.DecodeRgba(ImageFiles.EncodePng(image), "x");
        Assert.Equal(image.Pixels, back.Pixels);
        var mask = new MaskImage(3, 2, [0, 1, 127, 128, 254, 255]);
        Assert.Equal(mask.Pixels, MaskImage.FromRgba(ImageFiles.DecodeRgba(ImageFiles.EncodePng(mask), "m")).Pixels);
    }

    [Fact]
    public void New_document_from_an_image_round_trips_through_the_folder()
    {
        string sketch = _dir.File("sketch.png");
        var start = T.Random(8, 6, seed: 1, opaque: true);
        ImageFiles.SavePng(sketch, start);
        string folder = _dir.File("doc");
        Document saved;
        RgbImage render;
        using (var store = DocumentStore.NewDocument(folder, null, null, sketch))
        {
            Assert.Equal(8, store.Document.Width);
            var l1 = Assert.Single(store.Document.Layers);
            Assert.Equal("L1", l1.Id);
            Assert.Equal("sketch", l1.Name);
            Assert.Equal(start.Pixels, store.Render().Pixels.Chunk(3).SelectMany(p => p.Append((byte)255)).ToArray());

            var l2 = store.AddLayer(T.Random(3, 3, seed: 2), new LayerOptions { X = -1, Y = 4, Scale = 2, Opacity = 0.5, Name = "patch" },
                new MaskImage(3, 3, [255, 0, 255, 0, 255, 0, 255, 0, 255]));
            Assert.Equal("L2", l2.Id);
            saved = store.Document;
            render = store.Render();
        }

        // Folder layout: document.json, history.db, images named by the SHA-256 of their bytes.
        Assert.True(File.Exists(Path.Combine(folder, "document.json")));
        Assert.True(File.Exists(Path.Combine(folder, "history.db")));
        var images = Directory.GetFiles(Path.Combine(folder, "images"));
        Assert.Equal(3, images.Length); // sketch, patch, patch's mask
        foreach (var f in images)
            Assert.Equal(Path.GetFileNameWithoutExtension(f), Convert.ToHexStringLower(T.Sha(f)));
        Assert.Empty(Directory.GetFiles(_dir.Path, ".*")); // no temporary folder or file left behind
        Assert.Empty(Directory.GetDirectories(_dir.Path, ".*"));

        string json = File.ReadAllText(Path.Combine(folder, "document.json"));
        Assert.Contains("\"format\": \"redraft-document\"", json);
        Assert.Contains("\"state\": 2", json);

        using (var db = new SqliteConnection($"Data Source={Path.Combine(folder, "history.db")};Pooling=False"))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "PRAGMA journal_mode";
            Assert.Equal("wal", cmd.ExecuteScalar());
            cmd.CommandText = "PRAGMA user_version";
            Assert.Equal(2L, cmd.ExecuteScalar());
        }

        using (var store = DocumentStore.Open(folder))
        {
            Assert.Equal(saved, store.Document);
            Assert.Equal(2, store.StateId);
            Assert.Equal(render.Pixels, store.Render().Pixels);
            Assert.Empty(store.Verify());
            string id = store.NewLayerId();
            Assert.Equal("L3", id);
        }
    }

    [Fact]
    public void Document_json_round_trips_every_field()
    {
        var doc = new Document(10, 20, [
            new Layer { Id = "L1", Name = "a \"quoted\" ünïcode", Image = T.Hash("a"), X = -3, Y = 7, Scale = 0.1 + 0.2, Opacity = 1.0 / 3,
                Visible = false, Hidden = true, Mask = T.Hash("m") },
            new Layer { Id = "L2", Image = T.Hash("b") },
        ]);
        var (back, state) = DocumentJson.Parse(DocumentJson.Serialize(doc, 42), "x");
        Assert.Equal(doc, back);
        Assert.Equal(42, state);
    }

    [Fact]
    public void New_document_with_another_size_fits_and_centres_the_image()
    {
        using var store = DocumentStore.NewDocument(_dir.File("doc"), 20, 10, T.Random(4, 4, 1, opaque: true), "mem");
        var l = Assert.Single(store.Document.Layers);
        Assert.Equal(2.5, l.Scale);
        Assert.Equal((5, 0), (l.X, l.Y));
        var rgb = store.Render();
        Assert.Equal((255, 255, 255), rgb.GetPixel(4, 5));
        Assert.NotEqual((255, 255, 255), rgb.GetPixel(5, 5));
        Assert.Equal((255, 255, 255), rgb.GetPixel(15, 5));
    }

    [Fact]
    public void Erase_multiplies_alpha_and_keeps_the_old_image()
    {
        using var store = DocumentStore.NewDocument(_dir.File("doc"), 4, 2, null);
        var layer = store.AddLayer(RgbaImage.Filled(2, 2, 10, 20, 30, 200), new LayerOptions { X = 1, Scale = 1 });
        var mask = new MaskImage(4, 2, [0, 255, 128, 255, 0, 0, 0, 255]);
        var erased = store.Erase(layer.Id, mask);
        Assert.NotEqual(layer.Image, erased.Image);
        Assert.True(File.Exists(store.ImagePath(layer.Image)));
        var pixels = store.GetImage(erased.Image);
        Assert.Equal((10, 20, 30, 0), pixels.GetPixel(0, 0));                            // canvas (1,0): 255
        Assert.Equal((10, 20, 30, (200 * 127 + 127) / 255), pixels.GetPixel(1, 0));       // canvas (2,0): 128
        Assert.Equal((10, 20, 30, 200), pixels.GetPixel(0, 1));                          // canvas (1,1): 0
        Assert.Equal((10, 20, 30, 200), pixels.GetPixel(1, 1));                          // canvas (2,1): 0

        // Layer-space masks apply pixel for pixel; a scaled layer averages the canvas mask over its footprint.
        var again = store.Erase(layer.Id, new MaskImage(2, 2, [0, 0, 255, 0]), MaskSpace.Layer);
        Assert.Equal(0, store.GetImage(again.Image).GetPixel(0, 1).A);

        var big = store.AddLayer(RgbaImage.Filled(1, 1, 1, 2, 3, 255), new LayerOptions { Scale = 2 });
        var half = store.Erase(big.Id, new MaskImage(4, 2, [255, 0, 0, 0, 255, 0, 0, 0]));
        Assert.Equal(127, store.GetImage(half.Image).GetPixel(0, 0).A); // mean mask 127.5 -> 128; 255*(255-128)/255 = 127
    }

    [Fact]
    public void Undo_walks_back_to_the_first_state_and_never_reuses_layer_ids()
    {
        string sketch = _dir.File("sketch.png");
        ImageFiles.SavePng(sketch, T.Random(6, 6, 1, opaque: true));
        using var store = DocumentStore.NewDocument(_dir.File("doc"), null, null, sketch);
        var renders = new List<byte[]> { store.Render().Pixels };
        var docs = new List<Document> { store.Document };

        var l2 = store.AddLayer(T.Random(3, 3, 2), new LayerOptions { X = 1, Y = 1 });
        renders.Add(store.Render().Pixels); docs.Add(store.Document);
        store.Erase(l2.Id, MaskImage.FromRegion(6, 6, new Region(0, 0, 3, 6)));
        renders.Add(store.Render().Pixels); docs.Add(store.Document);
        store.AddLayer(T.Random(2, 2, 3), new LayerOptions { X = 4, Y = 4 });
        renders.Add(store.Render().Pixels); docs.Add(store.Document);
        int imageCount = Directory.GetFiles(Path.Combine(store.Folder, "images")).Length;

        for (int i = docs.Count - 2; i >= 0; i--)
        {
            var row = store.Undo();
            Assert.Equal("undo", row.Kind);
            Assert.Equal(docs[i], store.Document);
            Assert.Equal(renders[i], store.Render().Pixels);
            Assert.Equal(row.StateAfter, store.StateId);
        }
        var ex = Assert.Throws<StudioInputException>(() => store.Undo());
        Assert.Contains("nothing to undo", ex.Message);
        Assert.Equal(imageCount, Directory.GetFiles(Path.Combine(store.Folder, "images")).Length); // no image deleted

        var l4 = store.AddLayer(T.Random(2, 2, 4));
        Assert.Equal("L4", l4.Id); // L2 and L3 were used on the undone branch; ids are not reused

        var history = store.History();
        Assert.Equal(["new", "add-layer", "erase", "add-layer", "undo", "undo", "undo", "add-layer"], history.Select(h => h.Kind));
        Assert.Null(history[0].StateBefore);
        Assert.Equal(history[4].StateBefore, history[3].StateAfter);
        Assert.Equal(history[6].StateAfter, history[1].StateBefore);
        Assert.Contains("\"undoes\":4", history[4].ParametersJson);
        Assert.Equal(history[7].StateBefore, history[0].StateAfter);
        Assert.Empty(store.Verify());

        // Reopening shows the same state and history.
        long state = store.StateId;
        var doc = store.Document;
        store.Dispose();
        using var reopened = DocumentStore.Open(store.Folder);
        Assert.Equal(state, reopened.StateId);
        Assert.Equal(doc, reopened.Document);
        Assert.Equal(history, reopened.History(), new HistoryComparer());
    }

    private sealed class HistoryComparer : IEqualityComparer<HistoryEntry>
    {
        public bool Equals(HistoryEntry? a, HistoryEntry? b) =>
            a!.Id == b!.Id && a.Kind == b.Kind && a.ParametersJson == b.ParametersJson && a.StateBefore == b.StateBefore
            && a.StateAfter == b.StateAfter && a.Inputs.SequenceEqual(b.Inputs) && a.Outputs.SequenceEqual(b.Outputs);
        public int GetHashCode(HistoryEntry e) => e.Id.GetHashCode();
    }

    [Fact]
    public void Record_operation_stores_generation_fields()
    {
        using var store = DocumentStore.NewDocument(_dir.File("doc"), 8, 8, null);
        var input = store.StoreImage(T.Random(8, 8, 1, opaque: true));
        var output = store.StoreImage(T.Random(8, 8, 2, opaque: true));
        var layer = new Layer { Id = store.NewLayerId(), Name = "generated", Image = output };
        var row = store.RecordOperation(new OperationRecord
        {
            Kind = "generate",
            ParametersJson = """{"prompt":"a cat","steps":4}""",
            Prompt = "a cat", Seed = 1234567890123, Strength = 0.8, Sampler = "Euler a", ModelHash = "abc123",
            Duration = TimeSpan.FromMilliseconds(1500), Inputs = [input], Outputs = [output],
        }, store.Document.WithLayerOnTop(layer));
        var last = store.History()[^1];
        Assert.Equal(row.Id, last.Id);
        Assert.Equal(("generate", "a cat", 1234567890123L, 0.8, "Euler a", "abc123"), (last.Kind, last.Prompt, last.Seed!.Value, last.Strength!.Value, last.Sampler, last.ModelHash));
        Assert.Equal(TimeSpan.FromMilliseconds(1500), last.Duration);
        Assert.Equal([input], last.Inputs);
        Assert.Equal([output], last.Outputs);
        Assert.Equal(layer, store.Document.Layers[^1]);
        Assert.Equal(store.Document, store.GetState(last.StateAfter));
        Assert.Equal(new Document(8, 8), store.GetState(last.StateBefore!.Value));
    }

    [Fact]
    public void Store_png_keeps_the_bytes_and_text_chunks()
    {
        using var store = DocumentStore.NewDocument(_dir.File("doc"), 4, 4, null);
        string file = _dir.File("gen.png");
        ImageFiles.SavePng(file, RgbImage.Filled(4, 4, 1, 2, 3), new Dictionary<string, string> { ["parameters"] = "a cat\nSteps: 4" });
        byte[] bytes = File.ReadAllBytes(file);
        string hash = store.StorePng(bytes);
        Assert.Equal(bytes, File.ReadAllBytes(store.ImagePath(hash)));
        Assert.Equal("a cat\nSteps: 4", ImageFiles.ReadPngText(store.ImagePath(hash))["parameters"]);
        Assert.Throws<StudioInputException>(() => store.StorePng(Encoding.ASCII.GetBytes("not a png")));
    }

    [Fact]
    public void Render_to_file_writes_a_png()
    {
        using var store = DocumentStore.NewDocument(_dir.File("doc"), 3, 3, null);
        store.AddLayer(RgbaImage.Filled(1, 1, 9, 8, 7), new LayerOptions { X = 1, Y = 1 });
        string output = _dir.File("out.png");
        store.RenderToFile(output);
        var back = ImageFiles.Load(output);
        Assert.Equal((9, 8, 7), back.GetPixel(1, 1));
        Assert.Equal((255, 255, 255), back.GetPixel(0, 0));
        store.RenderToFile(output, transparent: true);
        Assert.Equal((0, 0, 0, 0), ImageFiles.LoadRgba(output).GetPixel(0, 0));
        var ex = Assert.Throws<StudioInputException>(() => store.RenderToFile(_dir.File("missing/out.png")));
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Open_rolls_document_json_forward_after_a_kill_between_commit_and_file_write()
    {
        string folder = _dir.File("doc");
        byte[] before;
        Document latest;
        using (var store = DocumentStore.NewDocument(folder, 4, 4, null))
        {
            before = File.ReadAllBytes(store.DocumentPath);
            store.AddLayer(RgbaImage.Filled(2, 2, 1, 2, 3));
            latest = store.Document;
        }
        File.WriteAllBytes(Path.Combine(folder, "document.json"), before); // as if killed right after the commit
        using (var store = DocumentStore.Open(folder))
        {
            Assert.Equal(latest, store.Document);
            Assert.Equal(2, store.StateId);
            Assert.Empty(store.Verify());
        }
        Assert.Contains("\"state\": 2", File.ReadAllText(Path.Combine(folder, "document.json")));
    }

    [Fact]
    public void Another_writer_changing_the_document_is_kept_and_a_stale_whole_document_is_refused()
    {
        string folder = _dir.File("doc");
        using var a = DocumentStore.NewDocument(folder, 4, 4, null);
        using var b = DocumentStore.Open(folder);
        var first = a.AddLayer(RgbaImage.Filled(1, 1, 1, 2, 3));
        // Edits are functions of the current document: b's add lands on top of a's, with a fresh id.
        var second = b.AddLayer(RgbaImage.Filled(1, 1, 4, 5, 6));
        Assert.NotEqual(first.Id, second.Id);
        Assert.Equal([first.Id, second.Id], b.Document.Layers.Select(l => l.Id));
        a.Refresh();
        Assert.Equal(b.Document, a.Document);
        Assert.Equal(3, a.History().Count);
        // A whole document made from a state that is no longer current is refused.
        var stale = a.Document;
        b.SetOpacity(first.Id, 0.5);
        var ex = Assert.Throws<StudioInputException>(() => a.RecordOperation(new OperationRecord { Kind = "generate" }, stale));
        Assert.Contains("changed by another writer", ex.Message);
        Assert.Empty(a.Verify());
    }

    [Fact]
    public void CanUndo_and_CanRedo_follow_the_head_as_any_store_of_the_folder_moves_it()
    {
        string folder = _dir.File("undo-redo");
        using var store = DocumentStore.NewDocument(folder, 8, 8);
        Assert.False(store.CanUndo());
        Assert.False(store.CanRedo());
        store.AddLayer(T.Random(4, 4, seed: 2, opaque: true));
        Assert.True(store.CanUndo());
        using (var other = DocumentStore.Open(folder)) other.Undo();
        // Another store (another process) undid: this one sees it without a refresh.
        Assert.False(store.CanUndo());
        Assert.True(store.CanRedo());
        Assert.Equal(1, store.HeadState());
        store.Redo();
        Assert.True(store.CanUndo());
        Assert.False(store.CanRedo());
    }

    [Fact]
    public void Move_renames_the_folder_under_its_lock_and_refuses_a_taken_name()
    {
        string folder = _dir.File("before"), moved = _dir.File("after"), taken = _dir.File("taken");
        using (var store = DocumentStore.NewDocument(folder, 8, 8)) store.AddLayer(T.Random(4, 4, seed: 3, opaque: true));
        Directory.CreateDirectory(taken);
        Assert.Throws<StudioInputException>(() => DocumentStore.Move(folder, taken));
        Assert.True(Directory.Exists(folder));
        DocumentStore.Move(folder, moved);
        Assert.False(Directory.Exists(folder));
        using var reopened = DocumentStore.Open(moved);
        Assert.Equal(2, reopened.History().Count);
        Assert.Empty(reopened.Verify());
        Assert.Throws<StudioInputException>(() => DocumentStore.Move(folder, _dir.File("again")));
    }
}
