using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Server.Registry;

/// <summary>
/// The admin side of an organisation's registry: publish a version, edit its metadata, change its status (deprecate,
/// delete, undelete), import documents and other registries, and mint registry publish tokens. Publishing, editing
/// and status changes are <see cref="RegistryOperations"/> and imports <see cref="RegistryImport"/>, which the console
/// calls too; these endpoints are their HTTP face.
/// </summary>
internal static class AdminRegistryApi
{
    public static void Map(RouteGroupBuilder organisation)
    {
        organisation.MapPost("/registry/servers", PublishAsync);
        organisation.MapPatch("/registry/servers/{**path}", UpdateStatusAsync);
        organisation.MapPut("/registry/servers/{**path}", EditAsync);
        organisation.MapDelete("/registry/servers/{**path}", DeleteAsync);
        organisation.MapPost("/registry/servers/{**path}", StatusActionAsync);
        organisation.MapPost("/registry/import", ImportAsync);
        organisation.MapPost("/registry/publish-tokens", PublishTokens.CreateAsync);
    }

    /// <summary>
    /// <c>POST /api/v1/orgs/{org}/registry/servers</c> with a server.json: 201 with the new entry; 422 with every problem
    /// (path, rule, message, hint); 409 when that version exists (versions are immutable); 413 over 1 MiB.
    /// </summary>
    internal static async Task<IResult> PublishAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var body = await RequestBodies.ReadAsync(context.Request, RequestBodies.MaxBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(RequestBodies.MaxBytes);
        }

        var server = RegistryOperations.ReadServerJson(body);
        if (!server.Ok)
        {
            return Problems.Of(server.Problem);
        }

        var organisation = Authentication.OrganisationOf(context);
        var published = await RegistryOperations.PublishAsync(database, Authentication.CallerOf(context), organisation, server.Value, time, cancellationToken).ConfigureAwait(false);
        if (published.Ok)
        {
            context.Response.Headers.Location = $"/o/{organisation.Slug}/registry/v0.1/servers/{Uri.EscapeDataString(server.Value.Name)}/versions/{Uri.EscapeDataString(server.Value.Version)}";
        }

