using Steward.Core.Admission;
using Steward.Core.Sandbox;
using Steward.Core.Policy;
using Steward.Core.Registry;

namespace Steward.Agent.Policy;

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

    /// <summary>
    /// Tool rules (allow / ask / deny with globs on <c>server/tool</c>): the profile's from the signed bundle, a local
    /// policy file's, or both (a gateway given <c>--policy</c> on a machine logged in to a Steward server); deny wins.
    /// </summary>
    public IReadOnlyList<ToolRule> ToolRules { get; init; } = [];

    /// <summary>
    /// Whether tool-call argument values are written to the audit log (secret-named ones redacted): the profile's
    /// <c>auditToolArguments</c> from a Steward server, <c>auditArguments</c> in a local policy file; off otherwise.
    /// </summary>
    public bool AuditArguments { get; init; }

    /// <summary>Whether remote servers on plain http to loopback addresses are allowed (development only).</summary>
    public bool AllowLoopbackHttp { get; init; }

    /// <summary>
    /// When a signed policy bundle stops being in force (its <c>exp</c>); null for sources that do not sign their policy.
    /// Past it, the snapshot no longer applies, whatever the maximum offline age.
    /// </summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The models this developer may use, from a Steward server's bundle; null when the source does not govern models.</summary>
    public PolicyModels? Models { get; init; }

    /// <summary>The sandbox profiles of the registry's entries and the default, from a Steward server's bundle; none otherwise.</summary>
    public SandboxPolicy Sandbox { get; init; } = SandboxPolicy.None;
    /// <summary>Versions the admin deprecated or deleted, with their status message: never admitted, only to say why a server is refused (<see cref="Steward.Core.Admission.WithdrawnEntries"/>).</summary>
    public IReadOnlyList<RegistryEntry> Withdrawn { get; init; } = [];

    /// <summary>The organisation's emergency stop in force, in the admin's words (MCP is then off); null when there is none.</summary>
    public string? EmergencyStop { get; init; }

    /// <summary>Why MCP is off, for the developer: the emergency stop's words, or the profile.</summary>
    public string McpOffReason => EmergencyStop is { } stop
        ? $"MCP is stopped by the organisation's emergency stop: {stop}"
        : "MCP is disabled by the profile";

    /// <summary>Whose profile this is, as the Steward server names it (<c>organisation</c> or <c>organisation/a/account</c>); null for registry sources.</summary>
    public string? Subject { get; init; }

    /// <summary>Which profile decided the settings: <c>organisation</c> or <c>account</c> (the bundle's <c>profile.scope</c>); null for other sources.</summary>
    public string? ProfileScope { get; init; }

    /// <summary>The profile that decided, in the developer's words.</summary>
    public string DecidingProfile => ProfileScope switch
    {
        "account" => "your account's profile",
        "organisation" => "your organisation's profile",
        _ => Source.StartsWith("http", StringComparison.OrdinalIgnoreCase) ? "your organisation's profile" : $"the policy file {Source}",
    };

    /// <summary>What Core's admission decides against (<see cref="AdmissionPlanner"/>): one answer for the gateway and the CLI.</summary>
    /// <remarks>Made on each read, never cached: a <c>with</c> copy of the snapshot would carry a cached one along.</remarks>
    public AdmissionPolicy Admission => new()
    {
        Registry = Registry,
        Withdrawn = Withdrawn,
        WebToolsEnabled = WebToolsEnabled,
        WebToolsDecidedBy = DecidingProfile,
        AllowLoopbackHttp = AllowLoopbackHttp,
        Sandbox = Sandbox,
    };
}

/// <summary>One model the developer may use, as the Steward server's bundle lists it.</summary>
public sealed record AvailableModel(string Id, string? DisplayName = null, string? Provider = null);

/// <summary>The models listing of a bundle: the available models, the default, and a notice when the configured default stands in for another.</summary>
/// <param name="Default">The default model's id (the one the bundle marks <c>default</c>); null when none is available.</param>
/// <param name="FallbackNotice">Set when the configured default is not available and another stands in (or none does): what to tell the developer.</param>
public sealed record PolicyModels(IReadOnlyList<AvailableModel> Available, string? Default, string? FallbackNotice = null)
{
    public static PolicyModels None { get; } = new([], null);
}
