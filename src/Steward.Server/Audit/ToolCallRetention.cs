using System.Text;

namespace Steward.Server.Audit;

/// <summary>The body of <c>PUT …/audit/retention</c>: <c>{"toolCallDays": 90}</c>, read by <see cref="RequestRecord"/>.</summary>
internal sealed record RetentionRequest(long? ToolCallDays)
{
    /// <summary>The request, or null with the problem added to <paramref name="check"/>: the days are required, from 1 to 3650.</summary>
    public RetentionRequest? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        if (ToolCallDays is >= ToolCallRetention.MinDays and <= ToolCallRetention.MaxDays)
        {
            return this;
        }

        if (!check.Reported("toolCallDays"))
        {
            check.Add("toolCallDays",
                $"expected a whole number of days from {ToolCallRetention.MinDays} to {ToolCallRetention.MaxDays} to keep tool-call events (the default is {ToolCallRetention.DefaultDays})",
                check.Given("toolCallDays") ? ToolCallDays?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null" : null);
        }

        return null;
    }
}

/// <summary>What one pruning run deleted for one organisation.</summary>
internal sealed record ToolCallPrune(string OrganisationId, long Count, string Cutoff);

/// <summary>
/// How long an organisation keeps the tool-call events its gateways upload, and the pruning that enforces it.
/// <c>GET/PUT /api/v1/orgs/{org}/audit/retention</c> with <c>{"toolCallDays": 90}</c> (1 to 3650; 90 when never set),
/// admins only; a change is audited with before and after. Events are pruned on the time the server received them
/// (a gateway cannot make its events expire early by back-dating them).
/// </summary>
/// <remarks>
/// <c>tool_call_events</c> stays append-only: its delete trigger (migration 10) lets a row go only when it was received
/// before its organisation's <c>pruned_before</c> watermark, which <see cref="PruneAsync"/> moves to the cutoff in the
/// transaction that deletes and records as a <c>tool-calls.pruned</c> row of the admin audit (count, cutoff, retention).
/// Tool-call events carry no hash chain, so there is no anchor to keep; the admin audit itself is never pruned.
/// </remarks>
internal static class ToolCallRetention
{
    public const int DefaultDays = 90;
    public const int MinDays = 1;
    public const int MaxDays = 3650;

    /// <summary>The most events one transaction deletes; a larger backlog is pruned in several, each audited.</summary>
    public const int BatchSize = 10_000;

    private const string Actor = "system:retention";
    private const string Subject = "audit:tool-calls";

    public static void Map(RouteGroupBuilder organisation)
    {
        organisation.MapGet("/audit/retention", GetAsync);
        organisation.MapPut("/audit/retention", PutAsync);
    }

