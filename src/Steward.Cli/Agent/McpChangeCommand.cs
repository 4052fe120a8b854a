using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent;
using Steward.Agent.Servers;

namespace Steward.Cli.AgentCommands;

/// <summary><c>steward mcp remove|enable|disable &lt;name&gt; [--scope user|workspace] [--json]</c>: one change to a configured server.</summary>
internal static class McpChangeCommand
{
    public static Command CreateRemove(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment)
    {
        var name = new Argument<string>("name") { Description = "The configured server to remove." };
        var scope = McpCommand.ScopeOption("Remove it from this file (default: the file that defines it, workspace first).");
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("remove", "Remove a configured server (and the secrets Steward stored for it).") { name, scope, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var result = McpCommand.Manager(env).Remove(parse.GetValue(name)!, McpCommand.ParseScope(parse.GetValue(scope)));
            return await RenderChangeAsync(console, stdout, stderr, result, parse.GetValue(json)).ConfigureAwait(false);
        });
        return command;
    }

    public static Command CreateEnable(string verb, bool enabled, IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment)
    {
        var name = new Argument<string>("name") { Description = $"The configured server to {verb}." };
        var scope = McpCommand.ScopeOption("Change it in this file (default: the file that defines it, workspace first).");
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var description = enabled
            ? "Enable a configured server; refused, with the reason, when the policy does not admit it."
            : "Disable a configured server: the gateway does not start it.";
        var command = new Command(verb, description) { name, scope, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var result = McpCommand.Manager(env).SetEnabled(parse.GetValue(name)!, enabled, McpCommand.ParseScope(parse.GetValue(scope)));
            return await RenderChangeAsync(console, stdout, stderr, result, parse.GetValue(json)).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RenderChangeAsync(IAnsiConsole console, TextWriter stdout, TextWriter stderr, ChangeResult result, bool json)
    {
        if (json)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(result, AgentJsonContext.Output.ChangeResult)).ConfigureAwait(false);
            return result.Succeeded ? ExitCodes.Ok : ExitCodes.Invalid;
        }

        if (!result.Succeeded)
        {
            return AgentOutput.Error(stderr, result.Error!);
        }

        console.MarkupLineInterpolated($"{result.Message}");
        if (result.Status is { } status)
        {
            console.MarkupLine($"  {McpCommand.Decision(status)}: {Markup.Escape(status.Message)}");
        }

        return ExitCodes.Ok;
    }
}
