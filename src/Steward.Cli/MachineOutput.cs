using System.CommandLine;

namespace Steward.Cli;

/// <summary>
/// The one spelling of machine output (docs/cli.md): <c>--json</c> on every command that prints a result. Where a
/// command also has <c>--format</c> (text, json, and for <c>scan</c> sarif), <c>--json</c> is <c>--format json</c>, and
/// the two may not ask for different things.
/// </summary>
internal static class MachineOutput
{
    public static Option<bool> JsonOption(string description = "Print the result as JSON.") => new("--json") { Description = description };

    /// <summary>Refuses <c>--json</c> with a <c>--format</c> other than json, as a usage error (exit 2) naming both.</summary>
    public static void JsonIsFormatJson(Command command, Option<bool> json, Option<string> format)
    {
        command.Validators.Add(result =>
        {
            if (result.GetValue(json) && result.GetResult(format) is { Implicit: false } given && given.GetValueOrDefault<string>() is { } value && value != "json")
            {
                result.AddError($"--json and --format {value} ask for different output: give one of them (--json is the same as --format json)");
            }
        });
    }

    /// <summary>The output chosen: json with <c>--json</c>, else <c>--format</c>'s value.</summary>
    public static string Format(ParseResult parse, Option<bool> json, Option<string> format) =>
        parse.GetValue(json) ? "json" : parse.GetValue(format)!;
}
