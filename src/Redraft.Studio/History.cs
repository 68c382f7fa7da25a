namespace Redraft.Studio;

/// <summary>
/// What an operation did, for <see cref="DocumentStore.RecordOperation"/>. <see cref="ParametersJson"/> must be a
/// JSON object holding everything needed to re-run the operation exactly; the other fields are copied out of it
/// into their own columns so the history table can show them.
/// </summary>
public sealed record OperationRecord
{
    /// <summary>Operation kind: <c>new</c>, <c>add-layer</c>, <c>erase</c>, <c>undo</c>, <c>generate</c>, <c>pick</c>, <c>harmonize</c>, …
    /// (lowercase letters, digits and '-').</summary>
    public required string Kind { get; init; }

    /// <summary>Full parameters as a JSON object.</summary>
    public string ParametersJson { get; init; } = "{}";

    /// <summary>Prompt, for generation operations.</summary>
    public string? Prompt { get; init; }

    /// <summary>Seed actually used (after resolving −1).</summary>
    public long? Seed { get; init; }

    /// <summary>Denoising strength.</summary>
    public double? Strength { get; init; }

    /// <summary>Sampler name.</summary>
    public string? Sampler { get; init; }

    /// <summary>Model hash (as in the PNG infotext).</summary>
    public string? ModelHash { get; init; }

    /// <summary>Wall time the operation took.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>Hashes of the stored images (and masks) the operation read.</summary>
    public IReadOnlyList<string> Inputs { get; init; } = [];

    /// <summary>Hashes of the stored images (and masks) the operation produced.</summary>
    public IReadOnlyList<string> Outputs { get; init; } = [];
}

/// <summary>One row of a document's history (one operation).</summary>
/// <param name="Id">Step number, 1 for the document's creation, increasing.</param>
/// <param name="Time">When the operation was recorded (UTC).</param>
/// <param name="Kind">Operation kind (see <see cref="OperationRecord.Kind"/>).</param>
/// <param name="Prompt">Prompt, if any.</param>
/// <param name="Seed">Seed, if any.</param>
/// <param name="Strength">Strength, if any.</param>
/// <param name="Sampler">Sampler, if any.</param>
/// <param name="ModelHash">Model hash, if any.</param>
/// <param name="Duration">How long it took.</param>
/// <param name="ParametersJson">Full parameters (a JSON object).</param>
/// <param name="Inputs">Image hashes read.</param>
/// <param name="Outputs">Image hashes written.</param>
/// <param name="StateBefore">The document state it started from (null for <c>new</c>).</param>
/// <param name="StateAfter">The document state it produced (for <c>undo</c>, the earlier state it went back to).</param>
public sealed record HistoryEntry(
    long Id,
    DateTimeOffset Time,
    string Kind,
    string? Prompt,
    long? Seed,
    double? Strength,
    string? Sampler,
    string? ModelHash,
    TimeSpan Duration,
    string ParametersJson,
    IReadOnlyList<string> Inputs,
    IReadOnlyList<string> Outputs,
    long? StateBefore,
    long StateAfter);

/// <summary>Where an erase mask's pixels are: canvas pixels, or the layer image's own pixels.</summary>
public enum MaskSpace
{
    /// <summary>The mask is the canvas's size; it is mapped onto the layer through the layer's offset and scale.</summary>
    Canvas,

    /// <summary>The mask is the layer image's size and applies pixel for pixel.</summary>
    Layer,
}

/// <summary>Placement and look of a layer being added (see <see cref="Layer"/>).</summary>
public sealed record LayerOptions
{
    /// <summary>Canvas column of the left edge.</summary>
    public int X { get; init; }

    /// <summary>Canvas row of the top edge.</summary>
    public int Y { get; init; }

    /// <summary>Scale factor.</summary>
    public double Scale { get; init; } = 1;

    /// <summary>Opacity in [0, 1].</summary>
    public double Opacity { get; init; } = 1;

    /// <summary>Layer name; defaults to the file name or the operation.</summary>
    public string? Name { get; init; }

    /// <summary>Whether the layer starts visible.</summary>
    public bool Visible { get; init; } = true;
}
