using System.Text.Json.Serialization;

namespace Steward.Server.Identity;

/// <summary>
/// API tokens of an organisation (admin API): create (the value is in the response once and never again; only its
/// SHA-256 is stored), list (no values, no hashes), revoke. A developer token belongs to an account; every token expires.
/// What each does is <see cref="TokenOperations"/>, which the console calls too; this is its HTTP face.
/// </summary>
internal static class TokensApi
{
    public const int MaxBodyBytes = 16 * 1024;
    public const int DefaultLifetimeDays = 90;
    public const int MaxLifetimeDays = 730;

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
        var request = await RequestRecord.ReadAsync(context.Request, MaxBodyBytes, ServerJsonContext.Default.NewToken,
            (token, check) => token.Validate(check, Timestamps.Now(time)), cancellationToken).ConfigureAwait(false);
        if (!request.Ok)
        {
            return Problems.Of(request.Problem);
        }

        var created = await TokenOperations.CreateAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), request.Value, cancellationToken).ConfigureAwait(false);
        if (created.Ok)
        {
            context.Response.Headers.CacheControl = "no-store";
        }

        return created.ToResult(c => ResponseJson.Serialize(TokenJson.Of(c.Row, c.Now, c.Token), ServerJsonContext.Default.TokenJson));
    }

    /// <summary><c>GET …/tokens</c>: every token of the organisation, newest first, with its status; never a value or a hash.</summary>
    internal static async Task<IResult> ListAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var rows = await TokenOperations.ListAsync(database, Authentication.OrganisationOf(context), cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        return new JsonBytes(ResponseJson.Serialize(new TokenList([.. rows.Select(row => TokenJson.Of(row, now))]), ServerJsonContext.Default.TokenList), StatusCodes.Status200OK);
    }

    /// <summary><c>DELETE …/tokens/{id}</c>: revokes the token (it answers 401 from then on). 204; 404 for a token of another organisation or none.</summary>
    internal static async Task<IResult> RevokeAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var problem = await TokenOperations.RevokeAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context),
            context.GetRouteValue("id") as string ?? "", time, cancellationToken).ConfigureAwait(false);
        return problem is null ? Results.NoContent() : Problems.Of(problem);
    }
}

/// <summary>
/// A token as the API shows it: never its hash, and its value only in the answer that created it. An account, an expiry
/// or a revocation it does not have is written as <c>null</c>.
/// </summary>
internal sealed record TokenJson(
    string Id,
    string Name,
    string Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Account,
    string CreatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? ExpiresAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? RevokedAt,
    string Status,
    string? Token)
{
    /// <summary>The token <paramref name="row"/> with its status at <paramref name="now"/>, and its value when it was just created.</summary>
    public static TokenJson Of(TokenRow row, DateTimeOffset now, string? token = null)
    {
        ArgumentNullException.ThrowIfNull(row);
        return new(row.Id, row.Name, row.Role, row.Account, row.CreatedAt, row.ExpiresAt, row.RevokedAt, row.Status(now), token);
    }
}

/// <summary>The answer of <c>GET …/tokens</c>.</summary>
internal sealed record TokenList(IReadOnlyList<TokenJson> Tokens);
