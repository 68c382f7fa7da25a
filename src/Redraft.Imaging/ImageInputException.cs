namespace Redraft.Imaging;

/// <summary>
/// A problem with an image the user supplied (not an image, wrong size, unreadable).
/// One-line message; the command line maps it to exit code 2.
/// </summary>
public class ImageInputException : RedraftInputException
{
    public ImageInputException(string message) : base(message) { }
    public ImageInputException(string message, Exception inner) : base(message, inner) { }
}
