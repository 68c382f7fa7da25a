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
            Console.Error.WriteLine($"redraft: {parse.Errors[0].Message} (see 'redraft {string.Join(' ', CommandPath(parse))} --help').");
            return ExitCodes.BadInput;
        }
        try
        {
            // Our own handler below maps exceptions to exit codes; the library's default prints a stack trace.
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (Unwrap(e) is RedraftInputException)
        {
            Console.Error.WriteLine($"redraft: {OneLine(Unwrap(e).Message)}");
            return ExitCodes.BadInput;
        }
        catch (Exception e) when (Unwrap(e) is OperationCanceledException)
        {
            Console.Error.WriteLine("redraft: cancelled; no output written.");
            return ExitCodes.Cancelled;
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

    private static IEnumerable<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            if (r.Command is not RootCommand) names.Insert(0, r.Command.Name);
        return names;
    }

    private static Exception Unwrap(Exception e)
    {
        while (e is AggregateException { InnerException: { } inner }) e = inner;
        while (e is TypeInitializationException { InnerException: { } ti }) e = ti;
        return e;
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
