using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent;

namespace Steward.Cli.AgentCommands;

/// <summary><c>steward mcp list [--json]</c> and <c>steward mcp status [name] [--json]</c>: each configured server's admission decision, in a table or in detail.</summary>
internal static class McpListCommand
{
    public static Command Create(string name, string description, IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment, bool detailed)
    {
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var server = new Argument<string?>("name") { Description = "Only this server.", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command(name, description) { json };
        if (detailed)
        {
            command.Arguments.Add(server);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var (report, error) = McpCommand.Manager(env).Status();
            if (report is null)
            {
                return AgentOutput.Error(stderr, error!);
            }

            if (detailed && parse.GetValue(server) is { } only)
            {
                if (!report.Servers.Any(s => s.Name == only))
                {
                    return AgentOutput.Error(stderr, $"\"{only}\" is not configured; configured: {(report.Servers.Count == 0 ? "none" : string.Join(", ", report.Servers.Select(s => s.Name)))}");
                }

                report = report with { Servers = [.. report.Servers.Where(s => s.Name == only)] };
            }

            if (parse.GetValue(json))
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(report, AgentJsonContext.Output.StatusReport)).ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            McpCommand.RenderPolicy(console, report.Policy, detailed);
            if (report.Servers.Count == 0)
            {
                console.MarkupLine("no MCP server is configured; add an approved one with `steward mcp add`");
                return ExitCodes.Ok;
            }

            if (detailed)
            {
                foreach (var s in report.Servers)
                {
                    console.MarkupLineInterpolated($"[bold]{s.Name}[/] ({s.Kind}, {s.Scope}: {s.File})");
                    console.MarkupLine($"  {McpCommand.Decision(s)}: {Markup.Escape(s.Message)}");
                    if (s.Alias is { } alias)
                    {
                        console.MarkupLine($"  alias: {Markup.Escape(alias)} (its tools are {Markup.Escape(alias)}__<tool> through `steward gateway`)");
                    }
                    if (s.Sandbox is { } sandbox)
                    {
                        console.MarkupLine($"  sandbox: {Markup.Escape(sandbox)}");
                    }
                }

                return ExitCodes.Ok;
            }

            var table = new Table().Border(TableBorder.Simple).AddColumns("name", "alias", "scope", "kind", "decision", "why");
            foreach (var s in report.Servers)
            {
                table.AddRow(Markup.Escape(s.Name), Markup.Escape(s.Alias ?? "-"), s.Scope, s.Kind, McpCommand.Decision(s), Markup.Escape(s.Message));
            }

            console.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }
}
