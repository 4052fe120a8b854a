using System.Text.Json.Serialization;

namespace Steward.Server.Identity;

/// <summary>A token as it is listed and audited: never its value or its hash.</summary>
internal sealed record TokenRow(string Id, string Name, string Role, string? Account, string CreatedAt, string? ExpiresAt, string? RevokedAt)
{
    /// <summary><c>revoked</c>, <c>expired</c> (at <paramref name="now"/>) or <c>active</c>.</summary>
    public string Status(DateTimeOffset now) =>
        RevokedAt is not null ? "revoked" : ExpiresAt is { } e && Timestamps.Parse(e) <= now ? "expired" : "active";
}

/// <summary>A token just created: its row and its value, which is shown this once and never stored.</summary>
internal sealed record CreatedToken(TokenRow Row, string Token, DateTimeOffset Now);

/// <summary>
/// An organisation's API tokens, for the admin API (<see cref="TokensApi"/>) and the console alike: create (the value
/// is answered once; only its SHA-256 is stored), list, revoke — each write audited in its transaction. The caller was
/// authorised by whoever calls: the API's admin filter, or the console's session gate.
/// </summary>
internal static class TokenOperations
{
    /// <summary>Creates the token; 422 naming <c>account</c> when the organisation has no such account.</summary>
    public static async Task<Outcome<CreatedToken>> CreateAsync(Database database, Caller caller, Organisation organisation, TokenRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentNullException.ThrowIfNull(request);
        var now = request.Now;
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        Account? account = null;
        if (request.Account is { } accountSlug)
        {
            account = await Profiles.FindAccountAsync(connection, transaction, organisation.Id, accountSlug, cancellationToken).ConfigureAwait(false);
            if (account is null)
            {
                return Outcome<CreatedToken>.Refused(BodyCheck.One("account",
                    $"there is no account \"{accountSlug}\" in this organisation; create it with POST /api/v1/orgs/{organisation.Slug}/accounts", request.AccountJson));
            }
        }

        var token = Tokens.Generate();
        var id = await Authentication.CreateTokenAsync(connection, transaction, organisation.Id, account?.Id, request.Role, request.Name, token, now, request.Expires, cancellationToken).ConfigureAwait(false);
        var row = new TokenRow(id, request.Name, request.Role, account?.Slug, Timestamps.ToText(now), Timestamps.ToText(request.Expires), null);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "token.create", "token:" + id, null, AuditView(row), null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Outcome<CreatedToken>.Done(new CreatedToken(row, token, now), StatusCodes.Status201Created);
    }

    /// <summary>Every token of the organisation, newest first.</summary>
    public static async Task<List<TokenRow>> ListAsync(Database database, Organisation organisation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(organisation);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await Rows(connection, organisation.Id, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Revokes the token (it is refused from then on); null when done or already revoked, else 404 for a token of another organisation or none.</summary>
    public static async Task<ProblemBody?> RevokeAsync(Database database, Caller caller, Organisation organisation, string id, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var rows = await Rows(connection, organisation.Id, id, cancellationToken, transaction).ConfigureAwait(false);
        if (rows.Count == 0)
        {
            return Problems.Body(StatusCodes.Status404NotFound, "Token not found", $"there is no token \"{id}\" in this organisation");
        }

        var before = rows[0];
        if (before.RevokedAt is not null)
        {
            return null;
        }

        var after = before with { RevokedAt = Timestamps.ToText(now) };
        await connection.ExecuteAsync("UPDATE api_tokens SET revoked_at = @at WHERE id = @id AND organisation_id = @org", transaction, cancellationToken,
            ("at", after.RevokedAt), ("id", id), ("org", organisation.Id)).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "token.revoke", "token:" + id, AuditView(before), AuditView(after), null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>Revokes every live token of an account (its deletion), each with its own audit row; returns how many.</summary>
    public static async Task<int> RevokeAccountTokensAsync(DbConnection connection, DbTransaction transaction, string organisationId, string accountId,
        string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync(
            "SELECT t.id, t.name, t.role, a.slug, t.created_at, t.expires_at, t.revoked_at FROM api_tokens t LEFT JOIN accounts a ON a.id = t.account_id WHERE t.organisation_id = @org AND t.account_id = @account AND t.revoked_at IS NULL ORDER BY t.id",
            transaction, r => new TokenRow(r.GetString(0), r.GetString(1), r.GetString(2), r.NullableString(3), r.GetString(4), r.NullableString(5), r.NullableString(6)),
            cancellationToken, ("org", organisationId), ("account", accountId)).ConfigureAwait(false);
        foreach (var before in rows)
        {
            var after = before with { RevokedAt = Timestamps.ToText(now) };
            await connection.ExecuteAsync("UPDATE api_tokens SET revoked_at = @at WHERE id = @id", transaction, cancellationToken, ("at", after.RevokedAt), ("id", before.Id)).ConfigureAwait(false);
            await AuditLog.WriteAsync(connection, transaction, organisationId, now, actor, "token.revoke", "token:" + before.Id, AuditView(before), AuditView(after), null, cancellationToken).ConfigureAwait(false);
        }

        return rows.Count;
    }

    private static async Task<List<TokenRow>> Rows(DbConnection connection, string organisationId, string? id, CancellationToken cancellationToken, DbTransaction? transaction = null) =>
        await connection.QueryAsync(
            "SELECT t.id, t.name, t.role, a.slug, t.created_at, t.expires_at, t.revoked_at FROM api_tokens t LEFT JOIN accounts a ON a.id = t.account_id WHERE t.organisation_id = @org" +
            (id is null ? " ORDER BY t.created_at DESC, t.id DESC" : " AND t.id = @id"),
            transaction, r => new TokenRow(r.GetString(0), r.GetString(1), r.GetString(2), r.NullableString(3), r.GetString(4), r.NullableString(5), r.NullableString(6)),
            cancellationToken, id is null ? [("org", organisationId)] : [("org", organisationId), ("id", id)]).ConfigureAwait(false);

    private static string AuditView(TokenRow row) =>
        System.Text.Encoding.UTF8.GetString(ResponseJson.Serialize(new TokenAuditView(row.Id, row.Name, row.Role, row.Account, row.ExpiresAt, row.RevokedAt), ServerJsonContext.Default.TokenAuditView));
}

/// <summary>A token as its audit rows record it, before and after: every field written, a missing one as <c>null</c>.</summary>
internal sealed record TokenAuditView(
    string Id,
    string Name,
    string Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Account,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? ExpiresAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? RevokedAt);
