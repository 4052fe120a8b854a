using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent.Gateway;

namespace Steward.Cli.AgentCommands;

/// <summary><c>steward mcp repin &lt;server&gt; [--json]</c>: clears the gateway's local tool pins of a server.</summary>
internal static class McpRepinCommand
{
    /// <summary>The <c>--json</c> answer of <c>steward mcp repin</c>: the pins cleared (server@version keys), none when there were none.</summary>
    internal sealed record RepinReport(string? Error, string Server, IReadOnlyList<string> Cleared);

    /// <summary><c>steward mcp repin &lt;server&gt; [--json]</c>: clears the gateway's local tool pins of a server (every version), so its current tools are approved at the next listing.</summary>
    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment)
    {
        var name = new Argument<string>("server") { Description = "The configured or registry name of the server whose tool pins to clear." };
        var json = MachineOutput.JsonOption("Print the pins cleared as JSON.");
        var command = new Command("repin", "Clear a server's tool-definition pins: the gateway approves and pins its tools again at the next listing.") { name, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var server = parse.GetValue(name)!;
            var asJson = parse.GetValue(json);
            System.Collections.Immutable.ImmutableArray<string> removed;
            try
            {
                removed = ToolPins.Clear(env.Paths.PinsFile, server);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                if (!asJson)
                {
                    return AgentOutput.Error(stderr, e.Message, ExitCodes.Unreadable);
                }

                await stdout.WriteLineAsync(JsonSerializer.Serialize(new RepinReport(e.Message, server, []), CliJsonContext.Output.RepinReport)).ConfigureAwait(false);
                return ExitCodes.Unreadable;
            }

            if (asJson)
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(new RepinReport(null, server, removed), CliJsonContext.Output.RepinReport)).ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            if (removed.IsEmpty)
            {
                await stdout.WriteLineAsync($"No tool pins recorded for \"{server}\".").ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            await stdout.WriteLineAsync($"Cleared the tool pins of {string.Join(", ", removed)}; the gateway pins the current tools at the next listing (restart it or wait for the next policy sync to relaunch the server).")
                .ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }
}
