using System.Text;
using Microsoft.Extensions.DependencyInjection;

namespace Steward.Server.Identity;

/// <summary>
/// OIDC: an organisation's identity provider (<c>GET/PUT/DELETE /api/v1/orgs/{org}/oidc</c>, admin) and the exchange
/// of an ID token for a developer token (<c>POST /api/v1/auth/oidc/exchange</c>, for <c>steward login</c>), and what the CLI
/// needs to sign in at the identity provider (<c>GET /api/v1/auth/oidc</c>, public: issuer and client id, never a secret).
/// </summary>
internal static class OidcApi
{
    public const int MaxBodyBytes = 32 * 1024;

    /// <summary>The scopes every sign-in asks for (the console's and the CLI's).</summary>
    public const string Scope = "openid profile email";

    /// <summary>How long a developer token from an exchange lives: a working day, whatever the ID token's own lifetime.</summary>
    public static readonly TimeSpan ExchangedTokenLifetime = TimeSpan.FromHours(12);

    public static void AddServices(IServiceCollection services, ServeOptions options)
    {
        var keyEncryptionKey = KeyEncryptionKey.Load(options.DataDir);
        services.AddSingleton(new SecretBox(keyEncryptionKey));
        services.AddSingleton<OidcIssuers>();
    }

    public static void Map(IEndpointRouteBuilder app, RouteGroupBuilder organisationAdmin)
    {
        organisationAdmin.MapGet("/oidc", GetAsync);
        organisationAdmin.MapPut("/oidc", PutAsync);
        organisationAdmin.MapDelete("/oidc", DeleteAsync);
        app.MapPost("/api/v1/auth/oidc/exchange", ExchangeAsync);
        app.MapGet("/api/v1/auth/oidc", DiscoverAsync);
    }

    /// <summary>
    /// <c>GET /api/v1/auth/oidc?org=&lt;slug&gt;</c> (no token): the issuer and client id <c>steward login --oidc</c> and
    /// <c>--device</c> sign in with, as public as the console's sign-in page that names the issuer. Without <c>org</c>,
    /// the one organisation with an identity provider (422 when several have one). 404 when there is none.
    /// </summary>
    internal static async Task<IResult> DiscoverAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var slug = context.Request.Query["org"].ToString();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync(
            "SELECT o.slug, c.issuer, c.client_id FROM oidc_configurations c JOIN organisations o ON o.id = c.organisation_id WHERE @slug = '' OR o.slug = @slug LIMIT 2",
            null, r => (Slug: r.GetString(0), Issuer: r.GetString(1), ClientId: r.GetString(2)), cancellationToken, ("slug", slug)).ConfigureAwait(false);
        if (rows.Count == 0)
        {
            return Problems.Result(StatusCodes.Status404NotFound, "OIDC not configured", slug.Length > 0
                ? $"there is no organisation \"{slug}\" with single sign-on (OIDC) configured on this server"
                : "no organisation on this server has single sign-on (OIDC) configured");
        }

        if (rows.Count > 1)
        {
            return Problems.Query("org", "several organisations on this server have single sign-on; give the organisation's slug", null);
        }

