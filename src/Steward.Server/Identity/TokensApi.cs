using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Steward.Core.Json;
using Steward.Server.Audit;
using Steward.Server.Hosting;
using Steward.Server.Http;
using Steward.Server.Organisations;
using Steward.Server.Storage;

namespace Steward.Server.Identity;

/// <summary>
/// API tokens of an organisation (admin API): create (the value is in the response once and never again; only its
/// SHA-256 is stored), list (no values, no hashes), revoke. A developer token belongs to an account; every token expires.
/// </summary>
internal static class TokensApi
{
    public const int MaxBodyBytes = 16 * 1024;
    public const int DefaultLifetimeDays = 90;
    public const int MaxLifetimeDays = 730;

    private sealed record TokenRow(string Id, string Name, string Role, string? Account, string CreatedAt, string? ExpiresAt, string? RevokedAt);

    public static void Map(RouteGroupBuilder organisation)
    {
        organisation.MapPost("/tokens", CreateAsync);
        organisation.MapGet("/tokens", ListAsync);
        organisation.MapDelete("/tokens/{id}", RevokeAsync);
    }

    /// <summary>
    /// <c>POST …/tokens</c> with <c>{"name", "role": "admin"|"developer", "account"?, "expiresInDays"? | "expiresAt"?}</c>:
    /// 201 with the token (shown once). A developer token needs an account; the default lifetime is 90 days, the longest 730.
    /// </summary>
    internal static async Task<IResult> CreateAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var form = await JsonForm.ReadAsync(context.Request, MaxBodyBytes, ["name", "role", "account", "expiresInDays", "expiresAt"], cancellationToken).ConfigureAwait(false);
        if (form.Problem is { } problem)
        {
            return problem;
        }

        var root = form.Root;
        if (!root.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String || nameElement.GetString()!.Trim() is not { Length: > 0 and <= 100 } name)
        {
            return JsonForm.Invalid("name", "expected a string of 1 to 100 characters that says who or what uses the token", Raw(nameElement));
        }

        if (!root.TryGetProperty("role", out var roleElement) || roleElement.ValueKind != JsonValueKind.String || roleElement.GetString() is not (Roles.Admin or Roles.Developer))
        {
            return JsonForm.Invalid("role", "expected admin or developer", Raw(roleElement));
        }

        var role = roleElement.GetString()!;
        string? accountSlug = null;
        if (root.TryGetProperty("account", out var accountElement) && accountElement.ValueKind != JsonValueKind.Null)
        {
            if (accountElement.ValueKind != JsonValueKind.String)
            {
                return JsonForm.Invalid("account", "expected the slug of one of the organisation's accounts", Raw(accountElement));
            }

            accountSlug = accountElement.GetString();
        }

        if (role == Roles.Developer && accountSlug is null)
        {
            return JsonForm.Invalid("account", "required for a developer token: a developer belongs to an account, whose profile applies to them", null);
        }

        var now = Timestamps.Now(time);
        DateTimeOffset expires;
        var hasDays = root.TryGetProperty("expiresInDays", out var daysElement);
        var hasAt = root.TryGetProperty("expiresAt", out var atElement);
        if (hasDays && hasAt)
        {
            return JsonForm.Invalid("expiresAt", "give expiresInDays or expiresAt, not both", Raw(atElement));
        }

        if (hasAt)
        {
            if (atElement.ValueKind != JsonValueKind.String || !Rfc3339.TryParse(atElement.GetString()!, out var at) || at <= now || at > now.AddDays(MaxLifetimeDays))
            {
                return JsonForm.Invalid("expiresAt", $"expected an RFC 3339 time in the future, at most {MaxLifetimeDays} days away", Raw(atElement));
            }

            expires = Timestamps.Parse(Timestamps.ToText(at));
        }
        else
        {
            var days = (long)DefaultLifetimeDays;
            if (hasDays && (!JsonForm.TryInteger(daysElement, out days) || days < 1 || days > MaxLifetimeDays))
            {
                return JsonForm.Invalid("expiresInDays", $"expected whole days from 1 to {MaxLifetimeDays}", Raw(daysElement));
            }

            expires = now.AddDays(days);
        }

        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        Account? account = null;
        if (accountSlug is not null)
        {
            account = await Profiles.FindAccountAsync(connection, transaction, organisation.Id, accountSlug, cancellationToken).ConfigureAwait(false);
            if (account is null)
            {
                return JsonForm.Invalid("account", $"there is no account \"{accountSlug}\" in this organisation; create it with POST /api/v1/orgs/{organisation.Slug}/accounts", Raw(accountElement));
            }
        }

