using System.Globalization;
using System.Text;

namespace Steward.Server.AdminConsole;

internal sealed record AuditRow(long Id, string At, string Actor, string Action, string Object, string? Before, string? After, long? Revision);

internal sealed record AuditFilter(string? Actor, string? Object, string? Action, DateTimeOffset? From, DateTimeOffset? To, long? Before);

/// <summary>The audit rows of an organisation for the console: filtered by actor, object and action (parts of them) and time, newest first.</summary>
internal static class ConsoleAudit
{
    public const int PageSize = 25;

    public static async Task<(IReadOnlyList<AuditRow> Rows, long? Next)> ListAsync(Database database, string organisationId, AuditFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(filter);
        var sql = new StringBuilder("SELECT id, at, actor, action, object, before_json, after_json, revision FROM audit WHERE organisation_id = @org");
        var parameters = new List<(string, object?)> { ("org", organisationId) };
        void Contains(string column, string name, string? value)
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                sql.Append(CultureInfo.InvariantCulture, $" AND lower({column}) LIKE @{name} ESCAPE '\\'");
                parameters.Add((name, "%" + Sql.EscapeLike(value.Trim().ToLowerInvariant()) + "%"));
            }
        }

        Contains("actor", "actor", filter.Actor);
        Contains("object", "object", filter.Object);
        Contains("action", "action", filter.Action);
        if (filter.From is { } from)
        {
            sql.Append(" AND at >= @from");
            parameters.Add(("from", Timestamps.ToText(from)));
        }

        if (filter.To is { } to)
        {
            sql.Append(" AND at < @to");
            parameters.Add(("to", Timestamps.ToText(to)));
        }

        if (filter.Before is { } before)
        {
            sql.Append(" AND id < @before");
            parameters.Add(("before", before));
        }

        sql.Append(" ORDER BY id DESC LIMIT @take");
        parameters.Add(("take", PageSize + 1));
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(sql.ToString(), null,
            r => new AuditRow(r.Int64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.NullableString(5), r.NullableString(6), r.NullableInt64(7)),
            cancellationToken, [.. parameters]).ConfigureAwait(false);
        return (rows, AuditPage.Trim(rows, PageSize, row => row.Id));
    }
}
