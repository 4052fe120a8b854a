using Spectre.Console;

namespace Steward.Cli;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        try
        {
            // Inside a server's sandbox, before anything else is built: it must start fast and leave stdin and stdout to the server.
            if (args is [Agent.Sandbox.SandboxBridge.CommandName, ..])
            {
                return await SandboxBridgeCommand.RunAsync(args[1..], Console.Error).ConfigureAwait(false);
            }

            return await Cli.RunAsync(args, CreateConsole(), Console.Out, Console.Error, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A fault of Steward's own, not of the input: one line, never a stack trace; STEWARD_DEBUG=1 shows it.
            await Console.Error.WriteLineAsync($"steward: internal error: {e.GetType().Name}: {e.Message} (run again with STEWARD_DEBUG=1 for details, and report it)").ConfigureAwait(false);
            if (Environment.GetEnvironmentVariable("STEWARD_DEBUG") == "1")
            {
                await Console.Error.WriteLineAsync(e.ToString()).ConfigureAwait(false);
            }

            return ExitCodes.Internal;
        }
    }

    /// <summary>
    /// The console for people: colour only on a terminal (and never with NO_COLOR), and no wrapping when the
    /// output goes to a file or a pipe, so that a problem stays on one line for grep.
    /// </summary>
    private static IAnsiConsole CreateConsole()
    {
        var redirected = Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = redirected || Environment.GetEnvironmentVariable("NO_COLOR") is { Length: > 0 } ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        if (redirected)
        {
            console.Profile.Width = 4096;
        }

        return console;
    }
}