        context.Response.Headers.CacheControl = "no-store";
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("organisation", rows[0].Slug);
            w.WriteString("issuer", rows[0].Issuer);
            w.WriteString("clientId", rows[0].ClientId);
            w.WriteString("scope", Scope);
            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }

    internal static async Task<IResult> GetAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var settings = await OidcStore.FindAsync(connection, null, organisation.Id, cancellationToken).ConfigureAwait(false);
        return settings is null
            ? Problems.Result(StatusCodes.Status404NotFound, "OIDC not configured", $"the organisation \"{organisation.Slug}\" has no identity provider; set one with PUT /api/v1/orgs/{organisation.Slug}/oidc")
            : new JsonBytes(View(settings), StatusCodes.Status200OK);
    }

    /// <summary>
    /// <c>PUT …/oidc</c> with <c>{"issuer", "clientId", "clientSecret"?, "accountClaim"?, "groupsClaim"?, "adminGroups"?}</c>
    /// (<see cref="NewOidcConfiguration"/>: one 422 listing every problem of the body).
    /// A missing <c>clientSecret</c> keeps the stored one, null removes it (a public client, PKCE only). The secret is
    /// sealed at rest and never returned. The issuer's discovery document is read before anything is saved.
    /// </summary>
    internal static async Task<IResult> PutAsync(HttpContext context, Database database, SecretBox box, OidcIssuers issuers, TimeProvider time, CancellationToken cancellationToken)
    {
        var read = await RequestRecord.ReadAsync(context.Request, MaxBodyBytes, ServerJsonContext.Default.NewOidcConfiguration, (body, check) => body.Validate(check, issuers),
            cancellationToken).ConfigureAwait(false);
        if (!read.Ok)
        {
            return Problems.Of(read.Problem);
        }

        var request = read.Value;
        try
        {
            await issuers.ConfigurationAsync(Authentication.OrganisationOf(context).Id, request.Issuer, cancellationToken).ConfigureAwait(false);
        }
        catch (OidcException e)
        {
            return Problems.Of(BodyCheck.One("issuer", e.Message, BodyCheck.Json(request.Issuer)));
        }

        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var before = await OidcStore.FindAsync(connection, transaction, organisation.Id, cancellationToken).ConfigureAwait(false);
        var sealedSecret = !request.ClientSecretGiven
            ? before?.SealedClientSecret
            : request.ClientSecret is null ? null : box.Seal(SecretBox.ClientSecretPurpose(organisation.Id), request.ClientSecret);
        var after = new OidcSettings(organisation.Id, request.Issuer, request.ClientId, sealedSecret, request.AccountClaim, request.GroupsClaim, request.AdminGroups, Timestamps.ToText(now));
        await OidcStore.SaveAsync(connection, transaction, after, cancellationToken).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "oidc.update", "oidc",
            before is null ? null : Encoding.UTF8.GetString(View(before)), Encoding.UTF8.GetString(View(after)), null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new JsonBytes(View(after), StatusCodes.Status200OK);
    }

    internal static async Task<IResult> DeleteAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var before = await OidcStore.FindAsync(connection, transaction, organisation.Id, cancellationToken).ConfigureAwait(false);
        if (before is null)
        {
            return Results.NoContent();
        }

        await connection.ExecuteAsync("DELETE FROM oidc_configurations WHERE organisation_id = @org", transaction, cancellationToken, ("org", organisation.Id)).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "oidc.delete", "oidc", Encoding.UTF8.GetString(View(before)), null, null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Results.NoContent();
    }

    /// <summary>
    /// <c>POST /api/v1/auth/oidc/exchange</c> with <c>{"org", "id_token"}</c>: a valid ID token from the organisation's
    /// issuer (audience its client id) whose account claim names one of its accounts gives a developer token for that
    /// account, carrying the token's groups, for <see cref="ExchangedTokenLifetime"/>. 401 names what is wrong with the
    /// ID token; 403 when it maps to no account.
    /// </summary>
    internal static async Task<IResult> ExchangeAsync(HttpContext context, Database database, OidcIssuers issuers, TimeProvider time, CancellationToken cancellationToken)
    {
        var read = await RequestRecord.ReadAsync(context.Request, MaxBodyBytes, ServerJsonContext.Default.OidcExchangeRequest, (body, check) => body.Validate(check), cancellationToken)
            .ConfigureAwait(false);
        if (!read.Ok)
        {
            return Problems.Of(read.Problem);
        }

        var idToken = read.Value.IdToken;
        if ((read.Value.Org ?? await OrganisationByIssuerAsync(database, idToken, cancellationToken).ConfigureAwait(false)) is not { } slug)
        {
            return Problems.Of(BodyCheck.One("org", "give the organisation's slug: no single organisation has the ID token's issuer as its identity provider"));
        }

        var organisation = await Organisation.FindAsync(database, slug, cancellationToken).ConfigureAwait(false);
        OidcSettings? settings = null;
        if (organisation is not null)
        {
            await using var reading = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            settings = await OidcStore.FindAsync(reading, null, organisation.Id, cancellationToken).ConfigureAwait(false);
        }

        if (organisation is null || settings is null)
        {
            return Problems.Result(StatusCodes.Status404NotFound, "Organisation not found", $"there is no organisation \"{slug}\" with single sign-on (OIDC) configured");
        }

        OidcIdentity identity;
        try
        {
            identity = await issuers.ValidateAsync(settings, idToken, null, cancellationToken).ConfigureAwait(false);
        }
        catch (OidcException e)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            return Problems.Result(StatusCodes.Status401Unauthorized, "Unauthorized", e.Message);
        }

        if (identity.Account is null)
        {
            return Problems.Result(StatusCodes.Status403Forbidden, "Forbidden", $"the ID token has no \"{settings.AccountClaim}\" claim naming the Steward account it belongs to; ask the identity provider's administrator to add it");
        }

        var now = Timestamps.Now(time);
        var expires = now + ExchangedTokenLifetime;
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var account = await Profiles.FindAccountAsync(connection, transaction, organisation.Id, identity.Account, cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            return Problems.Result(StatusCodes.Status403Forbidden, "Forbidden", $"the ID token's \"{settings.AccountClaim}\" claim names \"{identity.Account}\", which is not an account of \"{organisation.Slug}\"");
        }

        var token = Tokens.Generate();
        var name = "oidc:" + (identity.Email ?? identity.Subject);
        if (name.Length > 100)
        {
            name = name[..100];
        }

        var id = await Authentication.CreateTokenAsync(connection, transaction, organisation.Id, account.Id, Roles.Developer, name, token, now, expires, cancellationToken).ConfigureAwait(false);
        foreach (var group in identity.Groups)
        {
            await connection.ExecuteAsync("INSERT INTO api_token_groups (token_id, group_name) VALUES (@id, @group)", transaction, cancellationToken, ("id", id), ("group", group)).ConfigureAwait(false);
        }

        var after = Encoding.UTF8.GetString(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("role", Roles.Developer);
            w.WriteString("account", account.Slug);
            w.WriteString("expiresAt", Timestamps.ToText(expires));
            WriteGroups(w, identity.Groups);
            w.WriteEndObject();
        }));
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, identity.Actor, "token.oidc-exchange", "token:" + id, null, after, null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        context.Response.Headers.CacheControl = "no-store";
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("token", token);
            w.WriteString("role", Roles.Developer);
            w.WriteString("organisation", organisation.Slug);
            w.WriteString("account", account.Slug);
            w.WriteString("expiresAt", Timestamps.ToText(expires));
            WriteGroups(w, identity.Groups);
            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }

    /// <summary>The one organisation whose configured issuer is the (not yet validated) token's <c>iss</c>; null when none or several.</summary>
    private static async Task<string?> OrganisationByIssuerAsync(Database database, string idToken, CancellationToken cancellationToken)
    {
        string issuer;
        try
        {
            issuer = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(idToken).Issuer;
        }
        catch (ArgumentException)
        {
            return null;
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var slugs = await connection.QueryAsync("SELECT o.slug FROM oidc_configurations c JOIN organisations o ON o.id = c.organisation_id WHERE c.issuer = @issuer", null,
            r => r.GetString(0), cancellationToken, ("issuer", issuer)).ConfigureAwait(false);
        return slugs.Count == 1 ? slugs[0] : null;
    }

    private static void WriteGroups(Utf8JsonWriter w, IReadOnlyList<string> groups)
    {
        w.WriteStartArray("groups");
        foreach (var group in groups)
        {
            w.WriteStringValue(group);
        }

        w.WriteEndArray();
    }

    private static byte[] View(OidcSettings settings) => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("issuer", settings.Issuer);
        w.WriteString("clientId", settings.ClientId);
        w.WriteBoolean("clientSecretSet", settings.SealedClientSecret is not null);
        w.WriteString("accountClaim", settings.AccountClaim);
        w.WriteString("groupsClaim", settings.GroupsClaim);
        w.WriteStartArray("adminGroups");
        foreach (var group in settings.AdminGroups)
        {
            w.WriteStringValue(group);
        }

        w.WriteEndArray();
        w.WriteString("updatedAt", settings.UpdatedAt);
        w.WriteEndObject();
    });
}
