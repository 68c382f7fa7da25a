namespace Redraft.Studio.Tests;

/// <summary>Every document operation a canvas needs, through the library: each is one step that undo reverses.</summary>
public sealed class DocumentOperationTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static RgbaImage Solid(int w, int h, byte r, byte g, byte b, byte a = 255) => RgbaImage.Filled(w, h, r, g, b, a);

    /// <summary>A 16×16 white document with a red 8×8 layer L2 at 4,4.</summary>
    private DocumentStore NewDocument(string name)
    {
        var store = DocumentStore.NewDocument(_dir.File(name), 16, 16, Solid(16, 16, 255, 255, 255), "white");
        store.AddLayer(Solid(8, 8, 255, 0, 0), new LayerOptions { X = 4, Y = 4, Name = "red" });
        return store;
    }

    [Fact]
    public void MoveScaleOpacityVisibilityAndRenameChangeOneLayerEachAndUndoReversesThem()
    {
        using var store = NewDocument("placement");
        var start = store.Render();
        var moved = store.Place("L2", x: 0, y: 8);
        Assert.Equal((0, 8), (moved.X, moved.Y));
        Assert.Equal((255, 0, 0), store.Render().GetPixel(0, 8));
        Assert.Equal((255, 255, 255), store.Render().GetPixel(4, 4));
        Assert.Equal(2.0, store.Place("L2", scale: 2).Scale);
        Assert.Equal((255, 0, 0), store.Render().GetPixel(15, 15));
        Assert.Equal(0.5, store.SetOpacity("L2", 0.5).Opacity);
        var (r, g, b) = store.Render().GetPixel(15, 15);
        Assert.True(r == 255 && g is 127 or 128 && b == g, $"half-transparent red over white is {r},{g},{b}");
        Assert.False(store.SetVisible("L2", false).Visible);
        Assert.Equal((255, 255, 255), store.Render().GetPixel(15, 15));
        Assert.Equal("roof", store.Rename("L2", "roof").Name);
        Assert.Throws<StudioInputException>(() => store.Rename("L2", ""));
        Assert.Throws<StudioInputException>(() => store.SetOpacity("L2", 2));
        Assert.Equal(["move", "move", "opacity", "visibility", "rename"], store.History().Skip(2).Select(h => h.Kind));
        for (int i = 0; i < 5; i++) store.Undo();
        Assert.Equal(start.Pixels, store.Render().Pixels);
    }

    [Fact]
    public void FlipDuplicateAndReorder()
    {
        using var store = NewDocument("flip");
        var half = new byte[8 * 8 * 4];
        for (int i = 0; i < 64; i++) (half[i * 4], half[i * 4 + 1], half[i * 4 + 2], half[i * 4 + 3]) = i % 8 < 4 ? ((byte)0, (byte)0, (byte)255, (byte)255) : ((byte)0, (byte)255, (byte)0, (byte)255);
        store.Paint("L2", new RgbaImage(8, 8, half), 0, 0);
        Assert.Equal((0, 0, 255), store.Render().GetPixel(4, 4));
        store.Flip("L2", horizontal: true);
        Assert.Equal((0, 255, 0), store.Render().GetPixel(4, 4));
        store.Flip("L2", horizontal: false);
        Assert.Equal((0, 255, 0), store.Render().GetPixel(4, 4));
        var copy = store.Duplicate("L2");
        Assert.Equal(["L1", "L2", copy.Id], store.Document.Layers.Select(l => l.Id));
        store.Place(copy.Id, x: 8, y: 8);
        store.Reorder(copy.Id, 0);
        Assert.Equal([copy.Id, "L1", "L2"], store.Document.Layers.Select(l => l.Id));
        Assert.Equal((255, 255, 255), store.Render().GetPixel(13, 13)); // the copy is under the white base now
        Assert.Throws<StudioInputException>(() => store.Reorder(copy.Id, 3));
    }

    [Fact]
    public void APaintStrokesPixelsAreInTheComposite()
    {
        using var store = NewDocument("paint");
        var stroke = RgbaImage.Filled(3, 2, 10, 200, 30);
        store.Paint("L2", stroke, 2, 5);
        var composite = store.Render();
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
            {
                bool inStroke = x >= 6 && x < 9 && y >= 9 && y < 11, inLayer = x >= 4 && x < 12 && y >= 4 && y < 12;
                Assert.Equal(inStroke ? (10, 200, 30) : inLayer ? (255, 0, 0) : (255, 255, 255), composite.GetPixel(x, y));
            }
        Assert.Throws<StudioInputException>(() => store.Paint("L2", stroke, 6, 7));
        store.Undo();
        Assert.Equal((255, 0, 0), store.Render().GetPixel(6, 9));
    }

    [Fact]
    public void AStrokeDrawnOverAnImageThatAnotherStoreChangedMeanwhile_IsRefusedAtTheCommit()
    {
        using var page = NewDocument("paint-race");
        string drawnOver = page.Document.GetLayer("L2").Image;
        // Another writer (a second page, the CLI) paints the layer after this store read it; this store has not refreshed.
        using (var other = DocumentStore.Open(page.Folder))
            other.Paint("L2", RgbaImage.Filled(2, 2, 0, 0, 255), 0, 0, baseImage: drawnOver);
        Assert.Equal(drawnOver, page.Document.GetLayer("L2").Image); // what a check before the commit would have seen
        int steps = page.History().Count;
        var refused = Assert.Throws<LayerChangedException>(() => page.Paint("L2", RgbaImage.Filled(2, 2, 0, 255, 0), 4, 4, baseImage: drawnOver));
        Assert.Equal(drawnOver, refused.ExpectedImage);
        Assert.Equal(steps, page.History().Count); // nothing recorded
        page.Refresh();
        Assert.Equal((0, 0, 255), page.Render().GetPixel(4, 4));
        Assert.Equal((255, 0, 0), page.Render().GetPixel(8, 8)); // the refused stroke left nothing
        // Drawn over the layer's current image, the stroke commits.
        page.Paint("L2", RgbaImage.Filled(2, 2, 0, 255, 0), 4, 4, baseImage: page.Document.GetLayer("L2").Image);
        Assert.Equal((0, 255, 0), page.Render().GetPixel(8, 8));
    }

    [Fact]
    public void UndoBringsADeletedLayerBackAndRedoFollowsTheUndosUntilANewEdit()
    {
        using var store = NewDocument("undo");
        var withRed = store.Render();
        store.Delete("L2");
        Assert.DoesNotContain(store.Document.Layers, l => l.Id == "L2");
        var without = store.Render();
        Assert.Equal((255, 255, 255), without.GetPixel(5, 5));
        store.Undo();
        Assert.Equal(withRed.Pixels, store.Render().Pixels);
        store.Redo();
        Assert.Equal(without.Pixels, store.Render().Pixels);
        Assert.Throws<StudioInputException>(() => store.Redo());
        store.Undo();
        store.Undo(); // before the red layer
        store.Redo();
        Assert.Equal(withRed.Pixels, store.Render().Pixels);
        store.SetOpacity("L2", 0.25); // a new edit discards the redo line …
        Assert.Throws<StudioInputException>(() => store.Redo());
        Assert.Contains(store.History(), h => h.Kind == "delete"); // … which stays in the history
        Assert.Empty(store.Verify());
    }

    [Fact]
    public void MergeDownCompositesTheTwoLayersIntoOne()
    {
        using var store = NewDocument("merge");
        store.AddLayer(Solid(4, 4, 0, 0, 255, 128), new LayerOptions { X = 10, Y = 10, Name = "blue" });
        var before = store.Render();
        var merged = store.MergeDown("L3");
        Assert.Equal(["L1", merged.Id], store.Document.Layers.Select(l => l.Id));
        Assert.Equal((4, 4), (merged.X, merged.Y));
        var image = store.GetImage(merged.Image);
        Assert.Equal((10, 10), (image.Width, image.Height));
        Assert.Equal(before.Pixels, store.Render().Pixels);
        Assert.Throws<StudioInputException>(() => store.MergeDown("L1"));
    }

    [Fact]
    public void GrowingTheCanvasOnTheLeftKeepsEveryVisiblePixelWhereItWas()
    {
        using var store = NewDocument("grow");
        var before = store.Render();
        store.ResizeCanvas(left: 5, top: 3, right: 2, bottom: 0);
        Assert.Equal((23, 19), (store.Document.Width, store.Document.Height));
        var after = store.Render();
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
                Assert.Equal(before.GetPixel(x, y), after.GetPixel(x + 5, y + 3));
        store.ResizeCanvas(left: -5, top: -3, right: -2, bottom: 0); // and cropping back restores the picture
        Assert.Equal(before.Pixels, store.Render().Pixels);
        Assert.Throws<StudioInputException>(() => store.ResizeCanvas(-16, 0, 0, 0));
        store.Undo();
        Assert.Equal((23, 19), (store.Document.Width, store.Document.Height));
        Assert.Empty(store.Verify());
    }

    [Fact]
    public void TheSameOperationIdCommittedTwiceAppliesOnce()
    {
        using var store = NewDocument("idempotent");
        var first = store.AddLayer(Solid(2, 2, 0, 0, 0), new LayerOptions { Name = "once" }, operationId: "client-42");
        int rows = store.History().Count;
        var second = store.AddLayer(Solid(2, 2, 0, 0, 0), new LayerOptions { Name = "once" }, operationId: "client-42");
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(rows, store.History().Count);
        Assert.Single(store.Document.Layers, l => l.Name == "once");
        // Another store (another client, another process) sees the id too.
        using var other = DocumentStore.Open(store.Folder);
        other.SetOpacity("L2", 0.5, operationId: "client-43");
        other.SetOpacity("L2", 0.9, operationId: "client-43");
        Assert.Equal(0.5, other.Document.GetLayer("L2").Opacity);
        Assert.Equal(rows + 1, other.History().Count);
    }

    [Fact]
    public void DiscardRemovesTheCandidatesOnlyAndPastStatesRender()
    {
        using var store = NewDocument("discard");
        var candidate = new Layer { Id = store.NewLayerId(), Name = "candidate 1", Image = store.StoreImage(Solid(2, 2, 1, 2, 3)), Hidden = true, Role = LayerRole.Candidate };
        store.RecordOperation(new OperationRecord { Kind = "generate" }, store.Document.WithLayerOnTop(candidate));
        long withCandidate = store.StateId;
        store.DiscardCandidates();
        Assert.Equal(["L1", "L2"], store.Document.Layers.Select(l => l.Id));
        Assert.Throws<StudioInputException>(() => store.DiscardCandidates());
        Assert.Equal(LayerRole.Candidate, store.GetState(withCandidate).GetLayer(candidate.Id).Role);
        string past = _dir.File("past.png");
        store.RenderToFile(past, stateId: 1);
        Assert.Equal((255, 255, 255), ImageFiles.Load(past).GetPixel(5, 5)); // state 1: before the red layer
        Assert.Contains("\"state\":1", ImageFiles.ReadPngText(past)["redraft"]);
    }

    [Fact]
    public void FoldersAKilledNewLeftAreRemovedOnTheNextOpenButNotOnesStillBeingBuilt()
    {
        using (NewDocument("doc")) { }
        string abandoned = _dir.File(".doc.new-0123"), building = _dir.File(".doc.new-4567");
        foreach (var folder in new[] { abandoned, building })
        {
            Directory.CreateDirectory(Path.Combine(folder, "images"));
            File.WriteAllText(Path.Combine(folder, DocumentStore.LockFileName), "");
        }
        using (new FileStream(Path.Combine(building, DocumentStore.LockFileName), FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        using (DocumentStore.Open(_dir.File("doc")))
        {
            Assert.False(Directory.Exists(abandoned));
            Assert.True(Directory.Exists(building));
        }
    }
}
