using System.Security.Cryptography;

namespace Redraft.Server.Jobs;

/// <summary>
/// Job ids as A1111 makes them (<c>task(txt2img-AB12CD3)</c>: kind and seven capitals or digits), so its web UI and
/// clients that poll <c>/internal/progress</c> see the ids they expect; a client's own id (<c>force_task_id</c>) is
/// taken as it is, within limits that keep it printable.
/// </summary>
public static class TaskIds
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    /// <summary>Longest id a client may choose.</summary>
    public const int MaxLength = 200;

    /// <summary>A new id for a job of <paramref name="kind"/>.</summary>
    public static string New(string kind) => $"task({kind}-{RandomNumberGenerator.GetString(Alphabet, 7)})";

    /// <summary>Why <paramref name="id"/> cannot be a client's task id, or null when it can.</summary>
    public static string? Problem(string id) =>
        id.Length == 0 ? "is empty"
        : id.Length > MaxLength ? $"is longer than {MaxLength} characters"
        : id.Any(char.IsControl) ? "contains control characters"
        : null;
}
