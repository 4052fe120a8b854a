namespace Steward.Server.Organisations;

/// <summary>
/// The organisations of a server. <c>POST /api/v1/orgs</c> makes one (the server's administrators only: admins of the
/// first organisation) with its profile and a first admin token, shown once; <c>GET /api/v1/orgs</c> lists those the
/// caller administers (every one for a server administrator, its own for another admin). See docs/registry-admin.md.
/// </summary>
internal static class OrganisationsApi
{
    public const int MaxBodyBytes = 4 * 1024;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/orgs", CreateAsync);
        app.MapGet("/api/v1/orgs", ListAsync);
    }

    /// <summary>
    /// <c>POST /api/v1/orgs</c> with <c>{"slug", "name"?, "adminTokenName"?, "expiresInDays"?}</c> (<see cref="NewOrganisation"/>):
    /// 201 with the organisation, its URLs and its first admin token (the only time its value is shown); 422 listing every
    /// problem of the body; 409 when the slug is taken.
    /// </summary>
    internal static async Task<IResult> CreateAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var (administrator, refusal) = await ServerAdministrator.CheckAsync(context, database, time, "creating an organisation", cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            return refusal;
        }

        var request = await RequestRecord.ReadAsync(context.Request, MaxBodyBytes, ServerJsonContext.Default.NewOrganisation, (body, check) => body.Validate(check),
            cancellationToken).ConfigureAwait(false);
        if (!request.Ok)
        {
            return Problems.Of(request.Problem);
        }

        var (slug, name, tokenName, days) = request.Value;
        var now = Timestamps.Now(time);
        var at = Timestamps.ToText(now);
        var expires = now.AddDays(days);
        var organisation = new Organisation(Tokens.NewId("org"), slug, name);
        var token = Tokens.Generate();
        var view = JsonSerializer.Serialize(new Dictionary<string, string> { ["slug"] = slug, ["name"] = name }, ServerJsonContext.Default.DictionaryStringString);
        string tokenId;
        await using (var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false))
        {
            await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
            if (await connection.ScalarAsync("SELECT 1 FROM organisations WHERE slug = @slug", transaction, cancellationToken, ("slug", slug)).ConfigureAwait(false) is not null)
            {
                return Exists(slug);
            }

            await connection.ExecuteAsync("INSERT INTO organisations (id, slug, name, created_at) VALUES (@id, @slug, @name, @at)", transaction, cancellationToken,
                ("id", organisation.Id), ("slug", slug), ("name", name), ("at", at)).ConfigureAwait(false);
            await connection.ExecuteAsync(
                "INSERT INTO profiles (id, organisation_id, account_id, mcp_enabled, web_tools_enabled, registry_mode, sync_interval_seconds, model_control_enabled, revision, updated_at) VALUES (@id, @org, NULL, TRUE, TRUE, 'hosted', 86400, FALSE, 1, @at)",
                transaction, cancellationToken, ("id", Tokens.NewId("prf")), ("org", organisation.Id), ("at", at)).ConfigureAwait(false);
            tokenId = await Authentication.CreateTokenAsync(connection, transaction, organisation.Id, null, Roles.Admin, tokenName, token, now, expires, cancellationToken).ConfigureAwait(false);
            var tokenView = JsonSerializer.Serialize(new Dictionary<string, string> { ["id"] = tokenId, ["role"] = Roles.Admin, ["name"] = tokenName, ["expiresAt"] = Timestamps.ToText(expires) },
                ServerJsonContext.Default.DictionaryStringString);

            // The new organisation's own audit starts with its creation; the administrator's organisation records it too.
            await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, administrator!.Actor, "organisation.create", "organisation:" + slug, null, view, 1, cancellationToken).ConfigureAwait(false);
            await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, administrator.Actor, "token.create", "token:" + tokenId, null, tokenView, 1, cancellationToken).ConfigureAwait(false);
            await AuditLog.WriteAsync(connection, transaction, administrator!.OrganisationId, now, administrator.Actor, "organisation.create", "organisation:" + slug, null, view, null, cancellationToken).ConfigureAwait(false);
            try
            {
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (DbException)
            {
                // Another instance made the same organisation between our check and our commit.
                if (await Organisation.FindAsync(database, slug, CancellationToken.None).ConfigureAwait(false) is not null)
                {
                    return Exists(slug);
                }

                throw;
            }
        }

        context.Response.Headers.Location = $"/api/v1/orgs/{slug}/profile";
        context.Response.Headers.CacheControl = "no-store";
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            WriteOrganisation(w, organisation, at);
            w.WriteStartObject("adminToken");
            w.WriteString("id", tokenId);
            w.WriteString("name", tokenName);
            w.WriteString("expiresAt", Timestamps.ToText(expires));
            w.WriteString("token", token);
            w.WriteEndObject();
            w.WriteEndObject();
        }), StatusCodes.Status201Created);
    }

    /// <summary><c>GET /api/v1/orgs</c>: the organisations the caller administers, by slug; 401 without a valid token, 403 for a developer token.</summary>
    internal static async Task<IResult> ListAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = await Authentication.AuthenticateAsync(context, database, time, cancellationToken).ConfigureAwait(false);
        if (caller is null)
        {
            return Authentication.Unauthorized(context);
        }

        if (caller.Role != Roles.Admin)
        {
            return Problems.Result(StatusCodes.Status403Forbidden, "Forbidden", "listing organisations needs an admin token; the token presented is a developer token");
        }

        var first = await Organisation.FirstAsync(database, cancellationToken).ConfigureAwait(false);
        var everyOrganisation = first is not null && first.Id == caller.OrganisationId;
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(
            "SELECT id, slug, name, created_at FROM organisations" + (everyOrganisation ? "" : " WHERE id = @org") + " ORDER BY slug", null,
            r => (Organisation: new Organisation(r.GetString(0), r.GetString(1), r.GetString(2)), CreatedAt: r.GetString(3)), cancellationToken, ("org", caller.OrganisationId)).ConfigureAwait(false);
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("organisations");
            foreach (var (organisation, createdAt) in rows)
            {
                w.WriteStartObject();
                WriteOrganisation(w, organisation, createdAt);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("metadata");
            w.WriteNumber("count", rows.Count);
            w.WriteEndObject();
            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }

    private static void WriteOrganisation(Utf8JsonWriter w, Organisation organisation, string createdAt)
    {
        w.WriteString("slug", organisation.Slug);
        w.WriteString("name", organisation.Name);
        w.WriteString("createdAt", createdAt);
        w.WriteString("registryUrl", $"/o/{organisation.Slug}/registry");
        w.WriteString("adminApi", $"/api/v1/orgs/{organisation.Slug}");
    }

    private static IResult Exists(string slug) =>
        Problems.Result(StatusCodes.Status409Conflict, "Conflict", $"an organisation \"{slug}\" already exists; choose another slug");
}