    internal static async Task<IResult> GetAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var (days, prunedBefore) = await ReadAsync(connection, null, organisation.Id, cancellationToken).ConfigureAwait(false);
        return new JsonBytes(View(days, prunedBefore), StatusCodes.Status200OK);
    }

    /// <summary>200 with the setting; 422 listing every problem of the body (<see cref="RetentionRequest"/>), naming <c>toolCallDays</c> when it is missing, not a whole number or out of range.</summary>
    internal static async Task<IResult> PutAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var request = await RequestRecord.ReadAsync(context.Request, 64 * 1024, ServerJsonContext.Default.RetentionRequest, (body, check) => body.Validate(check), cancellationToken)
            .ConfigureAwait(false);
        if (!request.Ok)
        {
            return Problems.Of(request.Problem);
        }

        var days = (int)request.Value.ToolCallDays!.Value;
        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var (before, prunedBefore) = await ReadAsync(connection, transaction, organisation.Id, cancellationToken).ConfigureAwait(false);
        if (before != days)
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO tool_call_retention (organisation_id, days, updated_at) VALUES (@org, @days, @at)
                ON CONFLICT (organisation_id) DO UPDATE SET days = excluded.days, updated_at = excluded.updated_at
                """,
                transaction, cancellationToken, ("org", organisation.Id), ("days", days), ("at", Timestamps.ToText(now))).ConfigureAwait(false);
            await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "audit.retention.update", Subject,
                Encoding.UTF8.GetString(Setting(before)), Encoding.UTF8.GetString(Setting(days)), null, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        return new JsonBytes(View(days, prunedBefore), StatusCodes.Status200OK);
    }

    /// <summary>
    /// Deletes every organisation's events received before its cutoff (now minus its retention), in batches of
    /// <see cref="BatchSize"/>; each batch moves the watermark, deletes and writes its audit row in one transaction.
    /// Several instances may run it at once: the organisation's write lock serialises them, and a run that finds
    /// nothing to delete writes nothing.
    /// </summary>
    public static async Task<IReadOnlyList<ToolCallPrune>> PruneAsync(Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        List<string> organisations;
        await using (var reader = await database.OpenAsync(cancellationToken).ConfigureAwait(false))
        {
            organisations = await reader.QueryAsync("SELECT id FROM organisations ORDER BY id", null, r => r.GetString(0), cancellationToken).ConfigureAwait(false);
        }

        var pruned = new List<ToolCallPrune>();
        foreach (var organisationId in organisations)
        {
            long total = 0;
            string? cutoffText = null;
            while (true)
            {
                var (deleted, cutoff) = await PruneBatchAsync(database, time, organisationId, cancellationToken).ConfigureAwait(false);
                total += deleted;
                cutoffText = cutoff;
                if (deleted < BatchSize)
                {
                    break;
                }
            }

            if (total > 0)
            {
                pruned.Add(new ToolCallPrune(organisationId, total, cutoffText!));
            }
        }

        return pruned;
    }

    private static async Task<(long Deleted, string Cutoff)> PruneBatchAsync(Database database, TimeProvider time, string organisationId, CancellationToken cancellationToken)
    {
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisationId, cancellationToken).ConfigureAwait(false);
        var (days, _) = await ReadAsync(connection, transaction, organisationId, cancellationToken).ConfigureAwait(false);
        var cutoff = Timestamps.ToText(now - TimeSpan.FromDays(days));
        var candidates = await connection.QueryAsync(
            "SELECT id FROM tool_call_events WHERE organisation_id = @org AND received_at < @cutoff ORDER BY id LIMIT @take",
            transaction, r => r.Int64(0), cancellationToken, ("org", organisationId), ("cutoff", cutoff), ("take", BatchSize)).ConfigureAwait(false);
        if (candidates.Count == 0)
        {
            return (0, cutoff);
        }

        await connection.ExecuteAsync(
            """
            INSERT INTO tool_call_retention (organisation_id, days, pruned_before, pruned_at, updated_at) VALUES (@org, NULL, @cutoff, @at, @at)
            ON CONFLICT (organisation_id) DO UPDATE SET pruned_before = excluded.pruned_before, pruned_at = excluded.pruned_at
            """,
            transaction, cancellationToken, ("org", organisationId), ("cutoff", cutoff), ("at", Timestamps.ToText(now))).ConfigureAwait(false);
        var last = candidates[^1];
        long deleted = await connection.ExecuteAsync(
            "DELETE FROM tool_call_events WHERE organisation_id = @org AND received_at < @cutoff AND id <= @last",
            transaction, cancellationToken, ("org", organisationId), ("cutoff", cutoff), ("last", last)).ConfigureAwait(false);
        var detail = Encoding.UTF8.GetString(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("count", deleted);
            w.WriteString("cutoff", cutoff);
            w.WriteNumber("retentionDays", days);
            w.WriteEndObject();
        }));
        await AuditLog.WriteAsync(connection, transaction, organisationId, now, Actor, "tool-calls.pruned", Subject, null, detail, null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (deleted, cutoff);
    }

    /// <summary>The organisation's retention in days (the default when never set) and its watermark (null before any prune).</summary>
    private static async Task<(int Days, string? PrunedBefore)> ReadAsync(DbConnection connection, DbTransaction? transaction, string organisationId, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync("SELECT days, pruned_before FROM tool_call_retention WHERE organisation_id = @org", transaction,
            r => (Days: r.NullableInt64(0), PrunedBefore: r.NullableString(1)), cancellationToken, ("org", organisationId)).ConfigureAwait(false);
        return rows.Count == 0 ? (DefaultDays, null) : ((int)(rows[0].Days ?? DefaultDays), rows[0].PrunedBefore);
    }

    private static byte[] Setting(int days) => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("toolCallDays", days);
        w.WriteEndObject();
    });

    private static byte[] View(int days, string? prunedBefore) => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("toolCallDays", days);
        w.WriteNumber("defaultToolCallDays", DefaultDays);
        w.WritePropertyName("prunedBefore");
        if (prunedBefore is null)
        {
            w.WriteNullValue();
        }
        else
        {
            w.WriteStringValue(prunedBefore);
        }

        w.WriteEndObject();
    });
}
