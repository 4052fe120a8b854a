using Spectre.Console;

namespace Steward.Cli;

public static class Program
{
    public static Task<int> Main(string[] args) => Cli.RunAsync(args, CreateConsole(), Console.Out, CancellationToken.None);

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
