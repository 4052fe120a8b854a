using Microsoft.Extensions.DependencyInjection;

namespace Steward.Server.Identity;

/// <summary>Who is calling: the token's id and name (never its value), its organisation and role.</summary>
public sealed record Caller(string TokenId, string TokenName, string OrganisationId, string? AccountId, string Role)
{
    /// <summary>How the audit names this caller.</summary>
    public string Actor => $"token:{TokenId} ({TokenName})";
}

/// <summary>Bearer token authentication and the admin check of every <c>/api/v1/orgs/{org}</c> endpoint.</summary>
internal static class Authentication
{
    /// <summary>The caller of a request with a valid, unexpired, unrevoked bearer token; null otherwise.</summary>
    public static async Task<Caller?> AuthenticateAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken) =>
        PresentedToken(context) is { } token ? (await FindAsync(database, Tokens.Hash(token), time, cancellationToken).ConfigureAwait(false))?.Caller : null;

    /// <summary>The bearer token of the request's <c>Authorization</c> header; null when there is none or it cannot be one of ours.</summary>
    public static string? PresentedToken(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var token = header["Bearer ".Length..].Trim();
        return token.Length == 0 || token.Length > 512 ? null : token;
    }

    /// <summary>The caller whose valid, unexpired, unrevoked token has <paramref name="hash"/>, and when that token expires; null otherwise.</summary>
    public static async Task<(Caller Caller, DateTimeOffset? Expires)?> FindAsync(Database database, string hash, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(
            "SELECT id, name, organisation_id, account_id, role, token_hash, expires_at, revoked_at FROM api_tokens WHERE token_hash = @hash",
            null,
            r => (Caller: new Caller(r.GetString(0), r.GetString(1), r.GetString(2), r.NullableString(3), r.GetString(4)), Hash: r.GetString(5), Expires: r.NullableString(6), Revoked: r.NullableString(7)),
            cancellationToken,
            ("hash", hash)).ConfigureAwait(false);
        if (rows.Count != 1 || !Tokens.Matches(hash, rows[0].Hash) || rows[0].Revoked is not null)
        {
            return null;
        }

        DateTimeOffset? expires = rows[0].Expires is { } text ? Timestamps.Parse(text) : null;
        if (expires <= time.GetUtcNow())
        {
            return null;
        }

        return (rows[0].Caller, expires);
    }

    /// <summary>
    /// An endpoint filter for <c>/api/v1/orgs/{org}/…</c>: 401 without a valid token, 404 when the organisation is not the
    /// token's (another organisation's objects do not exist for it), 403 for a developer token, else the request goes on
    /// with the <see cref="Caller"/> and the <see cref="Organisation"/> in <see cref="HttpContext.Items"/>.
    /// </summary>
    public static ValueTask<object?> RequireOrganisationAdmin(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next) =>
        RequireOrganisationAsync(invocation, next, adminOnly: true);

    /// <summary>
    /// An endpoint filter for what any member of the organisation may read (exports): 401 without a valid token, 404 when
    /// the organisation is not the token's, else the request goes on with the caller and the organisation, admin or developer.
    /// </summary>
    public static ValueTask<object?> RequireOrganisationMember(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next) =>
        RequireOrganisationAsync(invocation, next, adminOnly: false);

    /// <summary>
    /// Both filters: the token's caller must belong to the organisation the route names, and with
    /// <paramref name="adminOnly"/> be one of its admins.
    /// </summary>
    private static async ValueTask<object?> RequireOrganisationAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next, bool adminOnly)
    {
        var context = invocation.HttpContext;
        var services = context.RequestServices;
        var database = services.GetRequiredService<Database>();
        var time = services.GetRequiredService<TimeProvider>();
        var caller = await AuthenticateAsync(context, database, time, context.RequestAborted).ConfigureAwait(false);
        if (caller is null)
        {
            return Unauthorized(context);
        }

        var slug = context.GetRouteValue("org") as string ?? "";
        var organisation = await Organisation.FindAsync(database, slug, context.RequestAborted).ConfigureAwait(false);
        if (organisation is null || organisation.Id != caller.OrganisationId)
        {
            return Problems.Result(StatusCodes.Status404NotFound, "Organisation not found", $"there is no organisation \"{slug}\"");
        }

        if (adminOnly && caller.Role != Roles.Admin)
        {
            return Problems.Result(StatusCodes.Status403Forbidden, "Forbidden", "this endpoint needs an admin token; the token presented is a developer token");
        }

        context.Items[typeof(Caller)] = caller;
        context.Items[typeof(Organisation)] = organisation;
        return await next(invocation).ConfigureAwait(false);
    }

    /// <summary>401 with <c>WWW-Authenticate: Bearer</c>: no token, or one that is unknown, expired or revoked (which of these is not said).</summary>
    public static IResult Unauthorized(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return Problems.Result(StatusCodes.Status401Unauthorized, "Unauthorized", "a valid bearer token is required (Authorization: Bearer <token>)");
    }

    public static Caller CallerOf(HttpContext context) => (Caller)context.Items[typeof(Caller)]!;

    public static Organisation OrganisationOf(HttpContext context) => (Organisation)context.Items[typeof(Organisation)]!;

    /// <summary>Records a new token; returns its id. The value itself is not stored.</summary>
    public static async Task<string> CreateTokenAsync(DbConnection connection, DbTransaction transaction, string organisationId, string? accountId, string role, string name, string token, DateTimeOffset now, DateTimeOffset? expires, CancellationToken cancellationToken)
    {
        var id = Tokens.NewId("tok");
        // The organisation's lock first, the lock the audit row of this transaction takes: in the other order two
        // creations at once deadlock (each insert's foreign key holds a share lock on the organisation's row).
        await Database.LockOrganisationOfAsync(connection, transaction, organisationId, cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "INSERT INTO api_tokens (id, organisation_id, account_id, role, name, token_hash, created_at, expires_at) VALUES (@id, @org, @account, @role, @name, @hash, @at, @expires)",
            transaction, cancellationToken,
            ("id", id), ("org", organisationId), ("account", accountId), ("role", role), ("name", name), ("hash", Tokens.Hash(token)),
            ("at", Timestamps.ToText(now)), ("expires", expires is { } e ? Timestamps.ToText(e) : null)).ConfigureAwait(false);
        return id;
    }
}
