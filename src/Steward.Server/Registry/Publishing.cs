using Steward.Core.Registry;

namespace Steward.Server.Registry;

/// <summary>Writes to an organisation's registry, inside the caller's transaction: publish a version, change a status, keep <c>isLatest</c> right.</summary>
internal static class Publishing
{
    public static async Task<StoredEntry?> FindAsync(DbConnection connection, DbTransaction? transaction, string organisationId, string name, string version, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync(
            $"SELECT {StoredEntry.Columns} FROM registry_entries WHERE organisation_id = @org AND name = @name AND version = @version",
            transaction, StoredEntry.Read, cancellationToken, ("org", organisationId), ("name", name), ("version", version)).ConfigureAwait(false);
        return rows.Count == 1 ? rows[0] : null;
    }

    /// <summary>
    /// Publishes one validated server.json into an organisation's registry in its own transaction: the version row, the
    /// new latest, a new revision and the audit row commit together. Null when that version already exists.
    /// </summary>
    public static async Task<StoredEntry?> PublishAsync(Database database, string organisationId, ServerDetail server, string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(server);
        var json = RegistryJson.Canonical(server);
        StoredEntry entry;
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisationId, cancellationToken).ConfigureAwait(false);
            if (await FindAsync(connection, transaction, organisationId, server.Name, server.Version, cancellationToken).ConfigureAwait(false) is not null)
            {
                return null;
            }

            entry = await InsertAsync(connection, transaction, organisationId, server, json, now, cancellationToken).ConfigureAwait(false);
            var revision = await BumpRevisionAsync(connection, transaction, organisationId, now, cancellationToken).ConfigureAwait(false);
            await Audit.AuditLog.WriteAsync(connection, transaction, organisationId, now, actor, "registry.publish", Subject(entry), null, RegistryJson.AuditView(entry), revision, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            Hosting.Telemetry.RegistryWrites.Add(1, new KeyValuePair<string, object?>("action", "publish"));
        }
        catch (DbException)
        {
            // Another instance published the same version between our check and our commit.
            await using var check = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            if (await FindAsync(check, null, organisationId, server.Name, server.Version, cancellationToken).ConfigureAwait(false) is not null)
            {
                return null;
            }

            throw;
        }

