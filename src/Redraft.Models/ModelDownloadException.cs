namespace Redraft.Models;

/// <summary>
/// A download that failed for a reason no option fixes: the bytes did not match their SHA-256 (the file was removed),
/// or the server kept failing after the retries. One line; the command line exits with 1.
/// </summary>
public sealed class ModelDownloadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A download the user can unblock: not found (404), no access (401/403: the message names the repository and how to
/// set the token), offline, or not enough free disk space. One line; the command line exits with 2.
/// </summary>
public sealed class ModelAccessException(string message) : RedraftInputException(message);
