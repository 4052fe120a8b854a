using System.Globalization;
using System.Text;

namespace Steward.Server.Audit;

/// <summary>
/// Reading the tool calls developers' gateways recorded, for the admin API (<see cref="ToolCallsApi"/>) and the console
/// alike: the console's tool-call and tool-rule pages read what the API reads, never the table themselves.
/// </summary>
internal static class ToolCallOperations
{
    /// <summary>The most distinct tools <see cref="KnownToolsAsync"/> answers: enough to preview a rule, bounded for a busy organisation.</summary>
    public const int MaxKnownTools = 2000;

    /// <summary>
    /// The organisation's events matching <paramref name="filter"/> (exact matches; times on the call's time, since
    /// inclusive, until exclusive), newest received first, and the cursor of the next page (null on the last).
    /// </summary>
    public static async Task<(List<ToolCallRow> Rows, long? Next)> QueryAsync(Database database, string organisationId, ToolCallFilter filter, int limit, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder(
            """
            SELECT e.id, e.event_id, e.at, e.received_at, a.slug, e.token_id, t.name, e.server, e.tool, e.decision, e.because, e.duration_ms, e.outcome, e.arguments_json
            FROM tool_call_events e
            JOIN api_tokens t ON t.id = e.token_id
            LEFT JOIN accounts a ON a.id = e.account_id
            WHERE e.organisation_id = @org
            """);
        var parameters = new List<(string, object?)> { ("org", organisationId) };
        void Add(string condition, string name, object? value)
        {
            if (value is not null)
            {
                sql.Append(" AND ").Append(condition);
                parameters.Add((name, value));
            }
        }

        Add("e.id < @before", "before", filter.Before);
        Add("e.server = @server", "server", filter.Server);
        Add("e.tool = @tool", "tool", filter.Tool);
        Add("e.decision = @decision", "decision", filter.Decision);
        Add("e.outcome = @outcome", "outcome", filter.Outcome);
        Add("a.slug = @account", "account", filter.Account);
        Add("e.at >= @since", "since", filter.Since is { } since ? Timestamps.ToText(since) : null);
        Add("e.at < @until", "until", filter.Until is { } until ? Timestamps.ToText(until) : null);
        sql.Append(" ORDER BY e.id DESC LIMIT @take");
        parameters.Add(("take", limit + 1));
        await using var connection = await database.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(sql.ToString(), null,
            r => new ToolCallRow(r.Int64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.NullableString(4), r.GetString(5), r.GetString(6),
                r.GetString(7), r.GetString(8), r.GetString(9), r.GetString(10), Convert.ToDouble(r.GetValue(11), CultureInfo.InvariantCulture), r.GetString(12), r.NullableString(13)),
            cancellationToken, [.. parameters]).ConfigureAwait(false);
        return (rows, AuditPage.Trim(rows, limit, row => row.Id));
    }

    /// <summary>
    /// The tools the organisation's gateways have reported calling, as (server, tool) in order: registry entries do not
    /// list their tools, so these are what a tool rule can be previewed against.
    /// </summary>
    public static async Task<List<(string Server, string Tool)>> KnownToolsAsync(DbConnection connection, string organisationId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return await connection.QueryAsync(
            "SELECT server, tool FROM tool_call_events WHERE organisation_id = @org GROUP BY server, tool ORDER BY server, tool LIMIT @take", null,
            r => (r.GetString(0), r.GetString(1)), cancellationToken, ("org", organisationId), ("take", MaxKnownTools)).ConfigureAwait(false);
    }
}
