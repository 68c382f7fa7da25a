using System.CommandLine;
using Redraft.Diffusion;
using Redraft.Imaging;

namespace Redraft.Cli;

/// <summary>Parses, runs, and maps failures to exit codes: user-fixable problems are one line and exit 2, never a stack trace.</summary>
internal static class CliRunner
{
    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            string help = $"see 'redraft {string.Join(' ', CommandPath(parse))} --help'".Replace("  ", " ");
            // A mistyped command or option says what was meant, rather than "Required command was not provided".
            if (parse.UnmatchedTokens.Count > 0 && Suggest(parse.CommandResult.Command, parse.UnmatchedTokens[0]) is { } meant)
                Console.Error.WriteLine($"redraft: unknown {(parse.UnmatchedTokens[0].StartsWith('-') ? "option" : "command")} '{parse.UnmatchedTokens[0]}'; did you mean '{meant}'? ({help}).");
            else
                Console.Error.WriteLine($"redraft: {parse.Errors[0].Message} ({help}).");
            return ExitCodes.BadInput;
        }
        try
        {
            // Our own handler below maps exceptions to exit codes; the library's default prints a stack trace.
            // Ctrl+C and SIGTERM cancel the command's token; the work stops at its next check (a sampler step, a
            // commit) and the handler below reports it. Past the timeout the process ends anyway.
            // The worker handles its signals itself: a job it finishes on SIGTERM may take longer than the timeout.
            bool ownSignals = parse.CommandResult.Command.Name == Commands.WorkerCommand.Name;
            return await parse.InvokeAsync(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = ownSignals ? null : TimeSpan.FromSeconds(10),
            });
        }
        catch (Exception e) when (Unwrap(e) is RedraftInputException)
        {
            Console.Error.WriteLine($"redraft: {OneLine(Unwrap(e).Message)}");
            return ExitCodes.BadInput;
        }
        catch (Exception e) when (Unwrap(e) is Redraft.Models.ModelDownloadException)
        {
            // A download that failed past its retries or did not match its hash: nothing to change in the command.
            ConsoleProgress.RestoreCursor();
            Console.Error.WriteLine($"redraft: {OneLine(Unwrap(e).Message)}");
            return ExitCodes.InternalError;
        }
        catch (Exception e) when (Unwrap(e) is OperationCanceledException)
        {
            ConsoleProgress.RestoreCursor();
            Console.Error.WriteLine("redraft: cancelled; nothing written.");
            return ExitCodes.Cancelled;
        }
        catch (Exception e) when (IsEnvironmentFailure(Unwrap(e)))
        {
            // Disk full, a read-only or unreadable folder: no change to the command fixes it and it is not a bug, so
            // say what the system said and what to do, and exit 1 without asking for a report. Outputs are written
            // to a temporary name and renamed, documents commit in one transaction: nothing half-written remains.
            ConsoleProgress.RestoreCursor();
            Console.Error.WriteLine($"redraft: {OneLine(Unwrap(e).Message)}; nothing was saved: free some disk space or fix the folder's permissions, then run it again.");
            return ExitCodes.InternalError;
        }
        catch (Exception e)
        {
            var inner = Unwrap(e);
            Console.Error.WriteLine($"redraft: internal error: {OneLine(inner.GetType().Name + ": " + inner.Message)}");
            if (Environment.GetEnvironmentVariable("REDRAFT_DEBUG") == "1") Console.Error.WriteLine(inner);
            else Console.Error.WriteLine("redraft: set REDRAFT_DEBUG=1 for the stack trace, and report it.");
            return ExitCodes.InternalError;
        }
    }

    /// <summary>The subcommand or option of <paramref name="command"/> closest to <paramref name="typed"/>, if one is close.</summary>
    internal static string? Suggest(Command command, string typed)
    {
        var names = typed.StartsWith('-')
            ? command.Options.SelectMany(o => o.Aliases.Prepend(o.Name))
            : command.Subcommands.SelectMany(c => c.Aliases.Prepend(c.Name));
        var best = names.Distinct().Select(n => (Name: n, Distance: Distance(typed.ToLowerInvariant(), n.ToLowerInvariant())))
            .OrderBy(p => p.Distance).ThenBy(p => p.Name, StringComparer.Ordinal).FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(2, typed.Length / 3) ? best.Name : null;
    }

    /// <summary>Levenshtein distance.</summary>
    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    private static IEnumerable<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            if (r.Command is not RootCommand) names.Insert(0, r.Command.Name);
        return names;
    }

    /// <summary>
    /// What the file system refused: I/O errors and permissions, and SQLite's full, read-only, I/O, cannot-open and
    /// busy results where the studio's reads have not already turned them into an <see cref="IOException"/>.
    /// </summary>
    private static bool IsEnvironmentFailure(Exception e) =>
        e is IOException or UnauthorizedAccessException
        || e is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 5 or 8 or 10 or 13 or 14 };

    private static Exception Unwrap(Exception e)
    {
        while (e is AggregateException { InnerException: { } inner }) e = inner;
        while (e is TypeInitializationException { InnerException: { } ti }) e = ti;
        return e;
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
