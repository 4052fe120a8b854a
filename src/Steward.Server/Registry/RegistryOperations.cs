using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Server.Registry;

/// <summary>
/// Changing an organisation's registry, for the admin API (<see cref="AdminRegistryApi"/>) and the console alike: publish
/// a version, edit its metadata, change its status (deprecate, delete, undelete, any status). Each change recomputes
/// latest where it applies, raises the registry revision and is audited in its transaction. The caller was authorised by
/// whoever calls: the API's admin filter, or the console's session gate.
/// </summary>
internal static class RegistryOperations
{
    /// <summary>A server.json body (at most <see cref="RequestBodies.MaxBytes"/>, else 413), read and validated: 400 unreadable, 422 with every problem (path, rule, message, hint).</summary>
    public static Outcome<ServerDetail> ReadServerJson(byte[] body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (body.Length > RequestBodies.MaxBytes)
        {
            return Outcome<ServerDetail>.Refused(Problems.BodyOf(RequestBodies.TooLarge(RequestBodies.MaxBytes)));
        }

        return AdminRegistryApi.LoadServerJson(body, out var server) is { } refused
            ? Outcome<ServerDetail>.Refused(Problems.BodyOf(refused))
            : Outcome<ServerDetail>.Done(server!);
    }

    /// <summary>Publishes a version: 201 with the new entry; 409 when that version exists (versions are immutable).</summary>
    public static async Task<Outcome<StoredEntry>> PublishAsync(Database database, Caller caller, Organisation organisation, ServerDetail server, TimeProvider time,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentNullException.ThrowIfNull(server);
        var entry = await Publishing.PublishAsync(database, organisation.Id, server, caller.Actor, Timestamps.Now(time), cancellationToken).ConfigureAwait(false);
        return entry is null
            ? Outcome<StoredEntry>.Refused(Problems.Body(StatusCodes.Status409Conflict, "Version already published",
                $"version {server.Version} of {server.Name} is already published; published versions are immutable, so publish a new version number"))
            : Outcome<StoredEntry>.Done(entry, StatusCodes.Status201Created);
    }

    /// <summary>
    /// Edits the metadata of version <paramref name="version"/> of <paramref name="name"/> (an admin correction): the
    /// server.json's name and version must be these (400 otherwise: a version cannot be renamed or renumbered); status and
    /// publish time stay. The entry as it now is; 404 when the version does not exist. The same server.json changes nothing.
    /// </summary>
    public static async Task<Outcome<StoredEntry>> EditAsync(Database database, Caller caller, Organisation organisation, string name, string version, ServerDetail server,
        TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentNullException.ThrowIfNull(server);
        if (server.Name != name)
        {
            return Outcome<StoredEntry>.Refused(Problems.BodyOf(Problems.BadRequest($"cannot rename a server: the body's name \"{server.Name}\" is not the path's \"{name}\"")));
        }

        if (server.Version != version)
        {
            return Outcome<StoredEntry>.Refused(Problems.BodyOf(Problems.BadRequest(
                $"version in body (\"{server.Version}\") must match the version in the path (\"{version}\"); publish a new version instead")));
        }

        var now = Timestamps.Now(time);
        var json = RegistryJson.Canonical(server);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var before = await Publishing.FindAsync(connection, transaction, organisation.Id, name, version, cancellationToken).ConfigureAwait(false);
        if (before is null)
        {
            return Outcome<StoredEntry>.Refused(Problems.BodyOf(Problems.ServerNotFound(name)));
        }

        if (before.ServerJson == json)
        {
            return Outcome<StoredEntry>.Done(before);
        }

        var after = await Publishing.ReplaceServerJsonAsync(connection, transaction, organisation.Id, name, version, json, now, cancellationToken).ConfigureAwait(false);
        var revision = await Publishing.BumpRevisionAsync(connection, transaction, organisation.Id, now, cancellationToken).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "registry.edit", Publishing.Subject(after),
            RegistryJson.AuditView(before), RegistryJson.AuditView(after), revision, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Outcome<StoredEntry>.Done(after);
    }

    /// <summary>Deprecates the version, with an optional message (at most 500 characters, else 422); 400 when it is already deprecated with that message.</summary>
    public static Task<Outcome<StoredEntry>> DeprecateAsync(Database database, Caller caller, Organisation organisation, string name, string version, string? message, TimeProvider time,
        CancellationToken cancellationToken) =>
        TooLong(message) is { } tooLong
            ? Task.FromResult(Outcome<StoredEntry>.Refused(tooLong))
            : ChangeStatusAsync(database, caller, organisation, name, version, ServerStatuses.Deprecated, message is { Length: > 0 } ? message : null, "registry.deprecate",
                unchangedIsError: true, time, cancellationToken);

    /// <summary>Undeletes the version (back to active); 400 when it is already active.</summary>
    public static Task<Outcome<StoredEntry>> UndeleteAsync(Database database, Caller caller, Organisation organisation, string name, string version, TimeProvider time,
        CancellationToken cancellationToken) =>
        ChangeStatusAsync(database, caller, organisation, name, version, ServerStatuses.Active, null, "registry.undelete", unchangedIsError: true, time, cancellationToken);

    /// <summary>
    /// A soft delete (status deleted; the row stays, shown only to the organisation's admins), latest recomputed. Deleting
    /// a deleted version changes nothing (200 with it).
    /// </summary>
    public static Task<Outcome<StoredEntry>> DeleteAsync(Database database, Caller caller, Organisation organisation, string name, string version, TimeProvider time,
        CancellationToken cancellationToken) =>
        ChangeStatusAsync(database, caller, organisation, name, version, ServerStatuses.Deleted, null, "registry.delete", unchangedIsError: false, time, cancellationToken);

    /// <summary>Sets the version's status (active, deprecated or deleted) and message, as the status PATCH reads them; 400 when nothing changes.</summary>
    public static Task<Outcome<StoredEntry>> SetStatusAsync(Database database, Caller caller, Organisation organisation, string name, string version, string status, string? message,
        TimeProvider time, CancellationToken cancellationToken) =>
        ChangeStatusAsync(database, caller, organisation, name, version, status, message, "registry.status", unchangedIsError: true, time, cancellationToken);

    /// <summary>The 422 for a status message over 500 characters, or null.</summary>
    internal static ProblemBody? TooLong(string? message) => message is not null && message.EnumerateRunes().Count() > RegistryValidator.MaxStatusMessageLength
        ? Problems.Body(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", "statusMessage is longer than 500 characters",
            [new ProblemItem { Location = "body.statusMessage", Message = "expected length <= 500" }])
        : null;

    private static async Task<Outcome<StoredEntry>> ChangeStatusAsync(Database database, Caller caller, Organisation organisation, string name, string version, string status,
        string? message, string action, bool unchangedIsError, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        var (before, after) = await StatusChange.ApplyAsync(database, organisation.Id, caller.Actor, action, name, version, status, message, Timestamps.Now(time), cancellationToken)
            .ConfigureAwait(false);
        if (before is null)
        {
            return Outcome<StoredEntry>.Refused(Problems.BodyOf(Problems.ServerNotFound(name)));
        }

        if (after is null)
        {
            return unchangedIsError
                ? Outcome<StoredEntry>.Refused(Problems.BodyOf(Problems.BadRequest($"No changes to apply: status is already {status}")))
                : Outcome<StoredEntry>.Done(before);
        }

        return Outcome<StoredEntry>.Done(after);
    }
}
