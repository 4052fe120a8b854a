using System.Collections.Concurrent;

namespace Steward.Server.Registry;

/// <summary>
/// Which organisation a registry URL serves and its current revision, the key of every cached Registry API answer
/// (<see cref="RegistryPageCache"/>). Read from the database, then remembered for at most <see cref="LocalChanges.Lifetime"/>
/// and only while nothing changed through this instance, so that an answer already cached costs no SQL: a change made
/// here is in the next answer, one made through another instance within the lifetime.
/// </summary>
internal sealed class RegistryRevisions(Database database, TimeProvider time, LocalChanges changes, Identity.SecretBox box)
{
    internal const int MaxEntries = 10_000;

    private sealed record Remembered(ResolvedRegistry Registry, long Generation, DateTimeOffset Until);

    private readonly ConcurrentDictionary<string, Remembered> _byBase = new(StringComparer.Ordinal);

    /// <summary>
    /// The organisation the request's registry base URL serves (the first one at the root), the registry it reads (the
    /// hosted one, or the external copy when the profile behind the URL — the account's, else the organisation's — is
    /// external) and that registry's revision; null when there is none.
    /// </summary>
    public Task<ResolvedRegistry?> ResolveAsync(HttpContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ResolveAsync(context.GetRouteValue("org") as string, context.GetRouteValue("account") as string, cancellationToken);
    }

    /// <summary>
    /// The registry of the base URL <c>/o/{slug}[/a/{account}]/registry</c> (the root's when <paramref name="slug"/> is
    /// null), as <see cref="ResolveAsync(HttpContext, CancellationToken)"/> resolves a request's.
    /// </summary>
    public async Task<ResolvedRegistry?> ResolveAsync(string? slug, string? account, CancellationToken cancellationToken)
    {
        var key = slug is null ? "" : account is null ? slug : slug + "/a/" + account;
        var now = time.GetUtcNow();
        if (_byBase.TryGetValue(key, out var known) && known.Generation == changes.Generation && now < known.Until)
        {
            return known.Registry;
        }

        var generation = changes.Generation;
        await using var connection = await database.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        const string select = "SELECT o.id, p.revision, p.id, p.registry_mode FROM organisations o JOIN profiles p ON p.organisation_id = o.id AND p.account_id IS NULL";
        static (string, long, string, string) Map(System.Data.Common.DbDataReader r) => (r.GetString(0), r.Int64(1), r.GetString(2), r.GetString(3));
        var rows = slug is null
            ? await connection.QueryAsync(select + " ORDER BY o.created_at, o.id LIMIT 1", null, Map, cancellationToken).ConfigureAwait(false)
            : await connection.QueryAsync(select + " WHERE o.slug = @slug", null, Map, cancellationToken, ("slug", slug)).ConfigureAwait(false);
        if (rows.Count != 1)
        {
            return null;
        }

        var (organisationId, revision, profileId, mode) = rows[0];
        if (account is not null)
        {
            // An account's anonymous base URL names it with its key (Organisations.AccountUrls): a bare or unknown slug is not found.
            if (await Organisations.AccountUrls.ResolveAsync(connection, box, organisationId, account, cancellationToken).ConfigureAwait(false) is not { } found)
            {
                return null;
            }

            var own = await connection.QueryAsync("SELECT revision, id, registry_mode FROM profiles WHERE organisation_id = @org AND account_id = @account", null,
                r => (r.Int64(0), r.GetString(1), r.GetString(2)), cancellationToken, ("org", organisationId), ("account", found.Id)).ConfigureAwait(false);
            if (own.Count == 1 && own[0].Item3 == Organisations.RegistryModes.External)
            {
                (revision, profileId, mode) = own[0];
            }
            else if (own.Count == 1)
            {
                mode = own[0].Item3;
            }
        }

        var resolved = new ResolvedRegistry(organisationId, revision,
            mode == Organisations.RegistryModes.External ? RegistrySource.External(profileId) : RegistrySource.Hosted(organisationId));
        if (_byBase.Count >= MaxEntries)
        {
            _byBase.Clear();
        }

        _byBase[key] = new Remembered(resolved, generation, now + LocalChanges.Lifetime);
        return resolved;
    }
}

/// <summary>What a registry base URL serves: its organisation, the rows it reads and their revision (the key of cached answers, with <see cref="RegistrySource.CacheId"/>).</summary>
internal sealed record ResolvedRegistry(string OrganisationId, long Revision, RegistrySource Source);
