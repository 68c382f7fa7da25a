using Redraft.Imaging;

namespace Redraft.Studio.Generation;

/// <summary>One image a generate or harmonize step made, and the layer it became.</summary>
/// <param name="LayerId">The new layer (a hidden candidate for generate, the new visible base for harmonize).</param>
/// <param name="Seed">The seed that made it.</param>
/// <param name="Image">Its pixels at the region's size.</param>
/// <param name="ImageHash">Its content address in the document's <c>images/</c> folder.</param>
public sealed record StepImage(string LayerId, long Seed, RgbImage Image, string ImageHash);

/// <summary>What a generate or harmonize step did: the history row it wrote and the images it made.</summary>
/// <param name="Entry">The history row (its id is the step for <see cref="DocumentGenerator.RerunAsync"/>).</param>
/// <param name="Images">One per variation, in seed order.</param>
/// <param name="ModelHash">The model's short hash (AutoV2).</param>
public sealed record StepResult(HistoryEntry Entry, IReadOnlyList<StepImage> Images, string ModelHash)
{
    /// <summary>The resolved settings the step ran with (and recorded).</summary>
    public GenerationSettings? Settings { get; init; }

    /// <summary>
    /// True when the operation id had already been committed: <see cref="Entry"/> is that first record, nothing new was
    /// recorded, and <see cref="Images"/> is empty.
    /// </summary>
    public bool Replayed { get; init; }
}

/// <summary>One output of a re-run compared with the recording.</summary>
/// <param name="Seed">The seed it ran with.</param>
/// <param name="Hash">SHA-256 of the new PNG bytes.</param>
/// <param name="RecordedHash">SHA-256 recorded for this output (null if the recording had fewer).</param>
public sealed record RerunOutput(long Seed, string Hash, string? RecordedHash)
{
    /// <summary>True when the bytes are the same as recorded.</summary>
    public bool Identical => Hash == RecordedHash;
}

/// <summary>The outcome of re-running a recorded step.</summary>
/// <param name="StepId">The history row re-run.</param>
/// <param name="Outputs">Each output compared with the recording.</param>
/// <param name="ModelHash">Hash of the model the re-run loaded.</param>
/// <param name="RecordedModelHash">Hash of the model recorded with the step.</param>
/// <param name="RecordedCount">How many outputs the step recorded.</param>
public sealed record RerunReport(long StepId, IReadOnlyList<RerunOutput> Outputs, string ModelHash, string? RecordedModelHash, int RecordedCount)
{
    /// <summary>True when every output is byte-identical to the recording and none is missing.</summary>
    public bool Identical => Outputs.Count == RecordedCount && Outputs.All(o => o.Identical);
}
