using Steward.Agent.Policy;
using Steward.Agent.Servers;

namespace Steward.Agent.Sync;

/// <summary>One problem of a rejected registry, for <c>--json</c>.</summary>
public sealed record ProblemReport(string Severity, string Path, string Rule, string Message, string Hint);

/// <summary>What changed in the models, for <c>--json</c>: models added to or removed from the available list, and the default.</summary>
public sealed record ModelChangesReport(IReadOnlyList<AvailableModel> Added, IReadOnlyList<AvailableModel> Removed, DefaultModelChange? Default);

/// <summary>The <c>steward sync</c> answer: what happened, what changed, and the policy now in force.</summary>
public sealed record SyncReport(
    string Outcome,
    string Message,
    PolicyStatus Policy,
    IReadOnlyList<ServerVersion> Added,
    IReadOnlyList<ServerVersion> Removed,
    IReadOnlyList<VersionChange> Upgraded,
    IReadOnlyList<ProblemReport> Problems)
{
    /// <summary>Model changes (a Steward server's policy only; null for registry sources).</summary>
    public ModelChangesReport? Models { get; init; }

    /// <param name="governsModels">Whether the source carries the models (a Steward server): then <see cref="Models"/> is present, even when nothing changed.</param>
    public static SyncReport From(SyncResult result, int? approvedServers, bool governsModels = false)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new SyncReport(
            result.Outcome switch
            {
                SyncOutcome.Updated => "updated",
                SyncOutcome.Unchanged => "unchanged",
                SyncOutcome.Unreachable => "unreachable",
                SyncOutcome.Rejected => "rejected",
                _ => "not-configured",
            },
            result.Message,
            PolicyStatus.Of(result.State, approvedServers),
            result.Changes.Added,
            result.Changes.Removed,
            result.Changes.Upgraded,
            result.Problems.Select(p => new ProblemReport(p.IsError ? "error" : "warning", p.Path, p.Rule, p.Message, p.Hint)).ToList())
        {
            Models = governsModels ? new ModelChangesReport(result.ModelChanges.Added, result.ModelChanges.Removed, result.ModelChanges.Default) : null,
        };
    }
}
