namespace Redraft;

/// <summary>
/// A problem the user can fix (a bad file, an out-of-range option, a missing vocabulary, a document that no longer
/// has the layer asked for). The message is one line that says what is wrong and what to do; front ends show it as
/// is: the command line exits with code 2, the server answers 4xx. Every project's own user-error type derives from
/// this one, so a host needs one catch.
/// </summary>
public class RedraftInputException : Exception
{
    /// <summary>A one-line message naming the problem and the fix.</summary>
    public RedraftInputException(string message) : base(message) { }

    /// <summary>A one-line message and the exception that revealed the problem.</summary>
    public RedraftInputException(string message, Exception inner) : base(message, inner) { }
}
