using Steward.Server.Registry;

namespace Steward.Server.Organisations;

/// <summary>
/// Engaging and lifting the organisation's emergency stop, for the admin API (<see cref="EmergencyStops"/>) and the
/// console alike: each is audited in its transaction and raises the organisation profile's revision. The caller was
/// authorised by whoever calls: the API's admin filter, or the console's session gate.
/// </summary>
internal static class EmergencyStopOperations
{
    /// <summary>Engages the stop (or replaces the reason of the one in force, keeping since when); the stop in force. The same reason again changes nothing.</summary>
    public static async Task<EmergencyStop> EngageAsync(Database database, Caller caller, Organisation organisation, string reason, TimeProvider time,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var before = await EmergencyStops.FindAsync(connection, transaction, organisation.Id, cancellationToken).ConfigureAwait(false);
        var after = new EmergencyStop(reason, before?.Since ?? Timestamps.ToText(now), caller.Actor);
        if (before is not null && before.Reason == reason)
        {
            return before;
        }

        await connection.ExecuteAsync(before is null
                ? "INSERT INTO emergency_stops (organisation_id, reason, stopped_at, stopped_by) VALUES (@org, @reason, @at, @by)"
                : "UPDATE emergency_stops SET reason = @reason, stopped_by = @by WHERE organisation_id = @org",
            transaction, cancellationToken, ("org", organisation.Id), ("reason", after.Reason), ("at", after.Since), ("by", after.By)).ConfigureAwait(false);
        var revision = await Publishing.BumpRevisionAsync(connection, transaction, organisation.Id, now, cancellationToken).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "emergency-stop.engage", EmergencyStops.Subject,
            before is null ? null : EmergencyStops.Json(before), EmergencyStops.Json(after), revision == 0 ? null : revision, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return after;
    }

    /// <summary>Lifts the stop; each account's own profile applies again. Lifting a stop not in force changes nothing.</summary>
    public static async Task LiftAsync(Database database, Caller caller, Organisation organisation, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        if (await EmergencyStops.FindAsync(connection, transaction, organisation.Id, cancellationToken).ConfigureAwait(false) is not { } before)
        {
            return;
        }

        await connection.ExecuteAsync("DELETE FROM emergency_stops WHERE organisation_id = @org", transaction, cancellationToken, ("org", organisation.Id)).ConfigureAwait(false);
        var revision = await Publishing.BumpRevisionAsync(connection, transaction, organisation.Id, now, cancellationToken).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "emergency-stop.lift", EmergencyStops.Subject,
            EmergencyStops.Json(before), null, revision == 0 ? null : revision, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}
