namespace Redraft.Broker.Messages;

/// <summary>
/// A model file named by content, so a worker finds its own copy wherever it lives: the SHA-256 decides, the name is
/// for messages and logs.
/// </summary>
/// <param name="Name">The file name on the server.</param>
/// <param name="Sha256">The file's SHA-256, lower-case hex.</param>
public sealed record ModelReference(string Name, string Sha256);

/// <summary>A LoRA of a job: the file by content, and its weight.</summary>
public sealed record LoraReference(string Name, string Sha256, double Weight);
