namespace Steward.Agent;

/// <summary>
/// Where the developer-side files live. <c>STEWARD_CONFIG_DIR</c> overrides the configuration directory (tests,
/// several profiles on one machine); otherwise <c>$XDG_CONFIG_HOME/steward</c> or <c>~/.config/steward</c>.
/// </summary>
public sealed record StewardPaths(string ConfigDirectory)
{
    public const string ConfigDirectoryVariable = "STEWARD_CONFIG_DIR";

    /// <summary>Steward's own user-scope MCP configuration, in Kiro's <c>mcp.json</c> format.</summary>
    public string UserMcpConfig => Path.Combine(ConfigDirectory, "mcp.json");

    /// <summary>Where the policy comes from (<c>steward login</c>), and the pinned key.</summary>
    public string SourceFile => Path.Combine(ConfigDirectory, "source.json");

    /// <summary>The Steward server's bearer token (<c>steward login --token</c>), 0600, never printed.</summary>
    public string TokenFile => Path.Combine(ConfigDirectory, "token");

    /// <summary>The last verified policy (registry and settings), written atomically, 0600.</summary>
    public string PolicyCache => Path.Combine(ConfigDirectory, "policy-cache.json");

    /// <summary>What this machine last applied from its Steward server (the newest bundle's revision and issued-at, a refused token), 0600.</summary>
    public string PolicyApplied => Path.Combine(ConfigDirectory, "policy-applied.json");

    /// <summary>Secrets the developer typed at <c>steward mcp add</c> (0600), referenced from mcp.json as <c>${VAR}</c>.</summary>
    public string SecretsFile => Path.Combine(ConfigDirectory, "secrets.json");

    /// <summary>The local audit log of tool calls, one JSON object a line.</summary>
    public string AuditLog => Path.Combine(ConfigDirectory, "audit.jsonl");

    /// <summary>The gateway's tool-definition pins per registry name and version (0600; <c>steward mcp repin</c> clears them).</summary>
    public string PinsFile => Path.Combine(ConfigDirectory, "pins.json");

    /// <summary>The agent's and gateway's log file (<c>steward logs</c>).</summary>
    public string LogFile => Path.Combine(ConfigDirectory, "steward.log");

    public const string WorkspaceDirectoryName = ".steward";

    public static StewardPaths FromEnvironment()
    {
        if (Environment.GetEnvironmentVariable(ConfigDirectoryVariable) is { Length: > 0 } configured)
        {
            return new StewardPaths(Path.GetFullPath(configured));
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
        var root = xdg is { Length: > 0 } ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        return new StewardPaths(Path.Combine(root, "steward"));
    }

    /// <summary>The workspace <c>.steward/mcp.json</c>, found from <paramref name="start"/> upwards; null when there is none.</summary>
    public static string? FindWorkspaceMcpConfig(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, WorkspaceDirectoryName, "mcp.json");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