        return published.ToResult(RegistryJson.Item);
    }

    /// <summary>
    /// <c>POST /api/v1/orgs/{org}/registry/import[?atomic=true][&amp;namespace=…]</c>: <see cref="RegistryImport.ImportAsync"/>
    /// in one of the instance's import slots (503 with <c>Retry-After</c> when none is free), the body read only once
    /// a slot is held; 413 over <see cref="RegistryImport.MaxBodyBytes"/>, before a byte is read when the length says so.
    /// </summary>
    internal static async Task<IResult> ImportAsync(HttpContext context, Database database, TimeProvider time, ServeOptions options, ServerOutbound outbound,
        ILoggerFactory loggers, ImportGate gate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(gate);
        if (context.Request.ContentLength > RegistryImport.MaxBodyBytes)
        {
            return Problems.Of(RegistryImport.TooLarge);
        }

        var imported = await gate.RunAsync(async () =>
        {
            var request = await ImportRequestAsync(context, cancellationToken).ConfigureAwait(false);
            return request.Ok
                ? await RegistryImport.ImportAsync(database, time, options, outbound, loggers, Authentication.CallerOf(context), Authentication.OrganisationOf(context), request.Value,
                    cancellationToken).ConfigureAwait(false)
                : Outcome<ImportReport>.Refused(request.Problem);
        }).ConfigureAwait(false);
        if (imported.Problem == ImportGate.Busy)
        {
            context.Response.Headers.RetryAfter = ImportGate.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return imported.ToResult(report => report.ToJson());
    }

    /// <summary>The import's query (<c>atomic</c>, <c>namespace</c>: 422 naming the one that is wrong) and body (413 over the limit).</summary>
    private static async Task<Outcome<ImportRequest>> ImportRequestAsync(HttpContext context, CancellationToken cancellationToken)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            // Kestrel's own limit a little above the import's, so that the import's answers (413 naming it).
            limit.MaxRequestBodySize = RegistryImport.MaxBodyBytes + 64L * 1024;
        }

        var query = context.Request.Query;
        var atomic = false;
        if (query["atomic"].ToString() is { Length: > 0 } atomicText && !bool.TryParse(atomicText, out atomic))
        {
            return Outcome<ImportRequest>.Refused(Problems.BodyOf(Problems.Query("atomic", "expected true or false", atomicText)));
        }

        string? @namespace = null;
        if (query["namespace"].ToString() is { Length: > 0 } requested)
        {
            if (!RegistryImport.IsNamespace(requested))
            {
                return Outcome<ImportRequest>.Refused(Problems.BodyOf(Problems.Query("namespace", "expected a reverse-DNS namespace such as com.example (letters, digits, '.', '-')", requested)));
            }

            @namespace = requested;
        }

        var body = await RequestBodies.ReadAsync(context.Request, RegistryImport.MaxBodyBytes, cancellationToken).ConfigureAwait(false);
        return body is null ? Outcome<ImportRequest>.Refused(RegistryImport.TooLarge) : Outcome<ImportRequest>.Done(new ImportRequest(body, atomic, @namespace));
    }

    /// <summary>Reads and validates one server.json: null and the server when valid, else the answer (400 unreadable, 422 with every problem).</summary>
    internal static IResult? LoadServerJson(byte[] body, out ServerDetail? server)
    {
        server = null;
        var loaded = RegistryLoader.Load(body, RegistryShape.ServerJson);
        if (loaded.Failure is { } failure)
        {
            return Problems.BadRequest("the body is not a server.json document: " + failure);
        }

        if (!loaded.IsValid)
        {
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, "Invalid server.json",
                $"{loaded.Problems.Count(p => p.IsError)} error(s) in the server.json; each is listed with its path", ProblemItems(loaded.Problems));
        }

        server = loaded.Document!.Entries[0].Server;
        return null;
    }

    internal static List<ProblemItem> ProblemItems(IEnumerable<Problem> problems) => problems.Select(p => new ProblemItem
    {
        Path = p.Path,
        Rule = p.Rule,
        Severity = p.IsError ? "error" : "warning",
        Message = p.Message,
        Hint = p.Hint,
    }).ToList();

    /// <summary>
    /// <c>PUT /api/v1/orgs/{org}/registry/servers/{name}/versions/{version}</c> with a server.json: edits that version's
    /// metadata (an admin correction, as the official registry's admin edit). The body's name and version must be the
    /// path's (a version cannot be renamed or renumbered); the body is validated as a publish is; status and publish time
    /// stay. 200 with the entry; 400 on a name or version mismatch; 404 when the version does not exist; audited.
    /// </summary>
    internal static async Task<IResult> EditAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var path = ServerPath.Parse(context.GetRouteValue("path") as string);
        if (path?.Version is not { } version || version == ServerVersions.Latest)
        {
            return Problems.Result(StatusCodes.Status404NotFound, "Not Found", "use PUT /api/v1/orgs/{org}/registry/servers/{serverName}/versions/{version} (an exact version)");
        }

        var body = await RequestBodies.ReadAsync(context.Request, RequestBodies.MaxBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(RequestBodies.MaxBytes);
        }

        var server = RegistryOperations.ReadServerJson(body);
        if (!server.Ok)
        {
            return Problems.Of(server.Problem);
        }

        var edited = await RegistryOperations.EditAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), path.Name, version, server.Value, time,
            cancellationToken).ConfigureAwait(false);
        return edited.ToResult(RegistryJson.Item);
    }

    /// <summary>
    /// <c>DELETE /api/v1/orgs/{org}/registry/servers/{name}/versions/{version}</c>: a soft delete (status deleted; the row
    /// stays, shown only to the organisation's admins with <c>include_deleted=true</c>), latest recomputed. Deleting a
    /// deleted version changes nothing (200). With <c>?purge=true</c>, a hard delete (<see cref="PurgeAsync"/>).
    /// </summary>
    internal static async Task<IResult> DeleteAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var path = ServerPath.Parse(context.GetRouteValue("path") as string);
        if (path?.Version is not { } version || version == ServerVersions.Latest)
        {
            return Problems.Result(StatusCodes.Status404NotFound, "Not Found", "use DELETE /api/v1/orgs/{org}/registry/servers/{serverName}/versions/{version} (an exact version)");
        }

        var purge = false;
        if (context.Request.Query["purge"].ToString() is { Length: > 0 } purgeText && !bool.TryParse(purgeText, out purge))
        {
            return Problems.Query("purge", "expected true or false", purgeText);
        }

        if (purge)
        {
            return await PurgeAsync(context, database, time, path.Name, version, cancellationToken).ConfigureAwait(false);
        }

        var deleted = await RegistryOperations.DeleteAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), path.Name, version, time, cancellationToken)
            .ConfigureAwait(false);
        return deleted.ToResult(RegistryJson.Item);
    }

    /// <summary>
    /// <c>DELETE …/versions/{version}?purge=true</c>: removes the version for good (for a secret published by mistake):
    /// the row and its server.json are deleted (on SQLite with <c>secure_delete</c>, so the freed pages are zeroed), latest
    /// is recomputed, and an audit row <c>registry.purge</c> records who removed which version and the SHA-256 of what
    /// was removed, never the content. 200 with <c>{name, version, purged: true}</c>; 404 when the version does not exist.
    /// It cannot be undone; copies already read by mirrors and hosts are not reached.
    /// </summary>
    private static async Task<IResult> PurgeAsync(HttpContext context, Database database, TimeProvider time, string name, string version, CancellationToken cancellationToken)
    {
        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (database.Dialect == Dialect.Sqlite)
        {
            await connection.ExecuteAsync("PRAGMA secure_delete = ON", null, cancellationToken).ConfigureAwait(false);
        }

        await using (var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false))
        {
            await database.LockOrganisationAsync(connection, transaction, organisation.Id, cancellationToken).ConfigureAwait(false);
            var before = await Publishing.FindAsync(connection, transaction, organisation.Id, name, version, cancellationToken).ConfigureAwait(false);
            if (before is null)
            {
                return Problems.ServerNotFound(name);
            }

            await connection.ExecuteAsync("DELETE FROM registry_entries WHERE organisation_id = @org AND name = @name AND version = @version",
                transaction, cancellationToken, ("org", organisation.Id), ("name", name), ("version", version)).ConfigureAwait(false);
            await Publishing.RecomputeLatestAsync(connection, transaction, organisation.Id, name, now, cancellationToken).ConfigureAwait(false);
            var revision = await Publishing.BumpRevisionAsync(connection, transaction, organisation.Id, now, cancellationToken).ConfigureAwait(false);
            await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "registry.purge", Publishing.Subject(before),
                RegistryJson.AuditView(before), null, revision, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        if (database.Dialect == Dialect.Sqlite)
        {
            // The old pages may still sit in the write-ahead log: fold it into the file and empty it.
            await connection.ExecuteAsync("PRAGMA wal_checkpoint(TRUNCATE)", null, cancellationToken).ConfigureAwait(false);
            await connection.ExecuteAsync("PRAGMA secure_delete = OFF", null, cancellationToken).ConfigureAwait(false);
        }

        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("version", version);
            w.WriteBoolean("purged", true);
            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }

    /// <summary>
    /// <c>POST …/versions/{version}/undelete</c> (back to active) and <c>POST …/versions/{version}/deprecate</c> with an
    /// optional <c>{"statusMessage": "…"}</c>: shorthands for the status PATCH, audited under their own action names.
    /// </summary>
    internal static async Task<IResult> StatusActionAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var path = ServerPath.Parse(context.GetRouteValue("path") as string);
        if (path?.Rest is not ["versions", { Length: > 0 } version, "undelete" or "deprecate"] || version == ServerVersions.Latest)
        {
            return Problems.Result(StatusCodes.Status404NotFound, "Not Found",
                "use POST /api/v1/orgs/{org}/registry/servers/{serverName}/versions/{version}/undelete or …/deprecate");
        }

        if (path.Rest[2] == "undelete")
        {
            var undeleted = await RegistryOperations.UndeleteAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), path.Name, version, time, cancellationToken)
                .ConfigureAwait(false);
            return undeleted.ToResult(RegistryJson.Item);
        }

        var body = await RequestBodies.ReadAsync(context.Request, RequestBodies.MaxBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(RequestBodies.MaxBytes);
        }

        // No body is no message, as the console's deprecation without one.
        string? message = null;
        if (body.Length > 0)
        {
            var read = RequestRecord.Parse(body, ServerJsonContext.Default.DeprecationRequest, (request, check) => request.Validate(check));
            if (!read.Ok)
            {
                return Problems.Of(read.Problem);
            }

            message = read.Value.StatusMessage;
        }

        var deprecated = await RegistryOperations.DeprecateAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), path.Name, version, message, time,
            cancellationToken).ConfigureAwait(false);
        return deprecated.ToResult(RegistryJson.Item);
    }

    /// <summary>
    /// <c>PATCH /api/v1/orgs/{org}/registry/servers/{name}/versions/{version}/status</c> with <c>{status, statusMessage?}</c>:
    /// active, deprecated or deleted; the message (at most 500 characters) is not allowed with active. Latest is recomputed.
    /// </summary>
    internal static async Task<IResult> UpdateStatusAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var path = ServerPath.Parse(context.GetRouteValue("path") as string);
        if (path?.StatusVersion is not { } version)
        {
            return Problems.Result(StatusCodes.Status404NotFound, "Not Found", "use PATCH /api/v1/orgs/{org}/registry/servers/{serverName}/versions/{version}/status");
        }

        var body = await RequestBodies.ReadAsync(context.Request, RequestBodies.MaxBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(RequestBodies.MaxBytes);
        }

        if (ReadStatusRequest(body, out var status, out var message) is { } refused)
        {
            return refused;
        }

        var changed = await RegistryOperations.SetStatusAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), path.Name, version, status!, message, time,
            cancellationToken).ConfigureAwait(false);
        return changed.ToResult(RegistryJson.Item);
    }

    /// <summary>The official status body: null and the status and message when acceptable, else the answer (400/422).</summary>
    internal static IResult? ReadStatusRequest(byte[] body, out string? status, out string? message)
    {
        status = null;
        message = null;
        var read = RequestRecord.Parse(body, ServerJsonContext.Default.StatusUpdateRequest, (request, check) => request.Validate(check));
        if (!read.Ok)
        {
            return Problems.Of(read.Problem);
        }

        var (requested, given) = read.Value;
        message = given;
        if (message is not null && requested == ServerStatuses.Active)
        {
            return Problems.BadRequest("status_message cannot be provided when setting status to active");
        }

        status = requested;
        return null;
    }
}

