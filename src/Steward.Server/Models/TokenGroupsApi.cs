using System.Text;

namespace Steward.Server.Models;

/// <summary>
/// <c>GET/PUT /api/v1/orgs/{org}/models/token-groups/{tokenId}</c> with <c>{"groups": ["contractors"]}</c>: the groups a
/// token's holder belongs to, which decide the group rules that apply to them (until an identity provider supplies
/// them). A PUT replaces the list; audited with before and after.
/// </summary>
internal static class TokenGroupsApi
{
    public const int MaxGroups = 100;

    public static void Map(RouteGroupBuilder organisation)
    {
        organisation.MapGet("/models/token-groups/{tokenId}", GetAsync);
        organisation.MapPut("/models/token-groups/{tokenId}", PutAsync);
    }

    internal static async Task<IResult> GetAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        var tokenId = context.GetRouteValue("tokenId") as string ?? "";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (await connection.ScalarAsync("SELECT 1 FROM api_tokens WHERE id = @id AND organisation_id = @org", null, cancellationToken, ("id", tokenId), ("org", organisation.Id)).ConfigureAwait(false) is null)
        {
            return TokenNotFound(tokenId);
        }

        var groups = await GroupsAsync(connection, null, tokenId, cancellationToken).ConfigureAwait(false);
        return new JsonBytes(View(tokenId, groups), StatusCodes.Status200OK);
    }

    internal static async Task<IResult> PutAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var read = await RequestRecord.ReadAsync(context.Request, 64 * 1024, ServerJsonContext.Default.TokenGroupsRequest, (body, check) => body.Validate(check), cancellationToken)
            .ConfigureAwait(false);
        if (!read.Ok)
        {
            return Problems.Of(read.Problem);
        }

        var groups = read.Value;
        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var tokenId = context.GetRouteValue("tokenId") as string ?? "";
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        if (await connection.ScalarAsync("SELECT 1 FROM api_tokens WHERE id = @id AND organisation_id = @org", transaction, cancellationToken, ("id", tokenId), ("org", organisation.Id)).ConfigureAwait(false) is null)
        {
            return TokenNotFound(tokenId);
        }

        var before = await GroupsAsync(connection, transaction, tokenId, cancellationToken).ConfigureAwait(false);
        if (!before.SequenceEqual(groups, StringComparer.Ordinal))
        {
            await connection.ExecuteAsync("DELETE FROM api_token_groups WHERE token_id = @id", transaction, cancellationToken, ("id", tokenId)).ConfigureAwait(false);
            foreach (var group in groups)
            {
                await connection.ExecuteAsync("INSERT INTO api_token_groups (token_id, group_name) VALUES (@id, @group)", transaction, cancellationToken, ("id", tokenId), ("group", group)).ConfigureAwait(false);
            }

            await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "token.groups.update", "token:" + tokenId,
                Encoding.UTF8.GetString(View(tokenId, before)), Encoding.UTF8.GetString(View(tokenId, groups)), null, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        return new JsonBytes(View(tokenId, groups), StatusCodes.Status200OK);
    }

    private static async Task<List<string>> GroupsAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction? transaction, string tokenId, CancellationToken cancellationToken) =>
        await connection.QueryAsync("SELECT group_name FROM api_token_groups WHERE token_id = @id ORDER BY group_name", transaction, r => r.GetString(0), cancellationToken, ("id", tokenId)).ConfigureAwait(false);

    private static IResult TokenNotFound(string tokenId) =>
        Problems.Result(StatusCodes.Status404NotFound, "Token not found", $"there is no token \"{tokenId}\" in this organisation");

    private static byte[] View(string tokenId, IReadOnlyList<string> groups) => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("token", tokenId);
        w.WriteStartArray("groups");
        foreach (var group in groups)
        {
            w.WriteStringValue(group);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });
}
