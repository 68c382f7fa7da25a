namespace Redraft.Cli.Tests.Hostile;

/// <summary>What a hostile case may end in.</summary>
public enum Outcome
{
    /// <summary>Must be refused: exit 2, one line.</summary>
    Refused,
    /// <summary>Valid input: exit 0.</summary>
    Accepted,
    /// <summary>Either (a random byte flip may land where it does no harm), but never anything else.</summary>
    Either,
}

/// <summary>
/// One hostile input: a family (checkpoint, LoRA, VAE, TAESD, image, parameters, document), a name, and how to make
/// its files in its own folder and the <c>redraft</c> arguments that use them.
/// </summary>
/// <param name="Family">The kind of input attacked.</param>
/// <param name="Name">What was done to it.</param>
/// <param name="Expected">What the run may end in.</param>
/// <param name="Prepare">Writes the case's files into the folder it is given and returns the arguments.</param>
/// <param name="Watched">A folder (relative to the case's) that a refusal must leave byte for byte as it was (a document).</param>
public sealed record HostileCase(string Family, string Name, Outcome Expected, Func<string, string[]> Prepare, string? Watched = null)
{
    public override string ToString() => $"{Family}/{Name}";
}
