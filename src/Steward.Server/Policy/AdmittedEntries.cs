using System.Data.Common;
using Steward.Core.Registry;
using Steward.Server.Registry;
using Steward.Server.Storage;

namespace Steward.Server.Policy;

/// <summary>What a registry (an organisation's, or a profile's external copy: <see cref="RegistrySource"/>) admits: for each server name, its latest <c>active</c> version (deprecated and deleted versions are not admitted).</summary>
internal static class AdmittedEntries
{
    public static Task<IReadOnlyList<StoredEntry>> LoadAsync(DbConnection connection, string organisationId, CancellationToken cancellationToken) =>
        LoadAsync(connection, RegistrySource.Hosted(organisationId), cancellationToken);

    public static async Task<IReadOnlyList<StoredEntry>> LoadAsync(DbConnection connection, RegistrySource source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var rows = await connection.QueryAsync(
            $"SELECT {StoredEntry.Columns} FROM {source.From} AND status = 'active' ORDER BY name, version",
            null, StoredEntry.Read, cancellationToken, ("org", source.Key)).ConfigureAwait(false);
        return [.. rows.GroupBy(r => r.Name, StringComparer.Ordinal)
            .Select(g => ServerVersions.PickLatest(g, e => e.Version, e => Timestamps.Parse(e.PublishedAt))!)
            .OrderBy(e => e.Name, StringComparer.Ordinal)];
    }

    /// <summary>Versions an administrator deleted (revoked), for deny lists: each names exactly what ran (a pinned argv or a URL).</summary>
    public static async Task<IReadOnlyList<StoredEntry>> LoadRevokedAsync(DbConnection connection, RegistrySource source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var rows = await connection.QueryAsync(
            $"SELECT {StoredEntry.Columns} FROM {source.From} AND status = 'deleted' ORDER BY name, version",
            null, StoredEntry.Read, cancellationToken, ("org", source.Key)).ConfigureAwait(false);
        return rows;
    }
}
