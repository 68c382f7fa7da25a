namespace Redraft.Diffusion;

/// <summary>
/// A problem the user can fix (a bad file, an out-of-range option, a missing vocabulary).
/// The message is one line that says what is wrong and what to do; front ends show it as is
/// (the command line exits with code 2) instead of a stack trace.
/// </summary>
public class RedraftInputException : Exception
{
    public RedraftInputException(string message) : base(message) { }
    public RedraftInputException(string message, Exception inner) : base(message, inner) { }
}
