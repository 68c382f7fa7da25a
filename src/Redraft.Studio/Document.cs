namespace Redraft.Studio;

/// <summary>How a layer combines with what is below it. Only the over-operator for now.</summary>
public enum BlendMode
{
    /// <summary>Porter–Duff "over" with straight alpha.</summary>
    Normal,
}

/// <summary>What a layer is in the iteration loop: it decides what <c>pick</c> and <c>discard</c> act on.</summary>
public enum LayerRole
{
    /// <summary>Added or painted by the user (the sketch, pasted elements).</summary>
    User,
    /// <summary>A hidden variation a generate step made, waiting to be picked or discarded.</summary>
    Candidate,
    /// <summary>Generated and accepted: a picked candidate, or the base layer a harmonize step made.</summary>
    Generated,
}

/// <summary>The generation that made a layer: its history row and the seed that makes it again.</summary>
/// <param name="Step">The history row (operation id) of the generate or harmonize step.</param>
/// <param name="Seed">The image's seed.</param>
public sealed record LayerGeneration(long Step, long Seed);

/// <summary>
/// One layer of a <see cref="Document"/>. Its pixels live in the document's content-addressed image folder:
/// <see cref="Image"/> (and <see cref="Mask"/>) are SHA-256 hashes (64 lowercase hex digits) of PNG files
/// <c>images/HASH.png</c>.
/// </summary>
/// <remarks>
/// <para>Placement: the layer image of w x h pixels is resampled to <c>round(w·Scale)</c> x <c>round(h·Scale)</c>
/// pixels (at least 1) and its top-left corner put at canvas pixel (<see cref="X"/>, <see cref="Y"/>); any part
/// outside the canvas is clipped. See <see cref="Compositor"/> for the resampling rule.</para>
/// <para><see cref="Mask"/>, if set, is a visibility mask of the same size as the image (255 = keep,
/// 0 = hidden), applied in layer pixels before scaling.</para>
/// <para>A layer is drawn when <see cref="Visible"/> is true and <see cref="Hidden"/> is false.
/// <see cref="Visible"/> is the user's on/off switch; <see cref="Hidden"/> is set by operations that supersede
/// layers without deleting them (harmonize puts a new base layer on top and hides the old ones), so the user's
/// visibility choice survives an un-hide.</para>
/// </remarks>
public sealed record Layer
{
    /// <summary>Short identifier, unique in the document and never reused (<c>L1</c>, <c>L2</c>, …): letters, digits, '-', '_'.</summary>
    public required string Id { get; init; }

    /// <summary>Free text for people.</summary>
    public string Name { get; init; } = "";

    /// <summary>SHA-256 (hex) of the layer's RGBA PNG in <c>images/</c>.</summary>
    public required string Image { get; init; }

    /// <summary>Canvas column of the layer's left edge (may be negative or beyond the canvas).</summary>
    public int X { get; init; }

    /// <summary>Canvas row of the layer's top edge (may be negative or beyond the canvas).</summary>
    public int Y { get; init; }

    /// <summary>Uniform scale factor, in (0, <see cref="Document.MaxScale"/>].</summary>
    public double Scale { get; init; } = 1;

    /// <summary>Multiplies the layer's alpha, in [0, 1].</summary>
    public double Opacity { get; init; } = 1;

    /// <summary>The user's visibility switch.</summary>
    public bool Visible { get; init; } = true;

    /// <summary>Optional SHA-256 of a grayscale visibility mask PNG (same size as the image; 255 = keep).</summary>
    public string? Mask { get; init; }

    /// <summary>Blend mode; only <see cref="BlendMode.Normal"/>.</summary>
    public BlendMode Blend { get; init; } = BlendMode.Normal;

    /// <summary>Hidden by an operation (harmonize), not by the user; see the remarks on <see cref="Layer"/>.</summary>
    public bool Hidden { get; init; }

    /// <summary>What the layer is: the user's, a candidate, or generated and accepted.</summary>
    public LayerRole Role { get; init; }

    /// <summary>The generation that made it (candidates and generated layers; null for the user's).</summary>
    public LayerGeneration? Generation { get; init; }

    /// <summary>Whether the compositor draws this layer.</summary>
    public bool IsDrawn => Visible && !Hidden;
}

/// <summary>
/// A studio document: a canvas of <see cref="Width"/> x <see cref="Height"/> pixels and its layers, bottom first.
/// Immutable; operations make new documents. Two documents are equal when their sizes and layer lists are.
/// </summary>
public sealed record Document
{
    /// <summary>Largest scale factor a layer may have.</summary>
    public const double MaxScale = 64;

    /// <summary>Largest canvas side (the engine's own limit is lower).</summary>
    public const int MaxSide = 16384;

    /// <summary>Bound on |x| and |y| of layer offsets.</summary>
    public const int MaxOffset = 1 << 20;

    /// <summary>Creates a document; see <see cref="Validate"/> for the rules checked when it is stored.</summary>
    public Document(int width, int height, IReadOnlyList<Layer>? layers = null)
    {
        Width = width;
        Height = height;
        Layers = layers is null ? [] : [.. layers];
    }

    /// <summary>Canvas width in pixels.</summary>
    public int Width { get; init; }

    /// <summary>Canvas height in pixels.</summary>
    public int Height { get; init; }

