using Redraft.Imaging;

namespace Redraft.Studio.Generation;

/// <summary>
/// A recorded generate or harmonize step planned to run again: the exact generation request
/// (<see cref="Settings"/> and <see cref="Inputs"/>, from the recorded input image and parameters) and what the
/// comparison needs. Made by <see cref="DocumentGenerator.PlanRerun"/>; the generation's output goes to
/// <see cref="DocumentGenerator.Compare"/>. Nothing is recorded.
/// </summary>
public sealed class DocumentRerunPlan
{
    internal DocumentRerunPlan(long stepId, RecordedStep step, RgbImage composite, GenerationSettings settings, GenerationInputs inputs,
        IReadOnlyList<string> recorded, string? recordedModelHash)
    {
        StepId = stepId;
        Step = step;
        Composite = composite;
        Settings = settings;
        Inputs = inputs;
        Recorded = recorded;
        RecordedModelHash = recordedModelHash;
    }

    /// <summary>The history step it reruns.</summary>
    public long StepId { get; }

    /// <summary>The settings the generation runs with (as recorded, with the overrides).</summary>
    public GenerationSettings Settings { get; }

    /// <summary>The recorded input (or its crop at the working size) and mask.</summary>
    public GenerationInputs Inputs { get; }

    /// <summary>The SHA-256 of each recorded output PNG, in order.</summary>
    public IReadOnlyList<string> Recorded { get; }

    /// <summary>The model hash recorded with the step.</summary>
    public string? RecordedModelHash { get; }

    internal RecordedStep Step { get; }

    internal RgbImage Composite { get; }
}
