namespace Steward.Server.Organisations;

/// <summary>An organisation: its id (internal), its slug (in URLs) and its display name.</summary>
public sealed record Organisation(string Id, string Slug, string Name)
{
    public static async Task<Organisation?> FindAsync(Database database, string slug, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync("SELECT id, slug, name FROM organisations WHERE slug = @slug", null,
            r => new Organisation(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken, ("slug", slug)).ConfigureAwait(false);
        return rows.Count == 1 ? rows[0] : null;
    }

    /// <summary>The first organisation created: the one the root <c>/v0.1</c> serves.</summary>
    public static async Task<Organisation?> FirstAsync(Database database, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync("SELECT id, slug, name FROM organisations ORDER BY created_at, id LIMIT 1", null,
            r => new Organisation(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken).ConfigureAwait(false);
        return rows.Count == 1 ? rows[0] : null;
    }

    public async Task<bool> HasAccountAsync(Database database, string accountSlug, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var found = await connection.ScalarAsync("SELECT 1 FROM accounts WHERE organisation_id = @org AND slug = @slug AND deleted_at IS NULL", null, cancellationToken,
            ("org", Id), ("slug", accountSlug)).ConfigureAwait(false);
        return found is not null;
    }
}
