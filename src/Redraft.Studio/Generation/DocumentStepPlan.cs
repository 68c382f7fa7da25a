using Redraft.Imaging;

namespace Redraft.Studio.Generation;

/// <summary>
/// A generate or harmonize step of a document, planned and not yet run: the exact request the generation runs
/// (<see cref="Settings"/> and <see cref="Inputs"/>, for <see cref="GenerationService"/> or a job queue) and what its
/// commit needs (the step to record, the composite it read, where the new layers go). Made by
/// <see cref="DocumentGenerator.PlanGenerateAsync"/> or <see cref="DocumentGenerator.PlanHarmonize"/>, committed by
/// <see cref="DocumentGenerator.Commit"/>: the generation can then run anywhere (a server's queue, a worker) while the
/// document is changed only once, by the commit.
/// </summary>
public sealed class DocumentStepPlan
{
    internal DocumentStepPlan(RecordedStep step, RgbImage composite, GenerationSettings settings, GenerationInputs inputs,
        Func<Document, IReadOnlyList<Layer>, Document> place, bool candidates)
    {
        Area = DocumentGenerator.GeneratedArea(step, settings, inputs);
        Step = step;
        Composite = composite;
        Settings = settings;
        Inputs = inputs;
        Place = place;
        Candidates = candidates;
    }

    /// <summary><c>generate</c> or <c>harmonize</c>.</summary>
    public string Kind => Step.Kind;

    /// <summary>The settings the generation runs with (working size, variations, inpaint area set).</summary>
    public GenerationSettings Settings { get; }

    /// <summary>The image (the composite, or its crop at the working size) and mask the generation reads.</summary>
    public GenerationInputs Inputs { get; }

    /// <summary>The part of the canvas the step may change.</summary>
    public Region Region => Step.Region;

    /// <summary>
    /// The canvas rectangle the generation itself covers, so each of its images (and each live preview) maps onto it:
    /// the region (the whole canvas when none) for a whole-picture run, or, for a masked run, the engine's crop box
    /// around the blurred mask (plus padding, grown to the working aspect) in canvas pixels.
    /// </summary>
    public Region Area { get; }

    internal RecordedStep Step { get; }

    internal RgbImage Composite { get; }

    /// <summary>Places the new layers on the document as it is at commit time.</summary>
    internal Func<Document, IReadOnlyList<Layer>, Document> Place { get; }

    /// <summary>Whether the new layers are hidden candidates (generate) or a new visible base (harmonize).</summary>
    internal bool Candidates { get; }
}