        var token = Tokens.Generate();
        var id = await Authentication.CreateTokenAsync(connection, transaction, organisation.Id, account?.Id, role, name, token, now, expires, cancellationToken).ConfigureAwait(false);
        var row = new TokenRow(id, name, role, account?.Slug, Timestamps.ToText(now), Timestamps.ToText(expires), null);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "token.create", "token:" + id, null, AuditView(row), null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        context.Response.Headers.CacheControl = "no-store";
        return new JsonBytes(ResponseJson.Write(w =>
        {
            Write(w, row, now);
            w.WriteString("token", token);
            w.WriteEndObject();
        }), StatusCodes.Status201Created);
    }

    /// <summary><c>GET …/tokens</c>: every token of the organisation, newest first, with its status; never a value or a hash.</summary>
    internal static async Task<IResult> ListAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await Rows(connection, organisation.Id, null, cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("tokens");
            foreach (var row in rows)
            {
                Write(w, row, now);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }

    /// <summary><c>DELETE …/tokens/{id}</c>: revokes the token (it answers 401 from then on). 204; 404 for a token of another organisation or none.</summary>
    internal static async Task<IResult> RevokeAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var id = context.GetRouteValue("id") as string ?? "";
        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var rows = await Rows(connection, organisation.Id, id, cancellationToken, transaction).ConfigureAwait(false);
        if (rows.Count == 0)
        {
            return Problems.Result(StatusCodes.Status404NotFound, "Token not found", $"there is no token \"{id}\" in this organisation");
        }

        var before = rows[0];
        if (before.RevokedAt is not null)
        {
            return Results.NoContent();
        }

        var after = before with { RevokedAt = Timestamps.ToText(now) };
        await connection.ExecuteAsync("UPDATE api_tokens SET revoked_at = @at WHERE id = @id AND organisation_id = @org", transaction, cancellationToken,
            ("at", after.RevokedAt), ("id", id), ("org", organisation.Id)).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "token.revoke", "token:" + id, AuditView(before), AuditView(after), null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Results.NoContent();
    }

    /// <summary>Revokes every live token of an account (its deletion), each with its own audit row; returns how many.</summary>
    internal static async Task<int> RevokeAccountTokensAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, string organisationId, string accountId,
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

    private static async Task<List<TokenRow>> Rows(System.Data.Common.DbConnection connection, string organisationId, string? id, CancellationToken cancellationToken, System.Data.Common.DbTransaction? transaction = null) =>
        await connection.QueryAsync(
            "SELECT t.id, t.name, t.role, a.slug, t.created_at, t.expires_at, t.revoked_at FROM api_tokens t LEFT JOIN accounts a ON a.id = t.account_id WHERE t.organisation_id = @org" +
            (id is null ? " ORDER BY t.created_at DESC, t.id DESC" : " AND t.id = @id"),
            transaction, r => new TokenRow(r.GetString(0), r.GetString(1), r.GetString(2), r.NullableString(3), r.GetString(4), r.NullableString(5), r.NullableString(6)),
            cancellationToken, id is null ? [("org", organisationId)] : [("org", organisationId), ("id", id)]).ConfigureAwait(false);

    private static void Write(Utf8JsonWriter w, TokenRow row, DateTimeOffset now)
    {
        w.WriteStartObject();
        w.WriteString("id", row.Id);
        w.WriteString("name", row.Name);
        w.WriteString("role", row.Role);
        if (row.Account is null)
        {
            w.WriteNull("account");
        }
        else
        {
            w.WriteString("account", row.Account);
        }

        w.WriteString("createdAt", row.CreatedAt);
        if (row.ExpiresAt is null)
        {
            w.WriteNull("expiresAt");
        }
        else
        {
            w.WriteString("expiresAt", row.ExpiresAt);
        }

        if (row.RevokedAt is null)
        {
            w.WriteNull("revokedAt");
        }
        else
        {
            w.WriteString("revokedAt", row.RevokedAt);
        }

        w.WriteString("status", row.RevokedAt is not null ? "revoked" : row.ExpiresAt is { } e && Timestamps.Parse(e) <= now ? "expired" : "active");
    }

    private static string AuditView(TokenRow row) => System.Text.Encoding.UTF8.GetString(ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("id", row.Id);
        w.WriteString("name", row.Name);
        w.WriteString("role", row.Role);
        w.WriteString("account", row.Account);
        w.WriteString("expiresAt", row.ExpiresAt);
        w.WriteString("revokedAt", row.RevokedAt);
        w.WriteEndObject();
    }));

    private static string? Raw(JsonElement element) => element.ValueKind == JsonValueKind.Undefined ? null : element.GetRawText();
}
