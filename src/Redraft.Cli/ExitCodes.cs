namespace Redraft.Cli;

/// <summary>The command's exit codes, a contract for scripts.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    /// <summary>
    /// What changing the command cannot fix: the file system refused (disk full, read-only: the message says what
    /// happened), a bug ("internal error", with a request to report it), or a documented result such as
    /// <c>doc rerun</c>'s "differs".
    /// </summary>
    public const int InternalError = 1;
    /// <summary>Bad input the user can fix; one line on stderr names it.</summary>
    public const int BadInput = 2;
    /// <summary>Cancelled with Ctrl+C (128 + SIGINT, the shell convention).</summary>
    public const int Cancelled = 130;
}
