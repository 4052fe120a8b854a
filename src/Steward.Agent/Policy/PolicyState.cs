namespace Steward.Agent.Policy;

/// <summary>
/// What is in force now: a verified snapshot, or MCP disabled with the reason and what to do about it (fail closed:
/// no valid policy means no MCP servers).
/// </summary>
public abstract record PolicyState
{
    private PolicyState()
    {
    }

    /// <summary>A verified snapshot is in force. <paramref name="Stale"/>: the source could not be reached and this is the cached copy.</summary>
    public sealed record Active(PolicySnapshot Snapshot, bool Stale = false) : PolicyState;

    /// <summary>MCP is off: by the profile, or because no valid policy is available. Both strings are shown to the developer.</summary>
    public sealed record Disabled(string Reason, string WhatToDo) : PolicyState;
}
