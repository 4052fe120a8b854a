using Spectre.Console;
using Steward.Agent;

namespace Steward.Cli.AgentCommands;

// The namespace is AgentCommands, not Agent: inside Steward.Cli, "Agent." must keep meaning Steward.Agent.

/// <summary>
/// What the agent commands read from the machine: the configuration paths, the current and home directories, the
/// environment, whether someone is at a terminal, and the clock. Tests give their own; <c>steward</c> uses the process's.
/// </summary>
/// <param name="Interactive">Someone is at a terminal: standard input and output are not redirected.</param>
/// <param name="ErrorIsTerminal">Standard error is a terminal (not redirected), whatever standard output is.</param>
internal sealed record AgentEnvironment(
    StewardPaths Paths,
    string WorkingDirectory,
    string HomeDirectory,
    Func<string, string?> Variables,
    bool Interactive,
    TimeProvider Time,
    bool ErrorIsTerminal = false)
{
    public static AgentEnvironment FromProcess(IAnsiConsole console) => new(
        StewardPaths.FromEnvironment(),
        Environment.CurrentDirectory,
        Environment.GetFolderPath(Environment.SpecialFolder.UserProfile),
        Environment.GetEnvironmentVariable,
        !Console.IsInputRedirected && !Console.IsOutputRedirected && console.Profile.Capabilities.Interactive,
        TimeProvider.System,
        !Console.IsErrorRedirected);
}

/// <summary>Output helpers shared by the agent commands: one-line errors, and <c>KEY=VALUE</c> flags.</summary>
internal static class AgentOutput
{
    /// <summary>
    /// Writes <c>error: message</c> as one line on standard error (<paramref name="stderr"/>), leaving standard output to
    /// the command's result; returns <paramref name="exitCode"/>.
    /// </summary>
    public static int Error(TextWriter stderr, string message, int exitCode = ExitCodes.Invalid)
    {
        ArgumentNullException.ThrowIfNull(stderr);
        stderr.WriteLine("error: " + message);
        return exitCode;
    }

    /// <summary>Parses repeated <c>KEY=VALUE</c> flags; the first malformed one is named in <paramref name="error"/>.</summary>
    public static List<KeyValuePair<string, string>> Pairs(string flag, IEnumerable<string>? values, out string? error)
    {
        error = null;
        var result = new List<KeyValuePair<string, string>>();
        foreach (var value in values ?? [])
        {
            var at = value.IndexOf('=', StringComparison.Ordinal);
            if (at <= 0)
            {
                error = $"{flag} {Shown(flag, value)}: expected KEY=VALUE";
                return result;
            }

            result.Add(new(value[..at], value[(at + 1)..]));
        }

        return result;
    }

    /// <summary>A flag's value as it may appear in a message: never the value of an input (it may be a secret).</summary>
    private static string Shown(string flag, string value) => flag is "--input" or "--header" or "--env" ? "(without \"=\")" : value;
}
