using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Steward.Core.Config;
using Steward.Core.Json;

namespace Steward.Agent.Servers;

/// <summary>A server found in another host's configuration, converted to Steward's (Kiro's) <c>mcp.json</c> model.</summary>
public sealed record HostServer(string Name, string From, McpServerConfig Config);

/// <summary>What was read from a host's files.</summary>
public sealed record HostRead(IReadOnlyList<string> FilesRead, IReadOnlyList<HostServer> Servers, IReadOnlyList<string> Warnings, string? Error);

/// <summary>
/// Reads the MCP configuration files of other hosts: Kiro (<c>~/.kiro/settings/mcp.json</c>, <c>.kiro/settings/mcp.json</c>),
/// Claude Code (<c>~/.claude.json</c>: top-level <c>mcpServers</c> and the current project's; <c>.mcp.json</c>), VS Code
/// (<c>.vscode/mcp.json</c>, key <c>servers</c>), Cursor (<c>~/.cursor/mcp.json</c>, <c>.cursor/mcp.json</c>). With an
/// explicit file, only that file is read. Later files win for the same name (user first, then project).
/// </summary>
public static partial class HostImport
{
    public static readonly IReadOnlyList<string> Hosts = ["kiro", "claude", "vscode", "cursor"];

    public static HostRead Read(string host, string? file, string homeDirectory, string workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(host);
        var candidates = file is not null
            ? [Path.GetFullPath(file, workingDirectory)]
            : DefaultFiles(host, homeDirectory, workingDirectory);
        if (candidates.Count == 0)
        {
            return new HostRead([], [], [], $"--from {host}: unknown host; use one of {string.Join(", ", Hosts)}");
        }

        var filesRead = new List<string>();
        var warnings = new List<string>();
        var servers = new List<HostServer>();
        foreach (var path in candidates)
        {
            if (!File.Exists(path))
            {
                if (file is not null)
                {
                    return new HostRead([], [], [], $"--file {file}: {path} does not exist");
                }

                continue;
            }

            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return new HostRead(filesRead, [], warnings, $"{path} cannot be read: {e.Message}");
            }

            var parsed = StrictJson.Parse(bytes);
            using var document = parsed.Document;
            if (document is null || document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return new HostRead(filesRead, [], warnings, $"{path} is not a JSON object{(parsed.Failure is { } f ? ": " + f : "")}; fix it or pass another file with --file");
            }

            filesRead.Add(path);
            var root = document.RootElement;
            var isClaudeUserFile = host == "claude" && Path.GetFileName(path) == ".claude.json";
            var key = host == "vscode" || (file is not null && !root.TryGetProperty("mcpServers", out _) && root.TryGetProperty("servers", out _)) ? "servers" : "mcpServers";
            ReadServers(root, key, path, host, workingDirectory, servers, warnings);
            if (isClaudeUserFile && root.TryGetProperty("projects", out var projects) && projects.ValueKind == JsonValueKind.Object)
            {
                foreach (var project in projects.EnumerateObject())
                {
                    if (SamePath(project.Name, workingDirectory))
                    {
                        ReadServers(project.Value, "mcpServers", $"{path} (project {project.Name})", host, workingDirectory, servers, warnings);
                    }
                }
            }
        }

        if (filesRead.Count == 0)
        {
            return new HostRead([], [], [], $"no {host} configuration file was found (looked for {string.Join(", ", candidates)}); pass one with --file");
        }

