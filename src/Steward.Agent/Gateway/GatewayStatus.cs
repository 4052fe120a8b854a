using System.Collections.Immutable;
using Steward.Core.Admission;

namespace Steward.Agent.Gateway;

/// <summary>What the gateway serves now: running servers (configuration order), refused ones, failed ones, and why nothing is served if so.</summary>
public sealed record GatewayStatus(
    ImmutableArray<string> Running,
    ImmutableArray<UpstreamRefusal> Refused,
    ImmutableArray<UpstreamRefusal> Failed,
    string? Notice)
{
    public static GatewayStatus Empty { get; } = new([], [], [], null);

    /// <summary>Each running server's sandbox (by configured name): enforced by what, with what it may touch, or why not.</summary>
    public ImmutableDictionary<string, Sandbox.SandboxStatus> Sandboxes { get; init; } = ImmutableDictionary<string, Sandbox.SandboxStatus>.Empty;
}
