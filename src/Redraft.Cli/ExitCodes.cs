namespace Redraft.Cli;

/// <summary>The command's exit codes, a contract for scripts.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    /// <summary>A bug or an environment failure; the message says so.</summary>
    public const int InternalError = 1;
    /// <summary>Bad input the user can fix; one line on stderr names it.</summary>
    public const int BadInput = 2;
    /// <summary>Cancelled with Ctrl+C (128 + SIGINT, the shell convention).</summary>
    public const int Cancelled = 130;
}
