namespace Redraft.Server.Jobs;

/// <summary>
/// A job failed on every worker that took it and was dead-lettered: its message says the last worker's error, so
/// the client reads why (a checkpoint that does not load, a missing LoRA) in one line.
/// </summary>
public sealed class WorkerFailureException(string message) : RedraftInputException(message);
