using Steward.Agent.Policy;
using Steward.Core.Admission;

namespace Steward.Agent.Servers;

/// <summary>The policy in force, as <c>steward mcp list|status</c> and <c>steward sync</c> show it.</summary>
public sealed record PolicyStatus(
    string State,
    string? Source,
    string? Revision,
    DateTimeOffset? ConfirmedAt,
    int? ApprovedServers,
    string? Reason,
    string? WhatToDo)
{
    public static PolicyStatus Of(PolicyState state, int? approved = null) => state switch
    {
        PolicyState.Active active => new PolicyStatus(
            active.Stale ? "stale" : "active",
            active.Snapshot.Source,
            active.Snapshot.Revision,
            active.Snapshot.FetchedAt,
            approved,
            active.Snapshot.McpEnabled ? null : active.Snapshot.McpOffReason,
            null),
        PolicyState.Disabled disabled => new PolicyStatus("disabled", null, null, null, null, disabled.Reason, disabled.WhatToDo),
        _ => throw new ArgumentOutOfRangeException(nameof(state)),
    };
}

/// <summary>One configured server and its admission decision against the policy in force.</summary>
/// <param name="Decision"><c>allowed</c>, <c>blocked</c> or <c>relaunch</c>.</param>
/// <param name="Reason">For <c>blocked</c>: a stable reason code (<see cref="AdmissionReasons"/>, or <c>mcp_disabled</c>).</param>
/// <param name="Message">Why, in one line, never holding argument or header values.</param>
public sealed record ServerStatus(
    string Name,
    string Scope,
    string File,
    string Kind,
    bool Enabled,
    string Decision,
    string? Reason,
    string Message,
    string? RegistryName,
    string? Version)
{
    /// <summary>For an admitted local server: its sandbox on this machine (enforced by what, with what it may touch, or why not); null otherwise.</summary>
    public string? Sandbox { get; init; }

    /// <summary>For a server the gateway runs: the prefix of its tools and prompts in the aggregated shape (<c>alias__tool</c>, see <see cref="Steward.Core.Admission.ServerAliases"/>).</summary>
    public string? Alias { get; init; }
}

/// <summary>The answer of <c>steward mcp list|status</c>.</summary>
public sealed record StatusReport(PolicyStatus Policy, IReadOnlyList<ServerStatus> Servers);

/// <summary>An approved server as the <c>steward mcp add</c> picker shows it.</summary>
public sealed record ApprovedServer(string Name, string? Title, string Description, string Version, bool Remote);

/// <summary>An input the developer still has to give, named so that a flag can give it.</summary>
public sealed record MissingInput(string Key, string Kind, bool Secret, string? Description);

/// <summary>What <c>steward mcp add</c> did, or why it did nothing.</summary>
public sealed record AddResult(
    string? Error,
    IReadOnlyList<MissingInput> Missing,
    string? Name = null,
    string? File = null,
    string? Scope = null,
    string? EntryKind = null,
    IReadOnlyList<string>? SecretsStored = null,
    ServerStatus? Status = null,
    bool Replaced = false)
{
    public bool Succeeded => Error is null;
}

/// <summary>What <c>steward mcp remove|enable|disable</c> did, or why it did nothing.</summary>
public sealed record ChangeResult(string? Error, string? Name = null, string? File = null, string? Message = null, ServerStatus? Status = null)
{
    public bool Succeeded => Error is null;
}

/// <summary>One server brought in by <c>steward mcp import</c>.</summary>
/// <param name="Outcome"><c>imported</c>, <c>imported-disabled</c> (not admitted), or <c>skipped</c> (the name exists).</param>
public sealed record ImportedServerReport(string Name, string From, string Outcome, string Decision, string? Reason, string Message, IReadOnlyList<string> SecretsStored);

/// <summary>The answer of <c>steward mcp import</c>.</summary>
public sealed record ImportReport(string? Error, string Host, IReadOnlyList<string> FilesRead, string? File, IReadOnlyList<ImportedServerReport> Servers, IReadOnlyList<string> Warnings)
{
    public bool Succeeded => Error is null;
}