        // Later files (project) win over earlier ones (user) for the same name.
        var byName = new Dictionary<string, HostServer>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var server in servers)
        {
            if (!byName.ContainsKey(server.Name))
            {
                order.Add(server.Name);
            }

            byName[server.Name] = server;
        }

        return new HostRead(filesRead, order.Select(n => byName[n]).ToList(), warnings, null);
    }

    public static List<string> DefaultFiles(string host, string home, string cwd) => host switch
    {
        "kiro" => [Path.Combine(home, ".kiro", "settings", "mcp.json"), Path.Combine(cwd, ".kiro", "settings", "mcp.json")],
        "claude" => [Path.Combine(home, ".claude.json"), Path.Combine(cwd, ".mcp.json")],
        "vscode" => [Path.Combine(cwd, ".vscode", "mcp.json")],
        "cursor" => [Path.Combine(home, ".cursor", "mcp.json"), Path.Combine(cwd, ".cursor", "mcp.json")],
        _ => [],
    };

    private static bool SamePath(string a, string b) =>
        string.Equals(Path.TrimEndingDirectorySeparator(a), Path.TrimEndingDirectorySeparator(b), StringComparison.Ordinal);

    private static void ReadServers(JsonElement root, string key, string from, string host, string cwd, List<HostServer> servers, List<string> warnings)
    {
        if (!root.TryGetProperty(key, out var map))
        {
            return;
        }

        if (map.ValueKind != JsonValueKind.Object)
        {
            warnings.Add($"{from}: \"{key}\" is not an object; nothing read from it");
            return;
        }

        foreach (var entry in map.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Object)
            {
                warnings.Add($"{from}: {key}.{entry.Name} is not an object; skipped");
                continue;
            }

            if (Convert(entry.Name, entry.Value, host, cwd, warnings, from) is { } config)
            {
                servers.Add(new HostServer(entry.Name, from, config));
            }
        }
    }

    /// <summary>
    /// One entry of a host's servers object converted to Steward's model (VS Code references rewritten as for an import);
    /// null, with a warning, when it has neither a command nor a url. Used by <c>steward scan</c>.
    /// </summary>
    public static McpServerConfig? ConvertEntry(string name, JsonElement element, string host, string workingDirectory, List<string> warnings, string from) =>
        Convert(name, element, host, workingDirectory, warnings, from);

    private static McpServerConfig? Convert(string name, JsonElement element, string host, string cwd, List<string> warnings, string from)
    {
        string? Str(string field) => element.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String ? Text(v.GetString()!) : null;

        string Text(string value) => host == "vscode" ? VsCodeValue(value, name, cwd, warnings) : value;

        ImmutableArray<KeyValuePair<string, string>>? Map(string field)
        {
            if (!element.TryGetProperty(field, out var v) || v.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var builder = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
            foreach (var p in v.EnumerateObject())
            {
                var value = p.Value.ValueKind switch
                {
                    JsonValueKind.String => p.Value.GetString()!,
                    JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => p.Value.GetRawText(),
                    _ => null,
                };
                if (value is null)
                {
                    warnings.Add($"{from}: {name}.{field}.{p.Name} is not a string; left out");
                    continue;
                }

                builder.Add(new(p.Name, Text(value)));
            }

            return builder.ToImmutable();
        }

        ImmutableArray<string>? Strings(string field)
        {
            if (!element.TryGetProperty(field, out var v) || v.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            return [.. v.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => Text(e.GetString()!))];
        }

        var type = Str("type");
        var command = Str("command");
        var url = Str("url") ?? Str("serverUrl");
        if (command is null && url is null)
        {
            warnings.Add($"{from}: \"{name}\" has neither a command nor a url; skipped");
            return null;
        }

        var kiroType = type switch
        {
            null or "stdio" or "local" => null,
            "http" or "streamable-http" or "streamableHttp" => url is null ? null : McpServerTypes.StreamableHttp,
            "sse" => url is null ? null : McpServerTypes.Sse,
            _ => null,
        };
        if (type is not null and not ("stdio" or "local" or "http" or "streamable-http" or "streamableHttp" or "sse"))
        {
            warnings.Add($"{from}: \"{name}\" has type \"{type}\", which Steward does not know; imported by its command or url");
        }

        var disabled = element.TryGetProperty("disabled", out var d) && d.ValueKind == JsonValueKind.True ? true : (bool?)null;
        return new McpServerConfig
        {
            Type = command is null ? kiroType : null,
            Command = command,
            Args = command is null ? null : Strings("args"),
            Env = command is null ? null : Map("env"),
            Url = command is null ? url : null,
            Headers = command is null ? Map("headers") : null,
            Disabled = disabled,
            AutoApprove = Strings("autoApprove"),
            DisabledTools = Strings("disabledTools"),
        };
    }

    /// <summary>VS Code's own references: <c>${env:X}</c> becomes <c>${X}</c>; <c>${workspaceFolder}</c> the workspace; <c>${input:id}</c> a variable to set.</summary>
    private static string VsCodeValue(string value, string server, string cwd, List<string> warnings)
    {
        if (!value.Contains("${", StringComparison.Ordinal))
        {
            return value;
        }

        return VsCodeReference().Replace(value, match =>
        {
            var inner = match.Groups[1].Value;
            if (inner.StartsWith("env:", StringComparison.Ordinal))
            {
                return "${" + inner[4..] + "}";
            }

            if (inner == "workspaceFolder")
            {
                return cwd;
            }

            if (inner.StartsWith("input:", StringComparison.Ordinal))
            {
                var variable = InputVariable(inner[6..]);
                warnings.Add($"\"{server}\" used the VS Code input \"{inner[6..]}\"; it now reads the environment variable {variable}: set it before starting the gateway");
                return "${" + variable + "}";
            }

            return match.Value;
        });
    }

    private static string InputVariable(string id)
    {
        var builder = new StringBuilder(id.Length);
        foreach (var c in id)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_');
        }

        return builder.Length > 0 && char.IsAsciiDigit(builder[0]) ? "_" + builder : builder.ToString();
    }

    [GeneratedRegex(@"\$\{([^}]+)\}", RegexOptions.CultureInvariant)]
    private static partial Regex VsCodeReference();
}
