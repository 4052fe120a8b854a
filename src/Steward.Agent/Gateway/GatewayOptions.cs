using Steward.Agent.Audit;
using Steward.Core.Config;

namespace Steward.Agent.Gateway;

/// <summary>How the gateway runs: the merged configuration, one server or all, where the audit log goes.</summary>
public sealed record GatewayOptions
{
    /// <summary>The user's and workspace's <c>mcp.json</c>, merged.</summary>
    public required MergedMcpConfig Config { get; init; }

    /// <summary>Per-server shape: serve exactly this configured server, names unchanged. Null: every admitted server, names prefixed.</summary>
    public string? Server { get; init; }

    /// <summary>
    /// Several host sessions share the upstreams (the HTTP front). Upstreams are then offered the union of the sessions'
    /// sampling, elicitation and roots (relaunched when a session offers more), and each request they make is answered by
    /// the session whose call caused it, or refused when that session does not offer it. False (stdio): upstreams are
    /// offered what the one host offered.
    /// </summary>
    public bool ManySessions { get; init; }

    /// <summary>The local audit log (JSON lines, 0600).</summary>
    public required string AuditLogPath { get; init; }

    /// <summary>Resolves <c>${VAR}</c> references at launch.</summary>
    public Func<string, string?> Lookup { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>The directory local servers start in (null: the gateway's own, which a host sets to the workspace).</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>The local tool pins (<see cref="ToolPins"/>; 0600); null: <c>pins.json</c> next to the audit log.</summary>
    public string? PinsPath { get; init; }

    /// <summary>Sends each audited call to the Steward server too (null: the audit log is local only). Owned by the caller.</summary>
    public AuditUploader? AuditUploader { get; init; }

    /// <summary>What sandboxed launches need: the bridge command (<c>steward sandbox-bridge</c>) and the configuration directory to hide.</summary>
    public Sandbox.SandboxHost SandboxHost { get; init; } = new();

    /// <summary>How long an upstream may take to start and complete its handshake (the entry's <c>timeout</c> overrides it).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Where the gateway reads the time (its tasks' timestamps and lifetimes).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// The largest message an upstream (local or remote) may send, in bytes: a larger answer reaches the host as an error
    /// and is audited <c>too_large</c>, and it is never held in memory (<see cref="BoundedLineStream"/>). Null: from
    /// <c>STEWARD_GATEWAY_MAX_MESSAGE_MIB</c> through <see cref="Lookup"/>, else 16 MiB.
    /// </summary>
    public long? MaxMessageBytes { get; init; }

    /// <summary>The message limit in force (<see cref="MaxMessageBytes"/>, the variable, or the default).</summary>
    internal long MessageLimit => MaxMessageBytes ?? (Lookup(BoundedLineStream.LimitVariable) is { Length: > 0 } text &&
                                                      int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var mib) && mib > 0
        ? mib * 1024L * 1024L
        : BoundedLineStream.DefaultLimitMib * 1024L * 1024L);
}