    /// <summary>Layers, bottom (drawn first) to top.</summary>
    public IReadOnlyList<Layer> Layers { get; init; }

    /// <summary>The layer with id <paramref name="id"/>.</summary>
    /// <exception cref="StudioInputException">No such layer (the message lists the ids there are).</exception>
    public Layer GetLayer(string id)
    {
        foreach (var layer in Layers)
            if (layer.Id == id) return layer;
        string known = Layers.Count == 0 ? "the document has no layers" : "layers: " + string.Join(", ", Layers.Select(l => l.Id));
        throw new StudioInputException($"no layer '{id}' ({known}).");
    }

    /// <summary>A copy with layer <paramref name="id"/> replaced by <paramref name="change"/>'s result.</summary>
    /// <exception cref="StudioInputException">No such layer.</exception>
    public Document WithLayer(string id, Func<Layer, Layer> change)
    {
        GetLayer(id);
        return this with { Layers = [.. Layers.Select(l => l.Id == id ? change(l) : l)] };
    }

    /// <summary>A copy with <paramref name="layer"/> added on top.</summary>
    public Document WithLayerOnTop(Layer layer) => this with { Layers = [.. Layers, layer] };

    /// <summary>A copy without layer <paramref name="id"/>.</summary>
    /// <exception cref="StudioInputException">No such layer.</exception>
    public Document WithoutLayer(string id)
    {
        GetLayer(id);
        return this with { Layers = [.. Layers.Where(l => l.Id != id)] };
    }

    /// <summary>The position of layer <paramref name="id"/>, 0 = bottom.</summary>
    /// <exception cref="StudioInputException">No such layer.</exception>
    public int IndexOf(string id)
    {
        GetLayer(id);
        for (int i = 0; i < Layers.Count; i++)
            if (Layers[i].Id == id) return i;
        return -1;
    }

    /// <summary>A copy with layer <paramref name="id"/> moved to position <paramref name="index"/> (0 = bottom).</summary>
    /// <exception cref="StudioInputException">No such layer, or the position is outside the stack.</exception>
    public Document WithLayerAt(string id, int index)
    {
        var layer = GetLayer(id);
        if (index < 0 || index >= Layers.Count)
            throw new StudioInputException($"position {index} is outside the layer stack (0 = bottom to {Layers.Count - 1} = top).");
        var rest = Layers.Where(l => l.Id != id).ToList();
        rest.Insert(index, layer);
        return this with { Layers = rest };
    }

    /// <summary>
    /// Checks the rules every stored document follows: canvas 1..<see cref="MaxSide"/>; layer ids non-empty,
    /// unique, of letters/digits/'-'/'_'; hashes of 64 lowercase hex digits; scale in (0, <see cref="MaxScale"/>];
    /// opacity in [0, 1]; offsets within ±<see cref="MaxOffset"/>.
    /// </summary>
    /// <exception cref="StudioInputException">The first rule broken, in one line.</exception>
    public void Validate()
    {
        if (Width < 1 || Height < 1 || Width > MaxSide || Height > MaxSide)
            throw new StudioInputException($"canvas size {Width}x{Height} is out of range (1 to {MaxSide} per side).");
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var l in Layers)
        {
            if (l is null) throw new StudioInputException("a layer is null.");
            if (!IsValidId(l.Id)) throw new StudioInputException($"layer id '{l.Id}' is invalid (use letters, digits, '-' and '_', at most 64).");
            if (!ids.Add(l.Id)) throw new StudioInputException($"layer id '{l.Id}' appears twice.");
            if (!IsHash(l.Image)) throw new StudioInputException($"layer {l.Id}: image '{l.Image}' is not a SHA-256 hash (64 lowercase hex digits).");
            if (l.Mask is not null && !IsHash(l.Mask)) throw new StudioInputException($"layer {l.Id}: mask '{l.Mask}' is not a SHA-256 hash (64 lowercase hex digits).");
            if (!double.IsFinite(l.Scale) || l.Scale <= 0 || l.Scale > MaxScale) throw new StudioInputException($"layer {l.Id}: scale {l.Scale} is out of range (0 < scale <= {MaxScale}).");
            if (!double.IsFinite(l.Opacity) || l.Opacity < 0 || l.Opacity > 1) throw new StudioInputException($"layer {l.Id}: opacity {l.Opacity} is out of range (0 to 1).");
            if (Math.Abs((long)l.X) > MaxOffset || Math.Abs((long)l.Y) > MaxOffset) throw new StudioInputException($"layer {l.Id}: offset {l.X},{l.Y} is out of range (±{MaxOffset}).");
            if (!Enum.IsDefined(l.Blend)) throw new StudioInputException($"layer {l.Id}: unknown blend mode {(int)l.Blend}.");
            if (l.Name is null) throw new StudioInputException($"layer {l.Id}: name is null.");
        }
    }

    /// <inheritdoc/>
    public bool Equals(Document? other) =>
        other is not null && Width == other.Width && Height == other.Height && Layers.SequenceEqual(other.Layers);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Width);
        hash.Add(Height);
        foreach (var l in Layers) hash.Add(l);
        return hash.ToHashCode();
    }

    internal static bool IsHash(string? s) =>
        s is { Length: 64 } && s.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');

    internal static bool IsValidId(string? s) =>
        s is { Length: > 0 and <= 64 } && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
