using System.Data.Common;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Steward.Server.Audit;
using Steward.Server.Hosting;
using Steward.Server.Http;
using Steward.Server.Identity;
using Steward.Server.Registry;
using Steward.Server.Storage;

namespace Steward.Server.Organisations;

/// <summary>An organisation's emergency stop in force: why (the admin's words, shown to every developer), since when, by whom.</summary>
public sealed record EmergencyStop(string Reason, string Since, string By);

/// <summary>
/// The organisation-wide emergency stop (<c>/api/v1/orgs/{org}/emergency-stop</c>, and the console's Settings page): one
/// switch that turns MCP off for every account of the organisation whatever its own profile says, until it is lifted.
/// Engaging and lifting are audited and raise the organisation profile's revision, so every bundle and export changes and
/// the change channels announce it at once. See docs/profiles-and-tokens.md "Emergency stop".
/// </summary>
internal static class EmergencyStops
{
    public const int MaxReasonLength = 500;
    public const string Subject = "emergency-stop";
    private const int MaxBodyBytes = 4 * 1024;

    public static void Map(RouteGroupBuilder organisation)
    {
        organisation.MapGet("/emergency-stop", GetAsync);
        organisation.MapPut("/emergency-stop", EngageAsync);
        organisation.MapDelete("/emergency-stop", LiftAsync);
    }

    public static async Task<EmergencyStop?> FindAsync(DbConnection connection, DbTransaction? transaction, string organisationId, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync("SELECT reason, stopped_at, stopped_by FROM emergency_stops WHERE organisation_id = @org", transaction,
            r => new EmergencyStop(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken, ("org", organisationId)).ConfigureAwait(false);
        return rows.Count == 1 ? rows[0] : null;
    }

    internal static async Task<IResult> GetAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return new JsonBytes(View(await FindAsync(connection, null, organisation.Id, cancellationToken).ConfigureAwait(false)), StatusCodes.Status200OK);
    }

    /// <summary><c>PUT</c> <c>{"reason": "…"}</c>: engages the stop (or replaces the reason of the one in force).</summary>
    internal static async Task<IResult> EngageAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var form = await JsonForm.ReadAsync(context.Request, MaxBodyBytes, ["reason"], cancellationToken).ConfigureAwait(false);
        if (form.Problem is { } problem)
        {
            return problem;
        }

        if (!form.Root.TryGetProperty("reason", out var reasonElement) || reasonElement.ValueKind != JsonValueKind.String
            || reasonElement.GetString()!.Trim() is not { Length: > 0 and <= MaxReasonLength } reason
            || reason.Any(char.IsControl))
        {
            return JsonForm.Invalid("reason", $"required: what developers are told, 1 to {MaxReasonLength} characters on one line (for example \"incident INC-42: MCP is stopped while we investigate\")",
                form.Root.TryGetProperty("reason", out var given) ? given.GetRawText() : null);
        }

        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var before = await FindAsync(connection, transaction, organisation.Id, cancellationToken).ConfigureAwait(false);
        var after = new EmergencyStop(reason, before?.Since ?? Timestamps.ToText(now), caller.Actor);
        if (before is not null && before.Reason == reason)
        {
            return new JsonBytes(View(before), StatusCodes.Status200OK);
        }

        await connection.ExecuteAsync(before is null
                ? "INSERT INTO emergency_stops (organisation_id, reason, stopped_at, stopped_by) VALUES (@org, @reason, @at, @by)"
                : "UPDATE emergency_stops SET reason = @reason, stopped_by = @by WHERE organisation_id = @org",
            transaction, cancellationToken, ("org", organisation.Id), ("reason", after.Reason), ("at", after.Since), ("by", after.By)).ConfigureAwait(false);
        var revision = await Publishing.BumpRevisionAsync(connection, transaction, organisation.Id, now, cancellationToken).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "emergency-stop.engage", Subject,
            before is null ? null : Json(before), Json(after), revision == 0 ? null : revision, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new JsonBytes(View(after), StatusCodes.Status200OK);
    }

    /// <summary><c>DELETE</c>: lifts the stop; each account's own profile applies again. Lifting a stop not in force changes nothing.</summary>
    internal static async Task<IResult> LiftAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        if (await FindAsync(connection, transaction, organisation.Id, cancellationToken).ConfigureAwait(false) is not { } before)
        {
            return new JsonBytes(View(null), StatusCodes.Status200OK);
        }

        await connection.ExecuteAsync("DELETE FROM emergency_stops WHERE organisation_id = @org", transaction, cancellationToken, ("org", organisation.Id)).ConfigureAwait(false);
        var revision = await Publishing.BumpRevisionAsync(connection, transaction, organisation.Id, now, cancellationToken).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "emergency-stop.lift", Subject,
            Json(before), null, revision == 0 ? null : revision, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new JsonBytes(View(null), StatusCodes.Status200OK);
    }

    private static string Json(EmergencyStop stop) => System.Text.Encoding.UTF8.GetString(ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("reason", stop.Reason);
        w.WriteString("since", stop.Since);
        w.WriteString("by", stop.By);
        w.WriteEndObject();
    }));

    private static byte[] View(EmergencyStop? stop) => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteBoolean("stopped", stop is not null);
        if (stop is not null)
        {
            w.WriteString("reason", stop.Reason);
            w.WriteString("since", stop.Since);
            w.WriteString("by", stop.By);
        }

        w.WriteEndObject();
    });
}
