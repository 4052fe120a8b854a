using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent.Servers;
using Steward.Cli.AgentCommands;

namespace Steward.Cli.Gateway;

/// <summary>
/// <c>steward mcp export-host --host claude|vscode|cursor|kiro|gemini [--output file] [--command steward] [--json]</c>: writes the
/// host's MCP configuration with one per-server gateway entry for each configured, enabled server the policy admits
/// (<see cref="HostExport"/>), and says what it wrote and what it left out.
/// </summary>
internal static class ExportHostCommand
{
    /// <summary>The <c>--json</c> answer: what was written where, each server left out with its decision, and the notes.</summary>
    /// <param name="Error">Why nothing was written; null when the file was written.</param>
    internal sealed record Report(string? Error, string Host, string? File, string Command, IReadOnlyList<string> Exported, IReadOnlyList<ServerStatus> Skipped, IReadOnlyList<string> Notes);

    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment = null)
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
        var json = MachineOutput.JsonOption("Print what was written and left out as JSON.");
        var command = new Command("export-host", "Write a host's MCP configuration with one `steward gateway --server <name>` entry per approved, configured server.")
        {
            host, output, gatewayCommand, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var hostName = parse.GetValue(host)!;
            var format = HostExport.Hosts[hostName];
            var program = parse.GetValue(gatewayCommand)!;
            var asJson = parse.GetValue(json);
            var path = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine(format.InHome ? env.HomeDirectory : env.WorkingDirectory, format.DefaultPath), env.WorkingDirectory);
            async Task<int> Fail(string message, int exitCode, string? file)
            {
                if (!asJson)
                {
                    return AgentOutput.Error(stderr, message, exitCode);
                }

                await WriteAsync(stdout, new Report(message, hostName, file, program, [], [], [])).ConfigureAwait(false);
                return exitCode;
            }

            if (HostExport.CommandProblem(program) is { } commandProblem)
            {
                return await Fail("--command: " + commandProblem, ExitCodes.Usage, null).ConfigureAwait(false);
            }

            var manager = McpCommand.Manager(env);
            var (status, error) = manager.Status();
            if (status is null)
            {
                return await Fail(error!, ExitCodes.Invalid, null).ConfigureAwait(false);
            }

            var written = HostExport.Write(manager, status, format, path, program);
            if (written.Error is { } writeError)
            {
                return await Fail(writeError, written.WriteFailed ? ExitCodes.Unreadable : ExitCodes.Invalid, path).ConfigureAwait(false);
            }

            var exported = written.Exported;
            List<string> notes = [];
            if (exported.Count > 0 && !Path.IsPathRooted(program) && HostExport.ResolveOnPath(program, env.Variables) is null)
            {
                notes.Add($"\"{program}\" is not on PATH here, so the host cannot start the gateway; put steward on PATH (docs/exports.md) or give --command <absolute path>");
            }

            if (asJson)
            {
                await WriteAsync(stdout, new Report(null, hostName, path, program, exported, written.Skipped, notes)).ConfigureAwait(false);
                return ExitCodes.Ok;
            }

            await stdout.WriteLineAsync($"wrote {exported.Count} gateway entr{(exported.Count == 1 ? "y" : "ies")} for {format.Name} to {path}" +
                                        (exported.Count > 0 ? ": " + string.Join(", ", exported) : "")).ConfigureAwait(false);
            foreach (var s in written.Skipped)
            {
                await stdout.WriteLineAsync($"not exported: {s.Name} ({(s.Enabled ? s.Reason ?? s.Decision : "disabled")})").ConfigureAwait(false);
            }

            foreach (var note in notes)
            {
                await stdout.WriteLineAsync("note: " + note).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Task WriteAsync(TextWriter stdout, Report report) =>
        stdout.WriteLineAsync(JsonSerializer.Serialize(report, CliJsonContext.Output.ExportHostReport));
}
