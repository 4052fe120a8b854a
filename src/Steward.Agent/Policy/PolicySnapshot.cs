using Steward.Core.Registry;

namespace Steward.Agent.Policy;

/// <summary>A tool rule from the administrator: allow, ask or deny for a <c>server/tool</c> glob. Deny wins.</summary>
public sealed record ToolRule(string Pattern, ToolRuleEffect Effect);

public enum ToolRuleEffect
{
    Allow,
    Ask,
    Deny,
}

/// <summary>
/// The policy in force on this machine: verified, immutable, swapped whole at each sync. Everything the agent,
/// the CLI and the gateway decide is decided against one snapshot.
/// </summary>
public sealed record PolicySnapshot
{
    /// <summary>Where it came from: a Steward server URL, a registry URL, or a local file path.</summary>
    public required string Source { get; init; }

    /// <summary>A revision id: the server's, or a content hash of the registry document.</summary>
    public required string Revision { get; init; }

    public required DateTimeOffset FetchedAt { get; init; }

    /// <summary>The approved servers (every version the registry lists; admission picks the latest).</summary>
    public required IReadOnlyList<RegistryEntry> Registry { get; init; }

    /// <summary>MCP on or off for this developer's profile. Off: the gateway serves no upstream tools and says why.</summary>
    public bool McpEnabled { get; init; } = true;

    /// <summary>Web tools on or off. Off: servers marked as web tools are not started.</summary>
    public bool WebToolsEnabled { get; init; } = true;

    /// <summary>How often to sync (24 h by default).</summary>
    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromHours(24);

    /// <summary>How long this snapshot stays in force when the source cannot be reached. Null: no limit.</summary>
    public TimeSpan? MaxOfflineAge { get; init; }

    /// <summary>Administrator tool rules (allow / ask / deny with globs on <c>server/tool</c>).</summary>
    public IReadOnlyList<ToolRule> ToolRules { get; init; } = [];

    /// <summary>Whether tool-call argument values may be written to the audit log.</summary>
    public bool AuditArguments { get; init; }

    /// <summary>Whether remote servers on plain http to loopback addresses are allowed (development only).</summary>
    public bool AllowLoopbackHttp { get; init; }
}
