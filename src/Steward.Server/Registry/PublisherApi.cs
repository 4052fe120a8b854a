using Steward.Core.Registry;

namespace Steward.Server.Registry;

/// <summary>
/// The endpoints the official <c>mcp-publisher</c> calls, with the official registry's status codes and messages:
/// <c>POST /v0/publish</c>, <c>POST /v0/validate</c>, <c>POST /v0/auth/none</c> (only when anonymous publishing is on),
/// <c>PATCH /v0/servers/{name}/versions/{version}/status</c> and <c>PATCH /v0/servers/{name}/status</c>; also under
/// <c>/v0.1</c>. At the root they write to the first organisation; under <c>/o/{org}/registry</c> to that one.
/// </summary>
internal static class PublisherApi
{
    public const string InvalidToken = "Invalid or expired Registry JWT token";

    public static void Map(IEndpointRouteBuilder app)
    {
        foreach (var basePath in new[] { "", "/o/{org}/registry" })
        {
            foreach (var version in RegistryApi.ApiVersions)
            {
                var group = app.MapGroup(basePath + version);
                group.MapPost("/publish", PublishAsync);
                group.MapPost("/validate", ValidateAsync);
                group.MapPost("/auth/none", AnonymousTokenAsync);
                group.MapPatch("/servers/{**path}", StatusAsync);
            }
        }
    }

    /// <summary>
    /// Who may publish what in the organisation's registry: an actor for the audit and the name patterns
    /// granted (<c>*</c> for an organisation admin).
    /// </summary>
    private sealed record Publisher(Organisation Organisation, string Actor, IReadOnlyList<string> Namespaces);

    private static async Task<Organisation?> ResolveAsync(HttpContext context, Database database, CancellationToken cancellationToken) =>
        context.GetRouteValue("org") is string slug
            ? await Organisation.FindAsync(database, slug, cancellationToken).ConfigureAwait(false)
            : await Organisation.FirstAsync(database, cancellationToken).ConfigureAwait(false);

    private static IResult OrganisationNotFound(HttpContext context) =>
        Problems.Result(StatusCodes.Status404NotFound, "Organisation not found",
            context.GetRouteValue("org") is string slug ? $"there is no registry for \"{slug}\"" : "this server has no organisation yet");

