using System.Globalization;
using System.Text.Json.Nodes;

namespace Redraft.Studio;

/// <summary>
/// The edits of a document: each one a function of the current document committed through
/// <see cref="DocumentStore.Apply"/>, so it lands on whatever state is current, and one history step that
/// <see cref="DocumentStore.Undo"/> reverses.
/// </summary>
public sealed partial class DocumentStore
{

    /// <summary>A fresh layer id (<c>L</c> + number) for <see cref="RecordOperation"/>; edits through <see cref="Apply"/> use <see cref="EditContext.NewLayerId"/>.</summary>
    public string NewLayerId() => "L" + (_nextLayer++).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Adds an image file as a new top layer (<c>redraft doc add-layer</c>); <paramref name="maskPath"/> is an
    /// optional visibility mask (white = keep) that must be the image's size.
    /// </summary>
    /// <exception cref="RedraftInputException">Unreadable files, a mask of another size, values out of range, or a
    /// layer that would lie entirely outside the canvas. Nothing is changed.</exception>
    public Layer AddLayer(string imagePath, LayerOptions? options = null, string? maskPath = null, string? operationId = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagePath);
        RgbaImage image = ImageFiles.LoadRgba(imagePath);
        MaskImage? mask = maskPath is null ? null : MaskImage.Load(maskPath);
        options ??= new LayerOptions();
        if (options.Name is null)
            options = options with { Name = Path.GetFileNameWithoutExtension(imagePath) };
        return AddLayer(image, options, mask, imagePath, maskPath, operationId);
    }

    /// <summary>Adds pixels as a new top layer; see <see cref="AddLayer(string, LayerOptions?, string?, string?)"/>.</summary>
    /// <param name="image">The layer's pixels (straight alpha).</param>
    /// <param name="options">Placement, opacity, name.</param>
    /// <param name="mask">Optional visibility mask of the image's size (white = keep).</param>
    /// <param name="source">Recorded in the history as where the image came from.</param>
    /// <param name="maskSource">Recorded in the history as where the mask came from.</param>
    /// <param name="operationId">Optional client id: committing it again returns the first result.</param>
    public Layer AddLayer(RgbaImage image, LayerOptions? options = null, MaskImage? mask = null, string? source = null, string? maskSource = null,
        string? operationId = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        options ??= new LayerOptions();
        CheckPlacement(options.Scale, options.Opacity);
        if (mask is not null && (mask.Width != image.Width || mask.Height != image.Height))
            throw new StudioInputException(
                $"{maskSource ?? "mask"}: mask is {mask.Width}x{mask.Height} but the layer image is {image.Width}x{image.Height}; a layer mask must be the image's size (masks are not resized).");
        var entry = Apply(c =>
        {
            var (sw, sh) = Compositor.ScaledSize(image.Width, image.Height, options.Scale);
            EnsureOnCanvas(sw, sh, options.X, options.Y, c.Current);
            // Stored only once the edit is known to apply: a refused edit leaves no file behind.
            string hash = Images.Store(image);
            string? maskHash = mask is null ? null : Images.Store(mask);
            var layer = new Layer
            {
                Id = c.NewLayerId(), Name = options.Name ?? "layer", Image = hash, Mask = maskHash,
                X = options.X, Y = options.Y, Scale = options.Scale, Opacity = options.Opacity, Visible = options.Visible,
            };
            var parameters = new JsonObject
            {
                ["layer"] = layer.Id, ["name"] = layer.Name, ["source"] = source, ["mask_source"] = maskSource, ["image"] = hash,
                ["mask"] = maskHash, ["x"] = layer.X, ["y"] = layer.Y, ["scale"] = layer.Scale, ["opacity"] = layer.Opacity,
                ["visible"] = layer.Visible,
            };
            return (c.Current.WithLayerOnTop(layer), new OperationRecord
            {
                Kind = "add-layer", ParametersJson = parameters.ToJsonString(), Outputs = maskHash is null ? [hash] : [hash, maskHash],
            });
        }, operationId);
        return Document.GetLayer(LayerOf(entry));
    }

    /// <summary>
    /// Erases part of a layer (<c>redraft doc erase</c>): the layer's alpha is multiplied by (1 − mask/255), white
    /// = erase. The result is stored as a new image and the layer points at it; the old image is kept, so
    /// <see cref="Undo"/> brings it back.
    /// </summary>
    /// <remarks>
    /// With <see cref="MaskSpace.Canvas"/> (default) the mask must be the canvas's size; each layer pixel takes the
    /// mean of the mask over the canvas area it covers (area outside the canvas counts as 0, not erased). With
    /// <see cref="MaskSpace.Layer"/> the mask must be the layer image's size. Masks of other sizes are rejected,
    /// not resized.
    /// </remarks>
    /// <exception cref="StudioInputException">Unknown layer or mask of the wrong size; nothing is changed.</exception>
    public Layer Erase(string layerId, MaskImage mask, MaskSpace space = MaskSpace.Canvas, string? maskSource = null, string? operationId = null)
    {
        ArgumentNullException.ThrowIfNull(mask);
        var entry = Apply(c =>
        {
            var document = c.Current;
            Layer layer = document.GetLayer(layerId);
            RgbaImage image = Images.Get(layer.Image);
            int w = image.Width, h = image.Height;
            byte[] amount;
            if (space == MaskSpace.Layer)
            {
                if (mask.Width != w || mask.Height != h)
                    throw new StudioInputException(
                        $"{maskSource ?? "mask"}: mask is {mask.Width}x{mask.Height} but layer {layer.Id}'s image is {w}x{h} (layer-space masks must match it; masks are not resized).");
                amount = mask.Pixels;
            }
            else
            {
                if (mask.Width != document.Width || mask.Height != document.Height)
                    throw new StudioInputException(
                        $"{maskSource ?? "mask"}: mask is {mask.Width}x{mask.Height} but the canvas is {document.Width}x{document.Height} (erase masks are in canvas pixels; masks are not resized).");
                amount = CanvasMaskToLayer(mask, layer, w, h, document);
            }
            string maskHash = Images.Store(mask);
            var pixels = (byte[])image.Pixels.Clone();
            for (int p = 0; p < amount.Length; p++)
            {
                int m = amount[p];
                if (m == 0) continue;
                int i = p * 4 + 3;
                pixels[i] = (byte)((pixels[i] * (255 - m) + 127) / 255);
            }
            string newHash = Images.Store(new RgbaImage(w, h, pixels));
            var parameters = new JsonObject
            {
                ["layer"] = layer.Id, ["mask"] = maskHash, ["mask_source"] = maskSource, ["space"] = space == MaskSpace.Canvas ? "canvas" : "layer",
                ["image_before"] = layer.Image, ["image_after"] = newHash,
            };
            return (document.WithLayer(layer.Id, l => l with { Image = newHash }), new OperationRecord
            {
                Kind = "erase", ParametersJson = parameters.ToJsonString(), Inputs = [layer.Image, maskHash], Outputs = [newHash],
            });
        }, operationId);
        return Document.GetLayer(layerId);
    }

    /// <summary>
    /// Replaces a rectangle of a layer's pixels with <paramref name="patch"/> (straight RGBA, alpha included), its
    /// top-left corner at layer pixel (<paramref name="x"/>, <paramref name="y"/>): the primitive brush strokes are
    /// committed with. Parts of the patch outside the layer image are refused. With <paramref name="baseImage"/> (the
    /// image hash the stroke was drawn over) the layer must still be that image when the edit commits.
    /// </summary>
    /// <exception cref="StudioInputException">Unknown layer, or the patch does not lie inside the layer image.</exception>
    /// <exception cref="LayerChangedException">The layer is no longer <paramref name="baseImage"/>; nothing is changed.</exception>
    public Layer Paint(string layerId, RgbaImage patch, int x, int y, string? operationId = null, string? baseImage = null)
    {
        ArgumentNullException.ThrowIfNull(patch);
        Apply(c =>
        {
            var layer = c.Current.GetLayer(layerId);
            // Checked here, under the document's lock: an edit committed by anyone after the client read the layer is seen.
            if (baseImage is not null && layer.Image != baseImage) throw new LayerChangedException(layerId, baseImage, layer.Image);
            var image = Images.Get(layer.Image);
            if (x < 0 || y < 0 || (long)x + patch.Width > image.Width || (long)y + patch.Height > image.Height)
                throw new StudioInputException(
                    $"a {patch.Width}x{patch.Height} patch at {x},{y} does not lie inside layer {layerId}'s {image.Width}x{image.Height} image (coordinates are layer pixels).");
            var pixels = (byte[])image.Pixels.Clone();
            for (int row = 0; row < patch.Height; row++)
                Array.Copy(patch.Pixels, row * patch.Width * 4, pixels, ((y + row) * image.Width + x) * 4, patch.Width * 4);
            string before = layer.Image, after = Images.Store(new RgbaImage(image.Width, image.Height, pixels));
            string patchHash = Images.Store(patch);
            var parameters = new JsonObject { ["layer"] = layerId, ["x"] = x, ["y"] = y, ["patch"] = patchHash, ["image_before"] = before, ["image_after"] = after };
            return (c.Current.WithLayer(layerId, l => l with { Image = after }),
                new OperationRecord { Kind = "paint", ParametersJson = parameters.ToJsonString(), Inputs = [before, patchHash], Outputs = [after] });
        }, operationId);
        return Document.GetLayer(layerId);
    }

    /// <summary>Moves and scales a layer (its top-left corner at canvas pixel x, y).</summary>
    public Layer Place(string layerId, int? x = null, int? y = null, double? scale = null, string? operationId = null)
    {
        CheckPlacement(scale ?? 1, 1);
        return ChangeLayer("move", layerId, (c, l) =>
        {
            var moved = l with { X = x ?? l.X, Y = y ?? l.Y, Scale = scale ?? l.Scale };
            var image = Images.Get(l.Image);
            var (sw, sh) = Compositor.ScaledSize(image.Width, image.Height, moved.Scale);
            EnsureOnCanvas(sw, sh, moved.X, moved.Y, c.Current);
            return moved;
        }, new JsonObject { ["x"] = x, ["y"] = y, ["scale"] = scale }, operationId);
    }

    /// <summary>Sets a layer's opacity (0–1).</summary>
    public Layer SetOpacity(string layerId, double opacity, string? operationId = null)
    {
        CheckPlacement(1, opacity);
        return ChangeLayer("opacity", layerId, (_, l) => l with { Opacity = opacity }, new JsonObject { ["opacity"] = opacity }, operationId);
    }

    /// <summary>Shows or hides a layer (the user's switch; a hidden candidate stays a candidate).</summary>
    public Layer SetVisible(string layerId, bool visible, string? operationId = null) =>
        ChangeLayer("visibility", layerId, (_, l) => l with { Visible = visible }, new JsonObject { ["visible"] = visible }, operationId);

    /// <summary>Renames a layer.</summary>
    public Layer Rename(string layerId, string name, string? operationId = null)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 200 || name.Any(char.IsControl))
            throw new StudioInputException("a layer name must be 1 to 200 printable characters.");
        return ChangeLayer("rename", layerId, (_, l) => l with { Name = name }, new JsonObject { ["name"] = name }, operationId);
    }

    /// <summary>Mirrors a layer's pixels left-right (<paramref name="horizontal"/>) or top-bottom, as a new image.</summary>
    public Layer Flip(string layerId, bool horizontal, string? operationId = null) =>
        ChangeLayer("flip", layerId, (_, l) =>
        {
            var image = Images.Get(l.Image);
            var pixels = new byte[image.Pixels.Length];
            for (int y = 0; y < image.Height; y++)
                for (int x = 0; x < image.Width; x++)
                {
                    int sx = horizontal ? image.Width - 1 - x : x, sy = horizontal ? y : image.Height - 1 - y;
                    Array.Copy(image.Pixels, (sy * image.Width + sx) * 4, pixels, (y * image.Width + x) * 4, 4);
                }
            string? mask = null;
            if (l.Mask is not null)
            {
                var m = Images.GetMask(l.Mask);
                var values = new byte[m.Pixels.Length];
                for (int y = 0; y < m.Height; y++)
                    for (int x = 0; x < m.Width; x++)
                        values[y * m.Width + x] = m.Pixels[(horizontal ? y : m.Height - 1 - y) * m.Width + (horizontal ? m.Width - 1 - x : x)];
                mask = Images.Store(new MaskImage(m.Width, m.Height, values));
            }
            return l with { Image = Images.Store(new RgbaImage(image.Width, image.Height, pixels)), Mask = mask };
        }, new JsonObject { ["direction"] = horizontal ? "horizontal" : "vertical" }, operationId);

    /// <summary>Moves a layer to position <paramref name="index"/> of the stack (0 = bottom).</summary>
    public Layer Reorder(string layerId, int index, string? operationId = null)
    {
        Apply(c => (c.Current.WithLayerAt(layerId, index), new OperationRecord
        {
            Kind = "reorder",
            ParametersJson = new JsonObject { ["layer"] = layerId, ["from"] = c.Current.IndexOf(layerId), ["to"] = index }.ToJsonString(),
        }), operationId);
        return Document.GetLayer(layerId);
    }

    /// <summary>A copy of a layer on top of it (a user layer, the same pixels).</summary>
    public Layer Duplicate(string layerId, string? operationId = null)
    {
        var entry = Apply(c =>
        {
            var layer = c.Current.GetLayer(layerId);
            var copy = layer with { Id = c.NewLayerId(), Name = layer.Name + " copy", Role = LayerRole.User, Generation = null, Hidden = false };
            var layers = c.Current.Layers.ToList();
            layers.Insert(c.Current.IndexOf(layerId) + 1, copy);
            return (c.Current with { Layers = layers }, new OperationRecord
            {
                Kind = "duplicate", ParametersJson = new JsonObject { ["layer"] = copy.Id, ["from"] = layerId }.ToJsonString(),
            });
        }, operationId);
        return Document.GetLayer(LayerOf(entry));
    }

    /// <summary>
    /// Deletes a layer: it leaves the document (and the composite) but stays in the history; <see cref="Undo"/>
    /// brings it back.
    /// </summary>
    public HistoryEntry Delete(string layerId, string? operationId = null) =>
        Apply(c =>
        {
            var layer = c.Current.GetLayer(layerId);
            return (c.Current.WithoutLayer(layerId), new OperationRecord
            {
                Kind = "delete", ParametersJson = new JsonObject { ["layer"] = layerId, ["name"] = layer.Name, ["image"] = layer.Image }.ToJsonString(),
            });
        }, operationId);

    /// <summary>
    /// Merges a layer into the one below it: the two are composited (the studio's rule) into one new layer that covers
    /// both, at the lower layer's place in the stack.
    /// </summary>
    /// <exception cref="StudioInputException">Unknown layer, or it is the bottom layer.</exception>
    public Layer MergeDown(string layerId, string? operationId = null)
    {
        var entry = Apply(c =>
        {
            var document = c.Current;
            int index = document.IndexOf(layerId);
            if (index == 0) throw new StudioInputException($"layer {layerId} is at the bottom; there is nothing below it to merge into.");
            var top = document.Layers[index];
            var below = document.Layers[index - 1];
            // The union of both layers' canvas rectangles, clipped to the canvas.
            var boxes = new[] { below, top }.Select(l =>
            {
                var image = Images.Get(l.Image);
                var (sw, sh) = Compositor.ScaledSize(image.Width, image.Height, l.Scale);
                return (X0: Math.Max(0, l.X), Y0: Math.Max(0, l.Y), X1: Math.Min(document.Width, l.X + sw), Y1: Math.Min(document.Height, l.Y + sh));
            }).ToList();
            int x0 = boxes.Min(b => b.X0), y0 = boxes.Min(b => b.Y0), x1 = boxes.Max(b => b.X1), y1 = boxes.Max(b => b.Y1);
            var pair = new Document(x1 - x0, y1 - y0, [below with { X = below.X - x0, Y = below.Y - y0, Visible = true, Hidden = false },
                top with { X = top.X - x0, Y = top.Y - y0, Visible = below.IsDrawn ? top.IsDrawn : true, Hidden = false }]);
            if (!below.IsDrawn) pair = pair with { Layers = [pair.Layers[1]] };
            if (!top.IsDrawn) pair = pair with { Layers = [pair.Layers[0]] };
            string merged = Images.Store(Compositor.RenderRgba(pair, this));
            var layer = new Layer { Id = c.NewLayerId(), Name = below.Name, Image = merged, X = x0, Y = y0, Role = LayerRole.User };
            var layers = document.Layers.Where(l => l.Id != top.Id && l.Id != below.Id).ToList();
            layers.Insert(index - 1, layer);
            return (document with { Layers = layers }, new OperationRecord
            {
                Kind = "merge-down",
                ParametersJson = new JsonObject { ["layer"] = layer.Id, ["top"] = top.Id, ["below"] = below.Id, ["image"] = merged }.ToJsonString(),
                Inputs = [top.Image, below.Image],
                Outputs = [merged],
            });
        }, operationId);
        return Document.GetLayer(LayerOf(entry));
    }

    /// <summary>Removes every hidden candidate layer (kept in the history).</summary>
    public HistoryEntry DiscardCandidates(string? operationId = null) =>
        Apply(c =>
        {
            var gone = c.Current.Layers.Where(l => l.Role == LayerRole.Candidate && l.Hidden).Select(l => l.Id).ToList();
            if (gone.Count == 0) throw new StudioInputException("there are no candidates to discard.");
            return (c.Current with { Layers = [.. c.Current.Layers.Where(l => !gone.Contains(l.Id))] }, new OperationRecord
            {
                Kind = "discard", ParametersJson = new JsonObject { ["layers"] = new JsonArray([.. gone.Select(g => (JsonNode)JsonValue.Create(g))]) }.ToJsonString(),
            });
        }, operationId);

    /// <summary>
    /// Grows (positive) or crops (negative) the canvas on each side. Growing left or up shifts every layer's offset
    /// so the picture stays where it was (for outpainting); cropping shifts the other way.
    /// </summary>
    /// <exception cref="StudioInputException">The new size is out of range.</exception>
    public HistoryEntry ResizeCanvas(int left, int top, int right, int bottom, string? operationId = null) =>
        Apply(c =>
        {
            var d = c.Current;
            long width = (long)d.Width + left + right, height = (long)d.Height + top + bottom;
            if (width < 1 || height < 1 || width > Document.MaxSide || height > Document.MaxSide)
                throw new StudioInputException($"the canvas would be {width}x{height}; the size must stay between 1 and {Document.MaxSide} per side.");
            var next = new Document((int)width, (int)height, [.. d.Layers.Select(l => l with { X = l.X + left, Y = l.Y + top })]);
            return (next, new OperationRecord
            {
                Kind = "resize-canvas",
                ParametersJson = new JsonObject { ["left"] = left, ["top"] = top, ["right"] = right, ["bottom"] = bottom, ["width"] = width, ["height"] = height }.ToJsonString(),
            });
        }, operationId);

    /// <summary>
    /// Goes back to the state before the current one (<c>redraft doc undo</c>), recording an <c>undo</c> row.
    /// Repeated calls walk back towards the document's first state; no image is deleted; <see cref="Redo"/> walks
    /// forward again until a new edit is made (the redo line stays in the history).
    /// </summary>
    /// <returns>The history row of the undo (its <see cref="HistoryEntry.StateAfter"/> is the state restored).</returns>
    /// <exception cref="StudioInputException">Already at the first state.</exception>
    public HistoryEntry Undo(string? operationId = null) =>
        Commit(operationId, c =>
        {
            long? parent = _history.Parent(c.State);
            if (parent is null)
                throw new StudioInputException("nothing to undo: the document is at its first state.");
            Document previous = _history.State(parent.Value) ?? throw new StudioInputException($"{DatabasePath}: state {parent} is missing.");
            var parameters = new JsonObject { ["from_state"] = c.State, ["to_state"] = parent.Value, ["undoes"] = _history.OperationReaching(c.State) };
            return new Change(previous, new OperationRecord { Kind = "undo", ParametersJson = parameters.ToJsonString() }, parent.Value, RedoAction.Push);
        });

    /// <summary>Returns to the state the last <see cref="Undo"/> left (<c>redraft doc redo</c>).</summary>
    /// <exception cref="StudioInputException">Nothing to redo (no undo since the last edit).</exception>
    public HistoryEntry Redo(string? operationId = null) =>
        Commit(operationId, c =>
        {
            var redo = _history.RedoStack();
            if (redo.Count == 0) throw new StudioInputException("nothing to redo: no undo since the last edit.");
            long target = redo[^1];
            Document next = _history.State(target) ?? throw new StudioInputException($"{DatabasePath}: state {target} is missing.");
            var parameters = new JsonObject { ["from_state"] = c.State, ["to_state"] = target };
            return new Change(next, new OperationRecord { Kind = "redo", ParametersJson = parameters.ToJsonString() }, target, RedoAction.Pop);
        });

    /// <summary>
    /// Accepts a candidate variation (<c>redraft doc pick</c>): the hidden candidate layer becomes a visible generated
    /// layer; the other candidates stay hidden. Recorded as a <c>pick</c> row.
    /// </summary>
    /// <exception cref="StudioInputException">No such layer, or it is not a hidden candidate.</exception>
    public Layer Pick(string layerId, string? operationId = null)
    {
        Apply(c =>
        {
            var layer = c.Current.GetLayer(layerId);
            if (!layer.Hidden || layer.Role != LayerRole.Candidate)
                throw new StudioInputException($"layer '{layerId}' is not a hidden candidate (doc generate makes candidates).");
            var parameters = new JsonObject { ["layer"] = layerId, ["image"] = layer.Image, ["name"] = layer.Name };
            return (c.Current.WithLayer(layerId, l => l with { Hidden = false, Visible = true, Role = LayerRole.Generated }),
                new OperationRecord { Kind = "pick", ParametersJson = parameters.ToJsonString() });
        }, operationId);
        return Document.GetLayer(layerId);
    }

    /// <summary>
    /// Records an operation done outside this class and makes <paramref name="newDocument"/> current, in one
    /// transaction; then rewrites <c>document.json</c>. The document must have been made from this store's current
    /// state: if another writer committed meanwhile it is refused (use <see cref="Apply"/> to edit whatever is current).
    /// Store the operation's images first (<see cref="Images"/>).
    /// </summary>
    /// <exception cref="StudioInputException">Invalid kind or parameters, a document breaking the rules, an image
    /// hash not stored, the canvas size changed, or another writer changed the document meanwhile. Nothing is changed.</exception>
    public HistoryEntry RecordOperation(OperationRecord operation, Document newDocument)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(newDocument);
        long seen = StateId;
        return Apply(c =>
        {
            if (c.State != seen)
                throw new StudioInputException(
                    $"{Folder}: the document was changed by another writer (now at state {c.State}, this one saw {seen}); open it again.");
            return (newDocument, operation);
        });
    }

    private Layer ChangeLayer(string kind, string layerId, Func<EditContext, Layer, Layer> change, JsonObject parameters, string? operationId)
    {
        parameters["layer"] = layerId;
        Apply(c =>
        {
            var layer = c.Current.GetLayer(layerId);
            var changed = change(c, layer);
            var outputs = changed.Image != layer.Image ? new[] { changed.Image } : [];
            return (c.Current.WithLayer(layerId, _ => changed), new OperationRecord
            {
                Kind = kind, ParametersJson = parameters.ToJsonString(), Inputs = changed.Image != layer.Image ? [layer.Image] : [], Outputs = outputs,
            });
        }, operationId);
        return Document.GetLayer(layerId);
    }

    private static void CheckPlacement(double scale, double opacity)
    {
        if (!double.IsFinite(scale) || scale <= 0 || scale > Document.MaxScale)
            throw new StudioInputException($"scale {scale} is out of range (0 < scale <= {Document.MaxScale}).");
        if (!double.IsFinite(opacity) || opacity < 0 || opacity > 1)
            throw new StudioInputException($"opacity {opacity} is out of range (0 to 1).");
    }

    private static void EnsureOnCanvas(int width, int height, int x, int y, Document document)
    {
        if ((long)x + width <= 0 || (long)y + height <= 0 || x >= document.Width || y >= document.Height)
            throw new StudioInputException(
                $"a {width}x{height} layer at {x},{y} lies entirely outside the {document.Width}x{document.Height} canvas.");
    }

    /// <summary>The layer an add/duplicate/merge row made (its parameters' <c>layer</c>).</summary>
    private static string LayerOf(HistoryEntry entry) =>
        (string?)JsonNode.Parse(entry.ParametersJson)?["layer"] ?? throw new InvalidOperationException($"history row {entry.Id} names no layer.");

    /// <summary>Mean of a canvas-sized mask over each layer pixel's footprint on the canvas (outside = 0).</summary>
    private static byte[] CanvasMaskToLayer(MaskImage mask, Layer layer, int w, int h, Document document)
    {
        var (sw, sh) = Compositor.ScaledSize(w, h, layer.Scale);
        var xs = Footprints(w, sw, layer.X, document.Width);
        var ys = Footprints(h, sh, layer.Y, document.Height);
        var result = new byte[w * h];
        for (int ly = 0; ly < h; ly++)
        {
            var (y0, wy) = ys[ly];
            if (wy.Length == 0) continue;
            for (int lx = 0; lx < w; lx++)
            {
                var (x0, wx) = xs[lx];
                if (wx.Length == 0) continue;
                double sum = 0;
                for (int j = 0; j < wy.Length; j++)
                {
                    int row = (y0 + j) * document.Width + x0;
                    double acc = 0;
                    for (int i = 0; i < wx.Length; i++) acc += wx[i] * mask.Pixels[row + i];
                    sum += acc * wy[j];
                }
                result[ly * w + lx] = (byte)Math.Clamp(Math.Round(sum, MidpointRounding.AwayFromZero), 0, 255);
            }
        }
        return result;
    }

    /// <summary>For each of <paramref name="n"/> layer pixels scaled to <paramref name="scaled"/>, the canvas cells
    /// it covers (first cell, fraction of the pixel's footprint in each; cells outside the canvas omitted).</summary>
    private static (int First, double[] Weights)[] Footprints(int n, int scaled, int offset, int canvas)
    {
        var result = new (int, double[])[n];
        for (int i = 0; i < n; i++)
        {
            double a = offset + (double)((long)i * scaled) / n, b = offset + (double)((long)(i + 1) * scaled) / n;
            double length = b - a;
            int first = Math.Max(0, (int)Math.Floor(a)), last = Math.Min(canvas - 1, (int)Math.Ceiling(b) - 1);
            if (first > last) { result[i] = (0, []); continue; }
            var weights = new double[last - first + 1];
            for (int c = first; c <= last; c++)
                weights[c - first] = Math.Max(0, Math.Min(c + 1, b) - Math.Max(c, a)) / length;
            result[i] = (first, weights);
        }
        return result;
    }
}
