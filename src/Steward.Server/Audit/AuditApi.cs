using System.Globalization;
using System.Text;

namespace Steward.Server.Audit;

/// <summary>
/// <c>GET /api/v1/orgs/{org}/audit</c>: the organisation's audit rows, newest first, paged by id.
/// <c>GET /api/v1/orgs/{org}/audit/verify</c>: checks the organisation's hash chain from its first row and names the first
/// broken link (<c>{"intact", "rows", "head", "broken": {"id", "index", "reason"}}</c>); admins only, like the listing.
/// <c>GET /api/v1/audit</c>: every organisation's rows for the server's administrators (<see cref="ServerAdministrator"/>),
/// each naming its organisation, with the same paging and filters plus <c>organisation</c>.
/// </summary>
internal static class AuditApi
{
    public static void Map(IEndpointRouteBuilder app, RouteGroupBuilder organisation)
    {
        organisation.MapGet("/audit", ListAsync);
        organisation.MapGet("/audit/verify", VerifyAsync);
        app.MapGet("/api/v1/audit", ListEveryOrganisationAsync);
    }

    internal static Task<IResult> ListAsync(HttpContext context, Database database, CancellationToken cancellationToken) =>
        ListRowsAsync(context, database, Authentication.OrganisationOf(context).Id, cancellationToken);

    internal static async Task<IResult> ListEveryOrganisationAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var (_, refusal) = await ServerAdministrator.CheckAsync(context, database, time, "reading every organisation's audit", cancellationToken).ConfigureAwait(false);
        return refusal ?? await ListRowsAsync(context, database, null, cancellationToken).ConfigureAwait(false);
    }

    internal static async Task<IResult> VerifyAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        await using var connection = await database.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        var result = await AuditChain.VerifyAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var body = ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("intact", result.Break is null);
            w.WriteNumber("rows", result.Rows);
            w.WriteString("head", result.Head);
            if (result.Break is { } broken)
            {
                w.WriteStartObject("broken");
                w.WriteNumber("id", broken.RowId);
                w.WriteNumber("index", broken.Index);
                w.WriteString("reason", broken.Reason);
                w.WriteEndObject();
            }

            w.WriteEndObject();
        });
        return new JsonBytes(body, StatusCodes.Status200OK);
    }

    /// <summary>One organisation's rows, or (<paramref name="organisationId"/> null) every organisation's, each with its organisation's slug.</summary>
    private static async Task<IResult> ListRowsAsync(HttpContext context, Database database, string? organisationId, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        var (page, pageProblem) = AuditPage.From(query);
        if (pageProblem is not null)
        {
            return pageProblem;
        }

        var (limit, before) = page;

        var sql = new StringBuilder("SELECT a.id, a.at, a.actor, a.action, a.object, a.before_json, a.after_json, a.revision, o.slug FROM audit a JOIN organisations o ON o.id = a.organisation_id WHERE ");
        var parameters = new List<(string, object?)>();
        if (organisationId is not null)
        {
            sql.Append("a.organisation_id = @org");
            parameters.Add(("org", organisationId));
        }
        else if (query["organisation"].ToString() is { Length: > 0 } slug)
        {
            sql.Append("o.slug = @slug");
            parameters.Add(("slug", slug));
        }
        else
        {
            sql.Append("1 = 1");
        }

        if (before is { } b)
        {
            sql.Append(" AND a.id < @before");
            parameters.Add(("before", b));
        }

        // Exact matches: the object names one thing (`token:…`, `server:…`), the actor one caller, as the rows spell them.
        foreach (var (name, column) in (ReadOnlySpan<(string, string)>)[("action", "a.action"), ("object", "a.object"), ("actor", "a.actor")])
        {
            if (query[name].ToString() is { Length: > 0 } value)
            {
                sql.Append(" AND ").Append(column).Append(" = @").Append(name);
                parameters.Add((name, value));
            }
        }

        sql.Append(" ORDER BY a.id DESC LIMIT @take");
        parameters.Add(("take", limit + 1));
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(sql.ToString(), null,
            r => (Id: r.Int64(0), At: r.GetString(1), Actor: r.GetString(2), Action: r.GetString(3), Object: r.GetString(4), Before: r.NullableString(5), After: r.NullableString(6), Revision: r.NullableInt64(7), Organisation: r.GetString(8)),
            cancellationToken, [.. parameters]).ConfigureAwait(false);
        var next = AuditPage.Trim(rows, limit, row => row.Id)?.ToString(CultureInfo.InvariantCulture);

        var body = ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("audit");
            foreach (var row in rows)
            {
                w.WriteStartObject();
                w.WriteNumber("id", row.Id);
                if (organisationId is null)
                {
                    w.WriteString("organisation", row.Organisation);
                }

                w.WriteString("at", row.At);
                w.WriteString("actor", row.Actor);
                w.WriteString("action", row.Action);
                w.WriteString("object", row.Object);
                w.WritePropertyName("before");
                if (row.Before is null) { w.WriteNullValue(); } else { w.WriteRawValue(row.Before); }
                w.WritePropertyName("after");
                if (row.After is null) { w.WriteNullValue(); } else { w.WriteRawValue(row.After); }
                if (row.Revision is { } revision)
                {
                    w.WriteNumber("revision", revision);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("metadata");
            if (next is not null)
            {
                w.WriteString("nextCursor", next);
            }

            w.WriteNumber("count", rows.Count);
            w.WriteEndObject();
            w.WriteEndObject();
        });
        return new JsonBytes(body, StatusCodes.Status200OK);
    }
}