    private static IResult Unauthorized(HttpContext context, string detail)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return Problems.Result(StatusCodes.Status401Unauthorized, "Unauthorized", detail, withError: true);
    }

    /// <summary>
    /// The bearer token as a publisher of <paramref name="organisation"/>'s registry: an admin API token of that
    /// organisation may publish anything; a registry publish token its patterns; a developer token or another
    /// organisation's token nothing (403 on use). Null when the token is unknown, expired or revoked.
    /// </summary>
    private static async Task<Publisher?> AuthenticateAsync(HttpContext context, Database database, TimeProvider time, Organisation organisation, CancellationToken cancellationToken)
    {
        var caller = await Authentication.AuthenticateAsync(context, database, time, cancellationToken).ConfigureAwait(false);
        if (caller is not null)
        {
            return new Publisher(organisation, caller.Actor, caller.OrganisationId == organisation.Id && caller.Role == Roles.Admin ? ["*"] : []);
        }

        var header = context.Request.Headers.Authorization.ToString();
        var token = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : "";
        if (token.Length is 0 or > 512)
        {
            return null;
        }

        var publishToken = await PublishTokens.FindAsync(database, token, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        return publishToken is null
            ? null
            : new Publisher(organisation, publishToken.Actor, publishToken.OrganisationId == organisation.Id ? publishToken.Namespaces : []);
    }

    /// <summary>
    /// The publisher of the registry the request names (the first organisation's on the official paths), or the answer
    /// that ends the request: 404 when there is no such registry, 401 without a bearer token or with one
    /// <see cref="AuthenticateAsync"/> does not know. What the publisher may then do is the handler's to check.
    /// </summary>
    private static async Task<(Publisher? Publisher, IResult? Denied)> RequirePublisherAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var organisation = await ResolveAsync(context, database, cancellationToken).ConfigureAwait(false);
        if (organisation is null)
        {
            return (null, OrganisationNotFound(context));
        }

        if (context.Request.Headers.Authorization.Count == 0)
        {
            return (null, Unauthorized(context, "Authorization header is required"));
        }

        var publisher = await AuthenticateAsync(context, database, time, organisation, cancellationToken).ConfigureAwait(false);
        return publisher is null ? (null, Unauthorized(context, InvalidToken)) : (publisher, null);
    }

    private static IResult Forbidden(Publisher publisher, string verb) =>
        Problems.Result(StatusCodes.Status403Forbidden, "Forbidden",
            $"You do not have permission to {verb} this server. You have permission to {verb}: " +
            (publisher.Namespaces.Count == 0 ? "nothing in this registry" : string.Join(", ", publisher.Namespaces)), withError: true);

    /// <summary><c>POST /v0/publish</c>: 200 ServerResponse; 401 bad token; 403 outside the token's namespaces; 422 invalid; 400 duplicate version.</summary>
    internal static async Task<IResult> PublishAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var (publisher, denied) = await RequirePublisherAsync(context, database, time, cancellationToken).ConfigureAwait(false);
        if (publisher is null)
        {
            return denied!;
        }

        var body = await RequestBodies.ReadAsync(context.Request, RequestBodies.MaxBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(RequestBodies.MaxBytes);
        }

        if (RequestJson.CheckText(body) is { } notUnicode)
        {
            return RequestJson.Refused(notUnicode);
        }

        var loaded = RegistryLoader.Load(body, RegistryShape.ServerJson);
        if (loaded.Failure is { } failure)
        {
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity",
                "Failed to publish server, invalid schema: the body is not a server.json document: " + failure);
        }

        var server = loaded.Document!.Entries[0].Server;
        if (!PublishTokens.Permits(publisher.Namespaces, server.Name))
        {
            return Forbidden(publisher, "publish");
        }

        if (!loaded.IsValid)
        {
            return Problems.Result(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity",
                "Failed to publish server, invalid schema: call /validate for details", AdminRegistryApi.ProblemItems(loaded.Problems));
        }

        var entry = await Publishing.PublishAsync(database, publisher.Organisation.Id, server, publisher.Actor, Timestamps.Now(time), cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            const string duplicate = "invalid version: cannot publish duplicate version";
            return Problems.Result(StatusCodes.Status400BadRequest, "Bad Request", "Failed to publish server: " + duplicate,
                [new ProblemItem { Message = duplicate, Value = server.Version }]);
        }

        return new JsonBytes(RegistryJson.Item(entry), StatusCodes.Status200OK);
    }

    /// <summary>
    /// <c>POST /v0/validate</c>: always 200 with <c>{valid, issues: [{type, path, message, severity, reference}]}</c>;
    /// type is <c>json</c> (unreadable), <c>schema</c> (structure) or <c>semantic</c> (the registry's rules); reference
    /// names the rule.
    /// </summary>
    internal static async Task<IResult> ValidateAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var body = await RequestBodies.ReadAsync(context.Request, RequestBodies.MaxBytes, cancellationToken).ConfigureAwait(false);
        var issues = new List<(string Type, string Path, string Message, string Severity, string Reference)>();
        if (body is null)
        {
            issues.Add(("json", "", $"the body is over the limit of {RequestBodies.MaxBytes} bytes", "error", "json.too-large"));
        }
        else
        {
            var loaded = RegistryLoader.Load(body, RegistryShape.ServerJson);
            if (loaded.Failure is { } failure)
            {
                issues.Add(("json", failure.Path ?? "", failure.ToString(), "error", "json." + failure.Kind.ToString().ToLowerInvariant()));
            }

            foreach (var problem in loaded.Problems)
            {
                issues.Add((problem.Rule.StartsWith("schema.", StringComparison.Ordinal) ? "schema" : problem.Rule.StartsWith("json.", StringComparison.Ordinal) ? "json" : "semantic",
                    problem.Path, problem.Hint.Length == 0 ? problem.Message : $"{problem.Message} ({problem.Hint})", problem.IsError ? "error" : "warning", problem.Rule));
            }
        }

        var json = ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("valid", !issues.Any(i => i.Severity == "error"));
            w.WriteStartArray("issues");
            foreach (var issue in issues)
            {
                w.WriteStartObject();
                w.WriteString("type", issue.Type);
                w.WriteString("path", issue.Path);
                w.WriteString("message", issue.Message);
                w.WriteString("severity", issue.Severity);
                w.WriteString("reference", issue.Reference);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
        return new JsonBytes(json, StatusCodes.Status200OK);
    }

    /// <summary>
    /// <c>POST /v0/auth/none</c> (when the server allows anonymous publishing): <c>{"registry_token", "expires_at"}</c>,
    /// a token valid five minutes that may publish <c>io.modelcontextprotocol.anonymous/*</c>. 404 otherwise, as upstream.
    /// </summary>
    internal static async Task<IResult> AnonymousTokenAsync(HttpContext context, Database database, TimeProvider time, ServeOptions options, CancellationToken cancellationToken)
    {
        if (!options.AllowAnonymousPublish)
        {
            return Problems.Result(StatusCodes.Status404NotFound, "Not Found", "anonymous publishing is off on this server (steward serve --allow-anonymous-publish turns it on)");
        }

        var organisation = await ResolveAsync(context, database, cancellationToken).ConfigureAwait(false);
        if (organisation is null)
        {
            return OrganisationNotFound(context);
        }

        var (token, expires) = await PublishTokens.IssueAnonymousAsync(database, organisation.Id, Timestamps.Now(time), cancellationToken).ConfigureAwait(false);
        context.Response.Headers.CacheControl = "no-store";
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("registry_token", token);
            w.WriteNumber("expires_at", expires.ToUnixTimeSeconds());
            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }

    /// <summary>
    /// <c>PATCH /v0/servers/{name}/versions/{version}/status</c> (200 ServerResponse) and <c>PATCH /v0/servers/{name}/status</c>
    /// (every version: 200 <c>{updatedCount, servers}</c> with the versions changed), with the official body; 400
    /// "No changes to apply…" when nothing would change.
    /// </summary>
    internal static async Task<IResult> StatusAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var path = ServerPath.Parse(context.GetRouteValue("path") as string);
        var version = path?.StatusVersion;
        if (path is null || (version is null && path.Rest is not ["status"]))
        {
            return Problems.Result(StatusCodes.Status404NotFound, "Not Found",
                "use PATCH /v0/servers/{serverName}/versions/{version}/status or PATCH /v0/servers/{serverName}/status, with the name URL-encoded");
        }

        var (publisher, denied) = await RequirePublisherAsync(context, database, time, cancellationToken).ConfigureAwait(false);
        if (publisher is null)
        {
            return denied!;
        }

        if (!PublishTokens.Permits(publisher.Namespaces, path.Name))
        {
            return Forbidden(publisher, "edit");
        }

        var body = await RequestBodies.ReadAsync(context.Request, RequestBodies.MaxBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(RequestBodies.MaxBytes);
        }

        if (AdminRegistryApi.ReadStatusRequest(body, out var status, out var message) is { } refused)
        {
            return refused;
        }

        var now = Timestamps.Now(time);
        if (version is not null)
        {
            var (before, after) = await StatusChange.ApplyAsync(database, publisher.Organisation.Id, publisher.Actor, "registry.status", path.Name, version, status!, message, now, cancellationToken).ConfigureAwait(false);
            if (before is null)
            {
                return Problems.ServerNotFound(path.Name);
            }

            return after is null
                ? Problems.BadRequest($"No changes to apply: status is already {status}")
                : new JsonBytes(RegistryJson.Item(after), StatusCodes.Status200OK);
        }

        var all = await StatusChange.ApplyAllAsync(database, publisher.Organisation.Id, publisher.Actor, path.Name, status!, message, now, cancellationToken).ConfigureAwait(false);
        if (all is not { } result)
        {
            return Problems.ServerNotFound(path.Name);
        }

        if (result.Changed == 0)
        {
            return Problems.BadRequest($"No changes to apply: all versions already have status {status}");
        }

        var changedAt = Timestamps.ToText(now);
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("updatedCount", result.Changed);
            w.WriteStartArray("servers");
            foreach (var entry in result.Versions.Where(v => v.StatusChangedAt == changedAt && v.Status == status))
            {
                RegistryJson.WriteItem(w, entry);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }
}
