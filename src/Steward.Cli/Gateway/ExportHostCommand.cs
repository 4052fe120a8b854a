using System.CommandLine;
using Spectre.Console;
using Steward.Agent.Servers;
using Steward.Cli.AgentCommands;

namespace Steward.Cli.Gateway;

/// <summary>
/// <c>steward mcp export-host --host claude|vscode|cursor|kiro|gemini [--output file] [--command steward]</c>: writes the
/// host's MCP configuration with one per-server gateway entry for each configured, enabled server the policy admits
/// (<see cref="HostExport"/>), and says what it wrote and what it left out.
/// </summary>
internal static class ExportHostCommand
{
    public static Command Create(IAnsiConsole console, TextWriter stdout, AgentEnvironment? environment = null)
    {
        var host = new Option<string>("--host") { Description = "The host whose configuration to write.", Required = true };
        host.AcceptOnlyFromAmong([.. HostExport.Hosts.Keys]);
        var output = new Option<string?>("--output")
        {
            Description = "The file to write (default: the host's workspace file: .mcp.json, .vscode/mcp.json, .cursor/mcp.json, .kiro/settings/mcp.json, .gemini/settings.json; for copilot ~/.copilot/mcp-config.json).",
        };
        var gatewayCommand = new Option<string>("--command")
        {
            Description = "The program the host starts: steward (default, found on PATH) or an absolute path; the same your administrator's gateway-mode exports name.",
            DefaultValueFactory = _ => HostExport.DefaultCommand,
        };
        var command = new Command("export-host", "Write a host's MCP configuration with one `steward gateway --server <name>` entry per approved, configured server.")
        {
            host, output, gatewayCommand,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var format = HostExport.Hosts[parse.GetValue(host)!];
            var program = parse.GetValue(gatewayCommand)!;
            if (HostExport.CommandProblem(program) is { } commandProblem)
            {
                return AgentOutput.Error(console, "--command: " + commandProblem);
            }

            var path = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine(format.InHome ? env.HomeDirectory : env.WorkingDirectory, format.DefaultPath), env.WorkingDirectory);
            var manager = McpCommand.Manager(env);
            var (report, error) = manager.Status();
            if (report is null)
            {
                return AgentOutput.Error(console, error!);
            }

            var written = HostExport.Write(manager, report, format, path, program);
            if (written.Error is { } writeError)
            {
                return AgentOutput.Error(console, writeError, written.WriteFailed ? ExitCodes.Unreadable : ExitCodes.Invalid);
            }

            var exported = written.Exported;
            await stdout.WriteLineAsync($"wrote {exported.Count} gateway entr{(exported.Count == 1 ? "y" : "ies")} for {format.Name} to {path}" +
                                        (exported.Count > 0 ? ": " + string.Join(", ", exported) : "")).ConfigureAwait(false);
            foreach (var s in written.Skipped)
            {
                await stdout.WriteLineAsync($"not exported: {s.Name} ({(s.Enabled ? s.Reason ?? s.Decision : "disabled")})").ConfigureAwait(false);
            }

            if (exported.Count > 0 && !Path.IsPathRooted(program) && HostExport.ResolveOnPath(program, env.Variables) is null)
            {
                await stdout.WriteLineAsync($"note: \"{program}\" is not on PATH here, so the host cannot start the gateway; put steward on PATH (docs/exports.md) or give --command <absolute path>").ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
