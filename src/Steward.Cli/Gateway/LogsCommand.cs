using System.CommandLine;
using System.Text.Json;
using Steward.Agent;
using Steward.Agent.Files;

namespace Steward.Cli.Gateway;

/// <summary>
/// <c>steward logs [--follow] [--lines N] [--json]</c>: the last lines of Steward's log file (the gateway's and the
/// agent's), and what is appended after; with <c>--json</c>, one JSON object per line (<see cref="LogEntry"/>).
/// </summary>
internal static class LogsCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr, Func<StewardPaths>? paths = null)
    {
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing lines as they are appended, until Ctrl-C." };
        var lines = new Option<int>("--lines", "-n") { Description = "How many of the last lines to print first.", DefaultValueFactory = _ => 50 };
        lines.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 and var given)
            {
                result.AddError($"--lines {given}: give 0 or more lines, such as --lines 200 (0 with --follow prints only what is appended)");
            }
        });
        var json = MachineOutput.JsonOption("Print each line as a JSON object on a line of its own (time, level, category, eventId, message).");
        var command = new Command("logs", "Print Steward's log file (gateway and agent events; never argument, header or secret values).") { follow, lines, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = (paths ?? StewardPaths.FromEnvironment)().LogFile;
            return await RunAsync(file, parse.GetValue(lines), parse.GetValue(follow), stdout, stderr, cancellationToken, parse.GetValue(json)).ConfigureAwait(false);
        });
        return command;
    }

    internal static async Task<int> RunAsync(string file, int count, bool follow, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken, bool json = false)
    {
        var output = new Output(stdout, json);
        if (!await LogTail.ReadAsync(file, count, follow, output.WriteAsync, cancellationToken).ConfigureAwait(false))
        {
            await stderr.WriteLineAsync($"steward logs: {file} does not exist yet (steward gateway writes it)").ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        await output.EndAsync().ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    /// <summary>Text goes out as read; JSON one object per whole line (<see cref="LogLines"/>).</summary>
    internal sealed class Output(TextWriter stdout, bool json)
    {
        private readonly LogLines lines = new();

        public async Task WriteAsync(string text)
        {
            if (!json)
            {
                await stdout.WriteAsync(text).ConfigureAwait(false);
                await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                return;
            }

            await LinesAsync(lines.Add(text)).ConfigureAwait(false);
        }

        public async Task EndAsync()
        {
            if (json)
            {
                await LinesAsync(lines.End()).ConfigureAwait(false);
            }
        }

        private async Task LinesAsync(IReadOnlyList<string> whole)
        {
            if (whole.Count == 0)
            {
                return;
            }

            foreach (var line in whole)
            {
                var entry = LogEntry.Parse(line.TrimEnd('\r'));
                await stdout.WriteLineAsync(JsonSerializer.Serialize(entry, CliJsonContext.Lines.LogEntry)).ConfigureAwait(false);
            }

            await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }
}