        return entry;
    }

    public static string Subject(StoredEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return $"registry:{entry.Name}@{entry.Version}";
    }

    /// <summary>Replaces a version's server.json (an admin edit: same name, same version), keeping its status; returns the entry as it now is.</summary>
    public static async Task<StoredEntry> ReplaceServerJsonAsync(DbConnection connection, DbTransaction transaction, string organisationId, string name, string version, string serverJson, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(
            "UPDATE registry_entries SET server_json = @json, updated_at = @at WHERE organisation_id = @org AND name = @name AND version = @version",
            transaction, cancellationToken, ("json", serverJson), ("at", Timestamps.ToText(now)), ("org", organisationId), ("name", name), ("version", version)).ConfigureAwait(false);
        return (await FindAsync(connection, transaction, organisationId, name, version, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Adds a version as an import brings it (its upstream status and publish time kept, <c>updatedAt</c> now), without
    /// recomputing latest: the importer does that once per name at the end.
    /// </summary>
    public static async Task InsertImportedAsync(DbConnection connection, DbTransaction transaction, string organisationId, string name, string version, string serverJson,
        string status, string? statusMessage, DateTimeOffset publishedAt, DateTimeOffset statusChangedAt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(
            $"INSERT INTO registry_entries ({StoredEntry.Columns}, organisation_id) VALUES (@name, @version, @json, @status, @message, @changed, @published, @at, FALSE, @org)",
            transaction, cancellationToken, ("name", name), ("version", version), ("json", serverJson), ("status", status), ("message", statusMessage),
            ("changed", Timestamps.ToText(statusChangedAt)), ("published", Timestamps.ToText(publishedAt)), ("at", Timestamps.ToText(now)), ("org", organisationId)).ConfigureAwait(false);
    }

    /// <summary>Adds a new version (status active, all timestamps now) and recomputes which version is latest.</summary>
    public static async Task<StoredEntry> InsertAsync(DbConnection connection, DbTransaction transaction, string organisationId, ServerDetail server, string serverJson, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        var at = Timestamps.ToText(now);
        await connection.ExecuteAsync(
            $"INSERT INTO registry_entries ({StoredEntry.Columns}, organisation_id) VALUES (@name, @version, @json, 'active', NULL, @at, @at, @at, FALSE, @org)",
            transaction, cancellationToken, ("name", server.Name), ("version", server.Version), ("json", serverJson), ("at", at), ("org", organisationId)).ConfigureAwait(false);
        await RecomputeLatestAsync(connection, transaction, organisationId, server.Name, now, cancellationToken).ConfigureAwait(false);
        return (await FindAsync(connection, transaction, organisationId, server.Name, server.Version, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Sets a version's status (and message), then recomputes latest; returns the entry as it now is.</summary>
    public static async Task<StoredEntry> SetStatusAsync(DbConnection connection, DbTransaction transaction, string organisationId, string name, string version, string status, string? message, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var at = Timestamps.ToText(now);
        await connection.ExecuteAsync(
            "UPDATE registry_entries SET status = @status, status_message = @message, status_changed_at = @at, updated_at = @at WHERE organisation_id = @org AND name = @name AND version = @version",
            transaction, cancellationToken, ("status", status), ("message", message), ("at", at), ("org", organisationId), ("name", name), ("version", version)).ConfigureAwait(false);
        await RecomputeLatestAsync(connection, transaction, organisationId, name, now, cancellationToken).ConfigureAwait(false);
        return (await FindAsync(connection, transaction, organisationId, name, version, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// The official rule: the latest is the highest version that is not deleted (by <see cref="ServerVersions.Compare"/>:
    /// semantic versions numerically, others by publish time); when every version is deleted, the highest of them keeps
    /// the flag. A version whose flag changes gets a new <c>updatedAt</c>, so incremental readers see the change.
    /// </summary>
    public static async Task RecomputeLatestAsync(DbConnection connection, DbTransaction transaction, string organisationId, string name, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var versions = await connection.QueryAsync(
            "SELECT version, published_at, status, is_latest FROM registry_entries WHERE organisation_id = @org AND name = @name ORDER BY published_at, version",
            transaction, r => (Version: r.GetString(0), PublishedAt: Timestamps.Parse(r.GetString(1)), Status: r.GetString(2), IsLatest: r.Boolean(3)),
            cancellationToken, ("org", organisationId), ("name", name)).ConfigureAwait(false);
        if (versions.Count == 0)
        {
            return;
        }

        var live = versions.Where(v => v.Status != ServerStatuses.Deleted).ToList();
        var latest = ServerVersions.PickLatest(live.Count > 0 ? live : versions, v => v.Version, v => v.PublishedAt).Version;
        foreach (var v in versions)
        {
            var shouldBe = v.Version == latest;
            if (v.IsLatest != shouldBe)
            {
                await connection.ExecuteAsync(
                    "UPDATE registry_entries SET is_latest = @latest, updated_at = @at WHERE organisation_id = @org AND name = @name AND version = @version",
                    transaction, cancellationToken, ("latest", shouldBe), ("at", Timestamps.ToText(now)), ("org", organisationId), ("name", name), ("version", v.Version)).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Moves the organisation profile to a new revision (every registry change changes what clients receive).</summary>
    public static async Task<long> BumpRevisionAsync(DbConnection connection, DbTransaction transaction, string organisationId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var revision = await connection.ScalarAsync(
            "UPDATE profiles SET revision = revision + 1, updated_at = @at WHERE organisation_id = @org AND account_id IS NULL RETURNING revision",
            transaction, cancellationToken, ("at", Timestamps.ToText(now)), ("org", organisationId)).ConfigureAwait(false);
        return revision is null ? 0 : Convert.ToInt64(revision, System.Globalization.CultureInfo.InvariantCulture);
    }
}
