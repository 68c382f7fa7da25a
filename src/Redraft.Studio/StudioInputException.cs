namespace Redraft.Studio;

/// <summary>
/// A problem with a studio document or with what the user asked of it: a corrupt <c>document.json</c>,
/// a layer whose image is missing, a database written by a newer Redraft, an unknown layer, a mask of the
/// wrong size, a region outside the canvas. The message is one line and names the file or value; the
/// document on disk is unchanged when it is thrown.
/// </summary>
public class StudioInputException : RedraftInputException
{
    public StudioInputException(string message) : base(message) { }
    public StudioInputException(string message, Exception inner) : base(message, inner) { }
}
