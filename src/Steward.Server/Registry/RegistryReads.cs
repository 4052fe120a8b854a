using System.Text;
using Steward.Core.Registry;

namespace Steward.Server.Registry;

/// <summary>
/// What <c>GET /servers</c> asks for: at most <paramref name="Limit"/> entries after <paramref name="Cursor"/>
/// (<c>name</c> or <c>name:version</c>), whose name contains <paramref name="Search"/> (any case), of
/// <paramref name="Version"/> (or <c>latest</c>), changed after <paramref name="UpdatedSince"/>; deleted versions
/// too when <paramref name="IncludeDeleted"/> or <paramref name="UpdatedSince"/> asks for them and the reader may see them.
/// </summary>
internal sealed record ServerListQuery(int Limit, string? Search = null, string? Version = null, string? Cursor = null, DateTimeOffset? UpdatedSince = null,
    bool? IncludeDeleted = null)
{
    /// <summary>Whether the query asks for deleted versions (an incremental read always does).</summary>
    public bool AsksDeleted => IncludeDeleted == true || UpdatedSince is not null;
}

/// <summary>Registry entries in the Registry API's order, and the cursor of the next page (null on the last).</summary>
internal sealed record ServerList(IReadOnlyList<StoredEntry> Servers, string? NextCursor)
{
    /// <summary><c>{"servers": [{"server": …, "_meta": …}, …], "metadata": {"nextCursor": …, "count": …}}</c>.</summary>
    public byte[] ToJson() => RegistryJson.List(Servers, NextCursor);
}

/// <summary>
/// Reading a registry as the Registry API serves it, for its endpoints (<see cref="RegistryApi"/>, which keep the answers
/// in <see cref="RegistryPageCache"/>) and the console alike: a page of the list, a server's versions, one version. The
/// registry is the one a base URL serves (<see cref="RegistryRevisions"/>); deleted versions are read only by an admin
/// of its organisation who asks for them (<see cref="SeesDeleted"/>), anyone else asking is answered without them.
/// </summary>
internal static class RegistryReads
{
    /// <summary>Whether a reader who <paramref name="asks"/> for deleted versions sees them: only an admin of the registry's organisation does.</summary>
    public static bool SeesDeleted(bool asks, Caller? caller, ResolvedRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return asks && caller is { Role: Roles.Admin } && caller.OrganisationId == registry.OrganisationId;
    }

    /// <summary>A page of the list, ordered by name then version.</summary>
    public static async Task<ServerList> ListAsync(Database database, ResolvedRegistry registry, Caller? caller, ServerListQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(query);
        var source = registry.Source;
        var sql = new StringBuilder($"SELECT {StoredEntry.Columns} FROM {source.From}");
        var parameters = new List<(string, object?)> { ("org", source.Key) };
        if (!SeesDeleted(query.AsksDeleted, caller, registry))
        {
            sql.Append(" AND status <> 'deleted'");
        }

        if (query.UpdatedSince is { } since)
        {
            sql.Append(" AND updated_at > @since");
            parameters.Add(("since", Timestamps.ToText(since)));
        }

        if (query.Search is { Length: > 0 } search)
        {
            sql.Append(" AND lower(name) LIKE @search ESCAPE '\\'");
            parameters.Add(("search", "%" + Sql.EscapeLike(search.ToLowerInvariant()) + "%"));
        }

        if (query.Version is { Length: > 0 } version)
        {
            if (version == ServerVersions.Latest)
            {
                sql.Append(" AND is_latest");
            }
            else
            {
                sql.Append(" AND version = @version");
                parameters.Add(("version", version));
            }
        }

        if (query.Cursor is { Length: > 0 } cursor)
        {
            var colon = cursor.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                sql.Append(" AND name > @cursorName");
                parameters.Add(("cursorName", cursor));
            }
            else
            {
                sql.Append(" AND (name > @cursorName OR (name = @cursorName AND version > @cursorVersion))");
                parameters.Add(("cursorName", cursor[..colon]));
                parameters.Add(("cursorVersion", cursor[(colon + 1)..]));
            }
        }

        sql.Append(" ORDER BY name, version LIMIT @take");
        parameters.Add(("take", query.Limit + 1));

        await using var connection = await database.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(sql.ToString(), null, StoredEntry.Read, cancellationToken, [.. parameters]).ConfigureAwait(false);
        string? nextCursor = null;
        if (rows.Count > query.Limit)
        {
            rows.RemoveRange(query.Limit, rows.Count - query.Limit);
            nextCursor = rows[^1].Name + ":" + rows[^1].Version;
        }

        return new ServerList(rows, nextCursor);
    }

    /// <summary>Every version of the server <paramref name="name"/>, newest published first; 404 when it has none the reader may see.</summary>
    public static async Task<Outcome<ServerList>> VersionsAsync(Database database, ResolvedRegistry registry, Caller? caller, string name, bool includeDeleted,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(name);
        var source = registry.Source;
        await using var connection = await database.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        var versions = await connection.QueryAsync(
            $"SELECT {StoredEntry.Columns} FROM {source.From} AND name = @name{Deleted(includeDeleted, caller, registry)} ORDER BY published_at DESC, version DESC",
            null, StoredEntry.Read, cancellationToken, ("org", source.Key), ("name", name)).ConfigureAwait(false);
        return versions.Count == 0 ? Outcome<ServerList>.Refused(Problems.BodyOf(Problems.ServerNotFound(name))) : Outcome<ServerList>.Done(new ServerList(versions, null));
    }

    /// <summary>Version <paramref name="version"/> (or <c>latest</c>) of the server <paramref name="name"/>; 404 when the reader may see no such version.</summary>
    public static async Task<Outcome<StoredEntry>> VersionAsync(Database database, ResolvedRegistry registry, Caller? caller, string name, string version, bool includeDeleted,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(name);
        var source = registry.Source;
        var deleted = Deleted(includeDeleted, caller, registry);
        await using var connection = await database.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = version == ServerVersions.Latest
            ? await connection.QueryAsync($"SELECT {StoredEntry.Columns} FROM {source.From} AND name = @name AND is_latest{deleted}",
                null, StoredEntry.Read, cancellationToken, ("org", source.Key), ("name", name)).ConfigureAwait(false)
            : await connection.QueryAsync($"SELECT {StoredEntry.Columns} FROM {source.From} AND name = @name AND version = @version{deleted}",
                null, StoredEntry.Read, cancellationToken, ("org", source.Key), ("name", name), ("version", version)).ConfigureAwait(false);
        return rows.Count == 0 ? Outcome<StoredEntry>.Refused(Problems.BodyOf(Problems.ServerNotFound(name))) : Outcome<StoredEntry>.Done(rows[0]);
    }

    private static string Deleted(bool includeDeleted, Caller? caller, ResolvedRegistry registry) => SeesDeleted(includeDeleted, caller, registry) ? "" : " AND status <> 'deleted'";
}
