using Steward.Core.Registry;

namespace Steward.Agent.Sync;

/// <summary>One approved server as the change report names it: its registry name and latest version.</summary>
public sealed record ServerVersion(string Name, string Version, string? Title = null);

/// <summary>A server whose latest approved version changed.</summary>
public sealed record VersionChange(string Name, string From, string To);

/// <summary>What changed between two registries, by server name and latest version (deleted versions left out).</summary>
public sealed record RegistryChanges(IReadOnlyList<ServerVersion> Added, IReadOnlyList<ServerVersion> Removed, IReadOnlyList<VersionChange> Upgraded)
{
    public static RegistryChanges None { get; } = new([], [], []);

    public bool Any => Added.Count + Removed.Count + Upgraded.Count > 0;

    public static RegistryChanges Between(IReadOnlyList<RegistryEntry>? before, IReadOnlyList<RegistryEntry> after)
    {
        ArgumentNullException.ThrowIfNull(after);
        var old = Latest(before ?? []);
        var now = Latest(after);
        var added = now.Values.Where(s => !old.ContainsKey(s.Name)).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        var removed = old.Values.Where(s => !now.ContainsKey(s.Name)).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        var upgraded = now.Values
            .Where(s => old.TryGetValue(s.Name, out var previous) && previous.Version != s.Version)
            .Select(s => new VersionChange(s.Name, old[s.Name].Version, s.Version))
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList();
        return new RegistryChanges(added, removed, upgraded);
    }

    /// <summary>The latest version of each server, picked as admission picks it: <c>isLatest</c>, else the registry's ordering.</summary>
    public static Dictionary<string, ServerVersion> Latest(IReadOnlyList<RegistryEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var result = new Dictionary<string, ServerVersion>(StringComparer.Ordinal);
        foreach (var group in entries.Where(e => e.Official?.Status != ServerStatuses.Deleted).GroupBy(e => e.Server.Name, StringComparer.Ordinal))
        {
            var latest = group.FirstOrDefault(v => v.Official?.IsLatest == true)
                         ?? ServerVersions.PickLatest(group, v => v.Server.Version, v => v.Official?.PublishedAt ?? DateTimeOffset.MinValue)!;
            result[group.Key] = new ServerVersion(group.Key, latest.Server.Version, latest.Server.Title);
        }

        return result;
    }
}
