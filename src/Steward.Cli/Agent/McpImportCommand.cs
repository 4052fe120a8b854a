using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent;
using Steward.Agent.Servers;
using Steward.Core.Config;

namespace Steward.Cli.AgentCommands;

/// <summary><c>steward mcp import --from kiro|claude|vscode|cursor [--file path]</c>: bring servers in, each with its admission decision.</summary>
internal static class McpImportCommand
{
    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment = null)
    {
        var from = new Option<string>("--from") { Description = "The host whose configuration to read.", Required = true };
        from.AcceptOnlyFromAmong([.. HostImport.Hosts]);
        var file = new Option<string?>("--file") { Description = "Read this file instead of the host's usual files." };
        var scope = McpCommand.ScopeOption("Where to import to: user (default) or workspace.");
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("import", "Import servers from Kiro, Claude Code, VS Code or Cursor; servers the policy does not admit are imported disabled, with the reason.")
        {
            from, file, scope, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var host = parse.GetValue(from)!;
            var read = HostImport.Read(host, parse.GetValue(file), env.HomeDirectory, env.WorkingDirectory);
            ImportReport report;
            if (read.Error is not null)
            {
                report = new ImportReport(read.Error, host, read.FilesRead, null, [], read.Warnings);
            }
            else
            {
                try
                {
                    report = McpCommand.Manager(env).Import(host, read.FilesRead, read.Servers, read.Warnings, McpCommand.ParseScope(parse.GetValue(scope)) ?? ConfigScope.User);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    report = new ImportReport($"nothing was imported: {e.Message}", host, read.FilesRead, null, [], read.Warnings);
                }
            }

            if (parse.GetValue(json))
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(report, AgentJsonContext.Output.ImportReport)).ConfigureAwait(false);
                return report.Succeeded ? ExitCodes.Ok : ExitCodes.Invalid;
            }

            if (!report.Succeeded)
            {
                return AgentOutput.Error(stderr, report.Error!);
            }

            console.MarkupLineInterpolated($"read {string.Join(", ", report.FilesRead)}");
            foreach (var warning in report.Warnings)
            {
                console.MarkupLineInterpolated($"  [yellow]warning[/]: {warning}");
            }

            if (report.Servers.Count == 0)
            {
                console.MarkupLine("no server found to import");
                return ExitCodes.Ok;
            }

            foreach (var server in report.Servers)
            {
                var outcome = server.Outcome switch
                {
                    "imported" => "[green]imported[/]",
                    "imported-disabled" => $"[yellow]imported disabled[/] [grey]{Markup.Escape(server.Reason ?? "")}[/]",
                    _ => "[grey]skipped[/]",
                };
                console.MarkupLine($"  {outcome} {Markup.Escape(server.Name)}: {Markup.Escape(server.Message)}");
                if (server.SecretsStored.Count > 0)
                {
                    console.MarkupLineInterpolated($"    env and header values moved to {env.Paths.SecretsFile} (0600) as {string.Join(", ", server.SecretsStored)}");
                }
            }

            console.MarkupLineInterpolated($"written to {report.File}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
