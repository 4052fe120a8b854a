using Steward.Agent.Policy;

namespace Steward.Agent.Sync;

/// <summary>The default model before and after a sync (null: there was, or is, none).</summary>
public sealed record DefaultModelChange(string? From, string? To);

/// <summary>What changed in the models a developer may use: models added to or removed from the available list, and the default.</summary>
public sealed record ModelChanges(IReadOnlyList<AvailableModel> Added, IReadOnlyList<AvailableModel> Removed, DefaultModelChange? Default)
{
    public static ModelChanges None { get; } = new([], [], null);

    public bool Any => Added.Count + Removed.Count > 0 || Default is not null;

    /// <summary>The changes from <paramref name="before"/> to <paramref name="after"/>; none when the new policy does not govern models.</summary>
    public static ModelChanges Between(PolicyModels? before, PolicyModels? after)
    {
        if (after is null)
        {
            return None;
        }

        var old = before ?? PolicyModels.None;
        var oldIds = old.Available.Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
        var newIds = after.Available.Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
        var added = after.Available.Where(m => !oldIds.Contains(m.Id)).OrderBy(m => m.Id, StringComparer.Ordinal).ToList();
        var removed = old.Available.Where(m => !newIds.Contains(m.Id)).OrderBy(m => m.Id, StringComparer.Ordinal).ToList();
        var defaultChange = string.Equals(old.Default, after.Default, StringComparison.Ordinal) ? null : new DefaultModelChange(old.Default, after.Default);
        return new ModelChanges(added, removed, defaultChange);
    }
}
