namespace Redraft.Diffusion.Pipelines;

/// <summary>
/// Stops a running generation without cancelling it (cancelling, through the <see cref="CancellationToken"/>,
/// discards everything). AUTOMATIC1111's semantics: <see cref="Interrupt"/> ends sampling after the step that is
/// running and decodes the model's estimate at that step (the result says how many steps ran); <see cref="Skip"/>
/// ends the current sampling run (one iteration of a batch) and goes on with the next. Thread-safe; one instance
/// per job.
/// </summary>
public sealed class GenerationControl
{
    private int interrupted;
    private int skipRequested;

    /// <summary>Stop after the running step and decode what exists; later iterations of the job do not start.</summary>
    public void Interrupt() => Volatile.Write(ref interrupted, 1);

    /// <summary>End the running iteration without a result and continue with the next one.</summary>
    public void Skip() => Volatile.Write(ref skipRequested, 1);

    /// <summary>True once <see cref="Interrupt"/> was called.</summary>
    public bool IsInterrupted => Volatile.Read(ref interrupted) == 1;

    /// <summary>True while a skip is requested and not yet taken by a sampling run.</summary>
    public bool IsSkipRequested => Volatile.Read(ref skipRequested) == 1;

    /// <summary>Takes a pending skip request (so it ends one iteration only).</summary>
    internal bool TakeSkip() => Interlocked.Exchange(ref skipRequested, 0) == 1;
}

/// <summary>How a sampling run ended.</summary>
public enum StopReason
{
    /// <summary>All steps ran.</summary>
    Completed,
    /// <summary><see cref="GenerationControl.Interrupt"/>: fewer steps ran; the images are decoded from the last estimate.</summary>
    Interrupted,
    /// <summary><see cref="GenerationControl.Skip"/>: the run ended without images.</summary>
    Skipped,
}
