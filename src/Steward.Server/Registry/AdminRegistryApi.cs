using System.Data.Common;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Steward.Core.Registry;
using Steward.Core.Validation;
using Steward.Server.Audit;
using Steward.Server.Hosting;
using Steward.Server.Identity;
using Steward.Server.Storage;

namespace Steward.Server.Registry;

/// <summary>The admin side of an organisation's registry: publish a version, change a version's status.</summary>
internal static class AdminRegistryApi
{
    public static void Map(RouteGroupBuilder organisation)
    {
        organisation.MapPost("/registry/servers", PublishAsync);
        organisation.MapPatch("/registry/servers/{**path}", UpdateStatusAsync);
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

        var loaded = RegistryLoader.Load(body, RegistryShape.ServerJson);
        if (loaded.Failure is { } failure)
        {
            return Problems.BadRequest("the body is not a server.json document: " + failure);
        }

        if (!loaded.IsValid)
        {
            var problems = loaded.Problems.Select(p => new ProblemItem
            {
                Path = p.Path,
                Rule = p.Rule,
                Severity = p.IsError ? "error" : "warning",
                Message = p.Message,
                Hint = p.Hint,
            }).ToList();
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, "Invalid server.json",
                $"{loaded.Problems.Count(p => p.IsError)} error(s) in the server.json; each is listed with its path", problems);
        }

        var server = loaded.Document!.Entries[0].Server;
        var json = RegistryJson.Canonical(server);
        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        await database.LockOrganisationAsync(connection, transaction, organisation.Id, cancellationToken).ConfigureAwait(false);
        if (await Publishing.FindAsync(connection, transaction, organisation.Id, server.Name, server.Version, cancellationToken).ConfigureAwait(false) is not null)
        {
            return VersionExists(server);
        }

        var entry = await Publishing.InsertAsync(connection, transaction, organisation.Id, server, json, now, cancellationToken).ConfigureAwait(false);
        var revision = await Publishing.BumpRevisionAsync(connection, transaction, organisation.Id, now, cancellationToken).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "registry.publish", Subject(entry), null, RegistryJson.AuditView(entry), revision, cancellationToken).ConfigureAwait(false);
        try
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbException)
        {
            // Another instance published the same version between our check and our commit.
            if (await ExistsAsync(database, organisation.Id, server, cancellationToken).ConfigureAwait(false))
            {
                return VersionExists(server);
            }

            throw;
        }

        context.Response.Headers.Location = $"/o/{organisation.Slug}/registry/v0.1/servers/{Uri.EscapeDataString(server.Name)}/versions/{Uri.EscapeDataString(server.Version)}";
        return new JsonBytes(RegistryJson.Item(entry), StatusCodes.Status201Created);
    }

    private static async Task<bool> ExistsAsync(Database database, string organisationId, ServerDetail server, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await Publishing.FindAsync(connection, null, organisationId, server.Name, server.Version, cancellationToken).ConfigureAwait(false) is not null;
    }

    private static IResult VersionExists(ServerDetail server) =>
        Problems.Result(StatusCodes.Status409Conflict, "Version already published",
            $"version {server.Version} of {server.Name} is already published; published versions are immutable, so publish a new version number");

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

        StatusUpdateRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(body, ServerJsonContext.Default.StatusUpdateRequest);
        }
        catch (JsonException e)
        {
            return Problems.BadRequest("the body is not JSON of the form {\"status\": \"deprecated\", \"statusMessage\": \"...\"}: " + e.Message);
        }

        if (request?.Status is not { } status || !ServerStatuses.All.Contains(status, StringComparer.Ordinal))
        {
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", "status must be one of active, deprecated, deleted",
                [new ProblemItem { Location = "body.status", Message = "expected one of active, deprecated, deleted", Value = request?.Status }]);
        }

        var message = request.StatusMessage is { Length: > 0 } m ? m : null;
        if (message is not null && message.EnumerateRunes().Count() > RegistryValidator.MaxStatusMessageLength)
        {
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", "statusMessage is longer than 500 characters",
                [new ProblemItem { Location = "body.statusMessage", Message = "expected length <= 500" }]);
        }

        if (message is not null && status == ServerStatuses.Active)
        {
            return Problems.BadRequest("status_message cannot be provided when setting status to active");
        }

        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        await database.LockOrganisationAsync(connection, transaction, organisation.Id, cancellationToken).ConfigureAwait(false);
        var before = await Publishing.FindAsync(connection, transaction, organisation.Id, path.Name, version, cancellationToken).ConfigureAwait(false);
        if (before is null)
        {
            return Problems.ServerNotFound(path.Name);
        }

        if (before.Status == status && before.StatusMessage == message)
        {
            return Problems.BadRequest($"No changes to apply: status is already {status}");
        }

        var after = await Publishing.SetStatusAsync(connection, transaction, organisation.Id, path.Name, version, status, message, now, cancellationToken).ConfigureAwait(false);
        var revision = await Publishing.BumpRevisionAsync(connection, transaction, organisation.Id, now, cancellationToken).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "registry.status", Subject(after),
            RegistryJson.AuditView(before), RegistryJson.AuditView(after), revision, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new JsonBytes(RegistryJson.Item(after), StatusCodes.Status200OK);
    }

    private static string Subject(StoredEntry entry) => $"registry:{entry.Name}@{entry.Version}";
}
