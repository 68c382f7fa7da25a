namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// A checkpoint file is missing, malformed or lacks something the caller asked for.
/// The message is one line naming the file, the tensor when relevant, the problem and what to do.
/// </summary>
public sealed class CheckpointFormatException : RedraftInputException
{
    /// <summary>Creates the exception with a one-line message.</summary>
    public CheckpointFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with a one-line message and the underlying cause.</summary>
    public CheckpointFormatException(string message, Exception inner) : base(message, inner) { }
}
