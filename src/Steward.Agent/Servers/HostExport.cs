using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Steward.Agent.Files;
using Steward.Core.Registry;

namespace Steward.Agent.Servers;

/// <summary>
/// The inverse of <see cref="HostImport"/>: writes a host's MCP configuration with one per-server gateway entry
/// (<c>steward gateway --server &lt;registry name&gt;</c>) for each configured, enabled server the policy admits, so that
/// the host's own per-server settings and tool permissions keep working. The command is stable (<c>steward</c>, found on
/// PATH, unless another is named), never this machine's own path, so that it is the argv the admin's allowlists admit
/// (<c>?mode=gateway</c> exports). Other entries of the file are kept; written atomically, 0600.
/// </summary>
public static class HostExport
{
    /// <summary>A host's configuration file (relative to the workspace, or to the home directory) and the key its servers live under.</summary>
    public sealed record HostFormat(string Name, string DefaultPath, string ServersKey, bool TypeStdio, bool InHome = false);

    public static readonly IReadOnlyDictionary<string, HostFormat> Hosts = new Dictionary<string, HostFormat>(StringComparer.Ordinal)
    {
        ["claude"] = new("Claude Code", ".mcp.json", "mcpServers", TypeStdio: false),
        ["vscode"] = new("VS Code", Path.Combine(".vscode", "mcp.json"), "servers", TypeStdio: true),
        ["cursor"] = new("Cursor", Path.Combine(".cursor", "mcp.json"), "mcpServers", TypeStdio: false),
        ["kiro"] = new("Kiro", Path.Combine(".kiro", "settings", "mcp.json"), "mcpServers", TypeStdio: false),
        ["gemini"] = new("Gemini CLI", Path.Combine(".gemini", "settings.json"), "mcpServers", TypeStdio: false),
        // Copilot CLI reads the developer's servers from the home directory only (a workspace file is not loaded in an untrusted folder).
        ["copilot"] = new("GitHub Copilot CLI", Path.Combine(".copilot", "mcp-config.json"), "mcpServers", TypeStdio: false, InHome: true),
    };

    /// <summary>The command every machine's hosts start for the gateway unless told otherwise: <c>steward</c>, on PATH.</summary>
    public const string DefaultCommand = "steward";

    /// <summary>Writes the gateway entries of the admitted servers of <paramref name="report"/> into <paramref name="path"/>.</summary>
    public static HostExportResult Write(ServerManager manager, StatusReport report, HostFormat format, string path, string program)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(format);
        var admitted = report.Servers.Where(s => s.Enabled && s.Decision is "allowed" or "relaunch").DistinctBy(s => s.Name, StringComparer.Ordinal).ToList();
        var exported = admitted.Select(s => s.Name).ToList();
        var skipped = report.Servers.Where(s => !exported.Contains(s.Name, StringComparer.Ordinal)).ToList();
        // The gateway is named by the registry name (what the admin's allowlists admit) unless two entries run the
        // same registry server, when each keeps its own configured name.
        var byRegistry = admitted.Where(s => s.RegistryName is not null).GroupBy(s => s.RegistryName!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        string GatewayName(ServerStatus s) => s.RegistryName is { } r && byRegistry[r] == 1 ? r : s.Name;
        // The host's key (from which hosts build tool names, cut at 64 characters): an entry configured under its registry
        // name gets the short key the administrator's exports use for it (computed over every approved server, as they
        // are, so the permission rules of a gateway-mode export name it the same); one the developer named keeps that name.
        var hostKeys = HostServerNames.Keys(manager.Approved().Select(a => a.Name).Concat(admitted.Select(s => s.RegistryName ?? s.Name)));
        string HostKey(ServerStatus s) => s.RegistryName is { } r && r == s.Name && byRegistry[r] == 1 ? hostKeys[r] : s.Name;

        JsonObject root;
        try
        {
            root = Read(path);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return HostExportResult.Failed($"{path} cannot be updated: {e.Message}");
        }

        if (root[format.ServersKey] is not JsonObject servers)
        {
            if (root[format.ServersKey] is not null)
            {
                return HostExportResult.Failed($"{path}: \"{format.ServersKey}\" is not an object; fix or remove it");
            }

            root[format.ServersKey] = servers = [];
        }

        foreach (var status in admitted)
        {
            var entry = new JsonObject();
            if (format.TypeStdio)
            {
                entry["type"] = "stdio";
            }

            entry["command"] = program;
            entry["args"] = new JsonArray("gateway", "--server", GatewayName(status));
            var key = HostKey(status);
            if (key != status.Name)
            {
                // An entry under the configured name (an earlier export-host's, or the developer's for this server) is
                // replaced by the one under the host key, not left beside it.
                servers.Remove(status.Name);
            }

            servers[key] = entry;
        }

        try
        {
            var json = root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
            PrivateFiles.WriteAtomic(path, Encoding.UTF8.GetBytes(json + "\n"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return HostExportResult.Failed($"{path} cannot be written: {e.Message}", writeFailed: true);
        }

        return new HostExportResult(exported, skipped);
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

    /// <summary>A bare name (found on PATH) or an absolute path; a relative path would depend on the host's working directory.</summary>
    public static string? CommandProblem(string command)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command.Length == 0 || command.Trim() != command || command.Any(char.IsControl))
        {
            return "give the program the host starts, a name on PATH (steward) or an absolute path, without control characters or surrounding spaces";
        }

        var bare = !command.Contains('/', StringComparison.Ordinal) && !command.Contains('\\', StringComparison.Ordinal);
        return bare || Path.IsPathRooted(command) ? null : $"\"{command}\" is a relative path, which depends on the host's working directory; give a name on PATH (steward) or an absolute path";
    }

    /// <summary>Where <paramref name="name"/> is found on the <c>PATH</c> that <paramref name="variables"/> gives, or null.</summary>
    public static string? ResolveOnPath(string name, Func<string, string?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var path = variables("PATH") ?? "";
        string[] suffixes = OperatingSystem.IsWindows() ? ["", ".exe", ".cmd"] : [""];
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var suffix in suffixes)
            {
                var candidate = Path.Combine(dir, name + suffix);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
