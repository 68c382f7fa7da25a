namespace Redraft.Diffusion.Pipelines;

/// <summary>
/// A request whose estimated peak memory (<see cref="MemoryEstimate"/>) exceeds what the process can count on
/// (<see cref="AvailableMemory"/>), refused before anything loads. The message names a size that fits.
/// </summary>
public sealed class NotEnoughMemoryException : RedraftInputException
{
    /// <summary>Creates the exception with its one-line message and the figures behind it.</summary>
    public NotEnoughMemoryException(string message, long neededBytes, long availableBytes, (int Width, int Height)? fitting) : base(message)
    {
        NeededBytes = neededBytes;
        AvailableBytes = availableBytes;
        Fitting = fitting;
    }

    /// <summary>The estimated peak of the request (with the decode tiled, when tiling was allowed).</summary>
    public long NeededBytes { get; }

    /// <summary>What the process could count on.</summary>
    public long AvailableBytes { get; }

    /// <summary>The largest size of the request's shape that fits (multiples of 64), or null when none does.</summary>
    public (int Width, int Height)? Fitting { get; }
}