/// <summary>A status change of one version or of every version of a server, with latest recomputed, a new revision and an audit row per version.</summary>
internal static class StatusChange
{
    /// <summary>(null, null) when the version does not exist; (before, null) when nothing changes; else (before, after).</summary>
    public static async Task<(StoredEntry? Before, StoredEntry? After)> ApplyAsync(Database database, string organisationId, string actor, string action,
        string name, string version, string status, string? message, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisationId, cancellationToken).ConfigureAwait(false);
        var before = await Publishing.FindAsync(connection, transaction, organisationId, name, version, cancellationToken).ConfigureAwait(false);
        if (before is null)
        {
            return (null, null);
        }

        if (before.Status == status && before.StatusMessage == message)
        {
            return (before, null);
        }

        var after = await Publishing.SetStatusAsync(connection, transaction, organisationId, name, version, status, message, now, cancellationToken).ConfigureAwait(false);
        var revision = await Publishing.BumpRevisionAsync(connection, transaction, organisationId, now, cancellationToken).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisationId, now, actor, action, Publishing.Subject(after),
            RegistryJson.AuditView(before), RegistryJson.AuditView(after), revision, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (before, after);
    }

    /// <summary>
    /// Every version of <paramref name="name"/> to one status, in one transaction. Null when the server has no version;
    /// else the versions as they now are (all of them) and how many changed.
    /// </summary>
    public static async Task<(IReadOnlyList<StoredEntry> Versions, int Changed)?> ApplyAllAsync(Database database, string organisationId, string actor,
        string name, string status, string? message, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisationId, cancellationToken).ConfigureAwait(false);
        var versions = await connection.QueryAsync(
            $"SELECT {StoredEntry.Columns} FROM registry_entries WHERE organisation_id = @org AND name = @name ORDER BY published_at DESC, version DESC",
            transaction, StoredEntry.Read, cancellationToken, ("org", organisationId), ("name", name)).ConfigureAwait(false);
        if (versions.Count == 0)
        {
            return null;
        }

        var changing = versions.Where(v => v.Status != status || v.StatusMessage != message).ToList();
        if (changing.Count == 0)
        {
            return (versions, 0);
        }

        var at = Timestamps.ToText(now);
        foreach (var v in changing)
        {
            await connection.ExecuteAsync(
                "UPDATE registry_entries SET status = @status, status_message = @message, status_changed_at = @at, updated_at = @at WHERE organisation_id = @org AND name = @name AND version = @version",
                transaction, cancellationToken, ("status", status), ("message", message), ("at", at), ("org", organisationId), ("name", name), ("version", v.Version)).ConfigureAwait(false);
        }

        await Publishing.RecomputeLatestAsync(connection, transaction, organisationId, name, now, cancellationToken).ConfigureAwait(false);
        var revision = await Publishing.BumpRevisionAsync(connection, transaction, organisationId, now, cancellationToken).ConfigureAwait(false);
        var after = await connection.QueryAsync(
            $"SELECT {StoredEntry.Columns} FROM registry_entries WHERE organisation_id = @org AND name = @name ORDER BY published_at DESC, version DESC",
            transaction, StoredEntry.Read, cancellationToken, ("org", organisationId), ("name", name)).ConfigureAwait(false);
        foreach (var v in changing)
        {
            var current = after.First(a => a.Version == v.Version);
            await AuditLog.WriteAsync(connection, transaction, organisationId, now, actor, "registry.status", Publishing.Subject(current),
                RegistryJson.AuditView(v), RegistryJson.AuditView(current), revision, cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (after, changing.Count);
    }
}
