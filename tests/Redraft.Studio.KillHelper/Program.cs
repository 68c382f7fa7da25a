using Redraft.Imaging;
using Redraft.Studio;

// Kill-test helper: opens (or creates) a document and performs studio operations in a loop until killed.
// Usage: Redraft.Studio.KillHelper FOLDER SEED
// Prints "ready" once the document is open and "committed N" after each operation (N = operations this run has
// recorded in the history so far); stdout is flushed each time.
if (args.Length != 2 || !int.TryParse(args[1], out int seed))
{
    Console.Error.WriteLine("usage: Redraft.Studio.KillHelper FOLDER SEED");
    return 2;
}
string folder = args[0];
var random = new Random(seed);
using var store = File.Exists(Path.Combine(folder, DocumentStore.DocumentFileName))
    ? DocumentStore.Open(folder)
    : DocumentStore.NewDocument(folder, 24, 16, RandomImage(random, 24, 16), "start");
Console.Out.WriteLine("ready");
Console.Out.Flush();
long committed = 0; // operations recorded in history.db by this run
for (long n = 1; ; n++)
{
    bool recorded = true;
    int choice = random.Next(100);
    if (choice < 55 || store.Document.Layers.Count == 0)
    {
        int w = random.Next(2, 12), h = random.Next(2, 12);
        var image = RandomImage(random, w, h);
        MaskImage? mask = random.Next(4) == 0 ? RandomMask(random, w, h) : null;
        double scale = random.Next(3) switch { 0 => 1, 1 => 2, _ => 0.5 };
        var (sw, sh) = Compositor.ScaledSize(w, h, scale);
        store.AddLayer(image, new LayerOptions
        {
            X = random.Next(-sw + 1, 24), Y = random.Next(-sh + 1, 16),
            Scale = scale,
            Opacity = random.Next(5) / 4.0,
            Name = $"random {n}",
        }, mask);
    }
    else if (choice < 80)
    {
        var layers = store.Document.Layers;
        store.Erase(layers[random.Next(layers.Count)].Id, RandomMask(random, 24, 16));
    }
    else if (choice < 95)
    {
        try { store.Undo(); } catch (StudioInputException) { recorded = false; }
    }
    else
    {
        store.RenderToFile(Path.Combine(folder, "..", $"render-{seed}.png"));
        recorded = false;
    }
    if (recorded) committed++;
    Console.Out.WriteLine($"committed {committed}");
    Console.Out.Flush();
}

static RgbaImage RandomImage(Random random, int w, int h)
{
    var pixels = new byte[w * h * 4];
    random.NextBytes(pixels);
    return new RgbaImage(w, h, pixels);
}

static MaskImage RandomMask(Random random, int w, int h)
{
    var pixels = new byte[w * h];
    random.NextBytes(pixels);
    return new MaskImage(w, h, pixels);
}
