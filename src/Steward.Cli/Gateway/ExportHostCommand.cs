using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Steward.Agent.Files;
using Steward.Cli.AgentCommands;

namespace Steward.Cli.Gateway;

/// <summary>
/// <c>steward mcp export-host --host claude|vscode|cursor|kiro [--output file]</c>: writes the host's MCP configuration
/// with one per-server gateway entry (<c>steward gateway --server &lt;name&gt;</c>) for each configured, enabled server
/// the policy admits, so that the host's own per-server settings and tool permissions keep working. Other entries of the
/// file are kept; written atomically, 0600.
/// </summary>
internal static class ExportHostCommand
{
    /// <summary>A host's configuration file (relative to the workspace) and the key its servers live under.</summary>
    internal sealed record HostFormat(string Name, string DefaultPath, string ServersKey, bool TypeStdio);

    internal static readonly IReadOnlyDictionary<string, HostFormat> Hosts = new Dictionary<string, HostFormat>(StringComparer.Ordinal)
    {
        ["claude"] = new("Claude Code", ".mcp.json", "mcpServers", TypeStdio: false),
        ["vscode"] = new("VS Code", Path.Combine(".vscode", "mcp.json"), "servers", TypeStdio: true),
        ["cursor"] = new("Cursor", Path.Combine(".cursor", "mcp.json"), "mcpServers", TypeStdio: false),
        ["kiro"] = new("Kiro", Path.Combine(".kiro", "settings", "mcp.json"), "mcpServers", TypeStdio: false),
    };

    public static Command Create(IAnsiConsole console, TextWriter stdout, AgentEnvironment? environment = null)
    {
        var host = new Option<string>("--host") { Description = "The host whose configuration to write.", Required = true };
        host.AcceptOnlyFromAmong([.. Hosts.Keys]);
        var output = new Option<string?>("--output")
        {
            Description = "The file to write (default: the host's workspace file: .mcp.json, .vscode/mcp.json, .cursor/mcp.json, .kiro/settings/mcp.json).",
        };
        var command = new Command("export-host", "Write a host's MCP configuration with one `steward gateway --server <name>` entry per approved, configured server.")
        {
            host, output,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            var format = Hosts[parse.GetValue(host)!];
            var path = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine(env.WorkingDirectory, format.DefaultPath), env.WorkingDirectory);
            var (report, error) = McpCommand.Manager(env).Status();
            if (report is null)
            {
                return AgentOutput.Error(console, error!);
            }

            var exported = report.Servers.Where(s => s.Enabled && s.Decision is "allowed" or "relaunch").Select(s => s.Name).Distinct(StringComparer.Ordinal).ToList();
            var skipped = report.Servers.Where(s => !exported.Contains(s.Name, StringComparer.Ordinal)).ToList();

            JsonObject root;
            try
            {
                root = Read(path);
            }
            catch (Exception e) when (e is JsonException or InvalidDataException or IOException or UnauthorizedAccessException)
            {
                return AgentOutput.Error(console, $"{path} cannot be updated: {e.Message}");
            }

            if (root[format.ServersKey] is not JsonObject servers)
            {
                if (root[format.ServersKey] is not null)
                {
                    return AgentOutput.Error(console, $"{path}: \"{format.ServersKey}\" is not an object; fix or remove it");
                }

                root[format.ServersKey] = servers = [];
            }

            var (command, prefix) = StewardCommand();
            foreach (var name in exported)
            {
                var entry = new JsonObject();
                if (format.TypeStdio)
                {
                    entry["type"] = "stdio";
                }

                entry["command"] = command;
                entry["args"] = new JsonArray([.. prefix.Select(a => (JsonNode)a), "gateway", "--server", name]);
                servers[name] = entry;
            }

            try
            {
                var json = root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
                PrivateFiles.WriteAtomic(path, Encoding.UTF8.GetBytes(json + "\n"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return AgentOutput.Error(console, $"{path} cannot be written: {e.Message}", ExitCodes.Unreadable);
            }

            await stdout.WriteLineAsync($"wrote {exported.Count} gateway entr{(exported.Count == 1 ? "y" : "ies")} for {format.Name} to {path}" +
                                        (exported.Count > 0 ? ": " + string.Join(", ", exported) : "")).ConfigureAwait(false);
            foreach (var s in skipped)
            {
                await stdout.WriteLineAsync($"not exported: {s.Name} ({(s.Enabled ? s.Reason ?? s.Decision : "disabled")})").ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static JsonObject Read(string path)
    {
        var bytes = PrivateFiles.ReadIfExists(path);
        if (bytes is null || bytes.Length == 0)
        {
            return [];
        }

        var node = JsonNode.Parse(bytes, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        return node as JsonObject ?? throw new InvalidDataException("the top level is not a JSON object");
    }

    /// <summary>How a host starts this steward: the published executable, or <c>dotnet steward.dll</c> when run that way.</summary>
    internal static (string Command, string[] Prefix) StewardCommand()
    {
        var process = Environment.ProcessPath ?? "steward";
        if (Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return (process, [typeof(ExportHostCommand).Assembly.Location]);
        }

        return (process, []);
    }
}
