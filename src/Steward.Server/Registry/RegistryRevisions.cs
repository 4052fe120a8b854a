using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Steward.Server.Hosting;
using Steward.Server.Storage;

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

    private sealed record Remembered(string Id, long Revision, long Generation, DateTimeOffset Until);

    private readonly ConcurrentDictionary<string, Remembered> _byBase = new(StringComparer.Ordinal);

    /// <summary>The organisation the request's registry base URL serves (the first one at the root) and its revision; null when there is none.</summary>
    public async Task<(string Id, long Revision)?> ResolveAsync(HttpContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var slug = context.GetRouteValue("org") as string;
        var account = context.GetRouteValue("account") as string;
        var key = slug is null ? "" : account is null ? slug : slug + "/a/" + account;
        var now = time.GetUtcNow();
        if (_byBase.TryGetValue(key, out var known) && known.Generation == changes.Generation && now < known.Until)
        {
            return (known.Id, known.Revision);
        }

        var generation = changes.Generation;
        await using var connection = await database.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        const string select = "SELECT o.id, p.revision FROM organisations o JOIN profiles p ON p.organisation_id = o.id AND p.account_id IS NULL";
        var rows = slug is null
            ? await connection.QueryAsync(select + " ORDER BY o.created_at, o.id LIMIT 1", null, r => (r.GetString(0), r.Int64(1)), cancellationToken).ConfigureAwait(false)
            : await connection.QueryAsync(select + " WHERE o.slug = @slug", null, r => (r.GetString(0), r.Int64(1)), cancellationToken, ("slug", slug)).ConfigureAwait(false);
        if (rows.Count != 1)
        {
            return null;
        }

        // An account's anonymous base URL names it with its key (Organisations.AccountUrls): a bare or unknown slug is not found.
        if (account is not null && await Organisations.AccountUrls.ResolveAsync(connection, box, rows[0].Item1, account, cancellationToken).ConfigureAwait(false) is null)
        {
            return null;
        }

        if (_byBase.Count >= MaxEntries)
        {
            _byBase.Clear();
        }

        _byBase[key] = new Remembered(rows[0].Item1, rows[0].Item2, generation, now + LocalChanges.Lifetime);
        return rows[0];
    }
}
