using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Steward.Server.Hosting;
using Steward.Server.Http;
using Steward.Server.Storage;

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
        var request = TokenRequest.Read(await JsonForm.ReadAsync(context.Request, MaxBodyBytes, TokenRequest.Names, cancellationToken).ConfigureAwait(false), time);
        if (!request.Ok)
        {
            return Problems.Of(request.Problem);
        }

        var created = await TokenOperations.CreateAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), request.Value, cancellationToken).ConfigureAwait(false);
        if (created.Ok)
        {
            context.Response.Headers.CacheControl = "no-store";
        }

        return created.ToResult(c => ResponseJson.Write(w =>
        {
            Write(w, c.Row, c.Now);
            w.WriteString("token", c.Token);
            w.WriteEndObject();
        }));
    }

    /// <summary><c>GET …/tokens</c>: every token of the organisation, newest first, with its status; never a value or a hash.</summary>
    internal static async Task<IResult> ListAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var rows = await TokenOperations.ListAsync(database, Authentication.OrganisationOf(context), cancellationToken).ConfigureAwait(false);
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
        var problem = await TokenOperations.RevokeAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context),
            context.GetRouteValue("id") as string ?? "", time, cancellationToken).ConfigureAwait(false);
        return problem is null ? Results.NoContent() : Problems.Of(problem);
    }

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

        w.WriteString("status", row.Status(now));
    }
}
