using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Redraft.Server.Api;
using Redraft.Studio;

namespace Redraft.Server.Documents;

/// <summary>Builds the documents API's answers (<c>DocumentModels.cs</c>) from what the studio library reads.</summary>
internal static class DocumentViews
{
    /// <summary>The URL of document <paramref name="name"/> (escaped: a folder name may hold spaces).</summary>
    public static string Url(string name) => "/api/v1/documents/" + Uri.EscapeDataString(name);

    /// <summary>The document as of <paramref name="state"/> (null = the head), with <paramref name="entry"/> when an edit recorded one.</summary>
    public static DocumentView Document(string name, DocumentStore store, long? state = null, HistoryEntry? entry = null)
    {
        var document = state is { } s ? store.GetState(s) : store.Document;
        long shown = state ?? store.StateId;
        var layers = document.Layers.Select((l, i) => Layer(name, store, l, i)).ToList();
        string composite = Url(name) + "/composite.png" + (state is null ? "" : $"?state={shown}");
        return new DocumentView(name, store.DocumentId, document.Width, document.Height, shown, store.CanUndo(), store.CanRedo(), layers, composite,
            entry is null ? null : History(entry));
    }

    /// <summary>A layer as <c>redraft doc layers --json</c> lists it, with its image's size and URL.</summary>
    public static LayerView Layer(string name, DocumentStore store, Layer l, int index)
    {
        var (width, height) = PngSize(store.ImagePath(l.Image));
        return new LayerView(l.Id, index, l.Name, l.Role.ToString().ToLowerInvariant(), l.Visible, l.Hidden, l.IsDrawn, l.X, l.Y, l.Scale, l.Opacity,
            l.Image, l.Mask, l.Generation is { } g ? new LayerGenerationView(g.Step, g.Seed) : null, width, height, $"{Url(name)}/images/{l.Image}.png");
    }

    /// <summary>A history row.</summary>
    public static HistoryView History(HistoryEntry h) => new(h.Id, h.Time, h.Kind, h.Prompt, h.Seed, h.Strength, h.Sampler, h.ModelHash,
        h.Duration.TotalSeconds, JsonNode.Parse(h.ParametersJson) as JsonObject ?? [], h.Inputs, h.Outputs, h.StateBefore, h.StateAfter);

    /// <summary>A stored PNG's size, from its header (the image store keeps only PNGs): no decoding to list layers.</summary>
    private static (int Width, int Height) PngSize(string path)
    {
        Span<byte> header = stackalloc byte[24];
        using var file = File.OpenRead(path);
        file.ReadExactly(header);
        return (BinaryPrimitives.ReadInt32BigEndian(header[16..]), BinaryPrimitives.ReadInt32BigEndian(header[20..]));
    }
}
