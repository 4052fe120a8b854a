using System.Buffers.Text;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Steward.Server.AdminConsole;

/// <summary>
/// Console sign-in with the organisation's identity provider: the authorization code flow with PKCE (S256). The state,
/// nonce and code verifier travel in a short-lived HttpOnly cookie sealed with the server's key encryption key (so any
/// instance on the same database can finish a sign-in another began). The callback exchanges the code, validates the
/// ID token (signature, issuer, audience, lifetime, nonce) and maps its groups: a member of an admin group is signed in
/// with the same session cookie as the token sign-in; anyone else gets the console's 403 page.
/// </summary>
internal static class OidcSignIn
{
    public const string StateCookie = "steward_oidc";
    public const string CallbackPath = "/console/oidc/callback";
    public static readonly TimeSpan StateLifetime = TimeSpan.FromMinutes(10);
    private const string StatePurpose = "steward-console-oidc-state";

    private sealed record Pending(string Org, string State, string Nonce, string Verifier, string? ReturnUrl, long IssuedAt);

    public static void Map(WebApplication app)
    {
        app.MapGet("/console/oidc/start", StartAsync);
        app.MapGet(CallbackPath, CallbackAsync);
    }

    /// <summary>Whether the organisation has an identity provider: its issuer, for the sign-in page's button; null otherwise.</summary>
    public static async Task<string?> IssuerOfAsync(Database database, string? organisationSlug, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(organisationSlug) || await Organisation.FindAsync(database, organisationSlug, cancellationToken).ConfigureAwait(false) is not { } organisation)
        {
            return null;
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await OidcStore.FindAsync(connection, null, organisation.Id, cancellationToken).ConfigureAwait(false))?.Issuer;
    }

    private static async Task<IResult> StartAsync(HttpContext context, Database database, OidcIssuers issuers, SecretBox box, TimeProvider time)
    {
        var slug = context.Request.Query["org"].ToString();
        var organisation = await Organisation.FindAsync(database, slug, context.RequestAborted).ConfigureAwait(false);
        OidcSettings? settings = null;
        if (organisation is not null)
        {
            await using var connection = await database.OpenAsync(context.RequestAborted).ConfigureAwait(false);
            settings = await OidcStore.FindAsync(connection, null, organisation.Id, context.RequestAborted).ConfigureAwait(false);
        }

        if (organisation is null || settings is null)
        {
            return Results.Redirect("/console/sign-in");
        }

        string authorizationEndpoint;
        try
        {
            authorizationEndpoint = (await issuers.ConfigurationAsync(settings.OrganisationId, settings.Issuer, context.RequestAborted).ConfigureAwait(false)).AuthorizationEndpoint;
        }
        catch (OidcException)
        {
            return Failed(organisation.Slug, "unavailable");
        }

        var pending = new Pending(organisation.Slug, Random(), Random(), Random(), context.Request.Query["returnUrl"].ToString() is { Length: > 0 and < 2000 } back ? back : null,
            time.GetUtcNow().ToUnixTimeSeconds());
        var challenge = Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(pending.Verifier)));
        var sealedState = box.Seal(StatePurpose, JsonSerializer.SerializeToUtf8Bytes(new[] { pending.Org, pending.State, pending.Nonce, pending.Verifier, pending.ReturnUrl ?? "", pending.IssuedAt.ToString(System.Globalization.CultureInfo.InvariantCulture) }, ServerJsonContext.Default.StringArray));
        context.Response.Cookies.Append(StateCookie, sealedState, new CookieOptions
        {
            HttpOnly = true,
            Secure = Hosting.PublicAddress.SecureCookies(context),
            // Lax: the identity provider's redirect back is a cross-site top-level navigation.
            SameSite = SameSiteMode.Lax,
            Path = "/console/oidc",
            MaxAge = StateLifetime,
            IsEssential = true,
        });
        var query = QueryString.Create(new KeyValuePair<string, string?>[]
        {
            new("response_type", "code"),
            new("client_id", settings.ClientId),
            new("redirect_uri", RedirectUri(context)),
            new("scope", OidcApi.Scope),
            new("state", pending.State),
            new("nonce", pending.Nonce),
            new("code_challenge", challenge),
            new("code_challenge_method", "S256"),
        });
        var separator = authorizationEndpoint.Contains('?', StringComparison.Ordinal) ? "&" : "?";
        return Results.Redirect(authorizationEndpoint + separator + query.Value![1..]);
    }

    private static async Task<IResult> CallbackAsync(HttpContext context, Database database, OidcIssuers issuers, SecretBox box, TimeProvider time)
    {
        var cancellationToken = context.RequestAborted;
        var cookie = context.Request.Cookies[StateCookie];
        context.Response.Cookies.Delete(StateCookie, new CookieOptions { Path = "/console/oidc", Secure = Hosting.PublicAddress.SecureCookies(context), HttpOnly = true, SameSite = SameSiteMode.Lax });
        if (cookie is null || box.Open(StatePurpose, cookie) is not { } plain
            || JsonSerializer.Deserialize(plain, ServerJsonContext.Default.StringArray) is not [var org, var state, var nonce, var verifier, var returnUrl, var issuedText]
            || !long.TryParse(issuedText, System.Globalization.CultureInfo.InvariantCulture, out var issuedAt)
            || time.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(issuedAt) > StateLifetime)
        {
            return Failed(null, "expired");
        }

        if (!OidcIssuers.FixedTimeEquals(context.Request.Query["state"].ToString(), state))
        {
            return Failed(org, "state");
        }

        if (context.Request.Query["code"].ToString() is not { Length: > 0 and < 4096 } code)
        {
            return Failed(org, "denied");
        }

        var organisation = await Organisation.FindAsync(database, org, cancellationToken).ConfigureAwait(false);
        OidcSettings? settings = null;
        if (organisation is not null)
        {
            await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
            settings = await OidcStore.FindAsync(connection, null, organisation.Id, cancellationToken).ConfigureAwait(false);
        }

        if (organisation is null || settings is null)
        {
            return Failed(null, "unavailable");
        }

        OidcIdentity identity;
        try
        {
            var idToken = await RedeemAsync(context, issuers, box, settings, code, verifier, cancellationToken).ConfigureAwait(false);
            identity = await issuers.ValidateAsync(settings, idToken, nonce, cancellationToken).ConfigureAwait(false);
        }
        catch (OidcException)
        {
            return Failed(org, "invalid");
        }

        var now = Timestamps.Now(time);
        var admin = settings.IsAdmin(identity.Groups);
        Caller? caller = null;
        await using (var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false))
        {
            await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
            var audit = Encoding.UTF8.GetString(ResponseJson.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("issuer", settings.Issuer);
                w.WriteString("subject", identity.Subject);
                w.WriteString("email", identity.Email);
                w.WriteBoolean("admin", admin);
                w.WriteStartArray("groups");
                foreach (var group in identity.Groups)
                {
                    w.WriteStringValue(group);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }));
            if (admin)
            {
                // The session needs a token row to belong to: an admin token whose value is never shown or kept, living as long as a session.
                var account = identity.Account is null ? null : await Profiles.FindAccountAsync(connection, transaction, organisation.Id, identity.Account, cancellationToken).ConfigureAwait(false);
                var name = ("console:" + identity.Actor) is { Length: > 100 } longName ? longName[..100] : "console:" + identity.Actor;
                var id = await Authentication.CreateTokenAsync(connection, transaction, organisation.Id, account?.Id, Roles.Admin, name, Tokens.Generate(), now, now + ConsoleSessions.AbsoluteLifetime, cancellationToken).ConfigureAwait(false);
                caller = new Caller(id, name, organisation.Id, account?.Id, Roles.Admin);
            }

            await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, identity.Actor, admin ? "console.sign-in" : "console.sign-in-refused", "console", null, audit, null, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        if (caller is null)
        {
            return Failed(org, "forbidden");
        }

        var current = context.Items[typeof(ConsoleSession)] as ConsoleSession;
        await ConsoleSessions.SignInAsync(context, database, time, current, addToCurrent: false, caller, cancellationToken).ConfigureAwait(false);
        var home = "/o/" + Uri.EscapeDataString(organisation.Slug) + "/console";
        var target = returnUrl.Length > 0 && (returnUrl == home || returnUrl.StartsWith(home + "/", StringComparison.Ordinal) || returnUrl.StartsWith(home + "?", StringComparison.Ordinal)) ? returnUrl : home;
        // A page of this origin moves on, so that the SameSite=Strict session cookie is sent (a redirect chain that began at the identity provider would not send it).
        var encoded = System.Net.WebUtility.HtmlEncode(target);
        return Results.Content(
            $"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={encoded}\"><title>Signed in · Steward console</title></head>" +
            $"<body><p>Signed in. <a href=\"{encoded}\">Continue to the console</a>.</p></body></html>",
            "text/html; charset=utf-8");
    }

    /// <summary>The code for tokens at the issuer's token endpoint (client_secret_basic when there is a secret, else a public client with PKCE).</summary>
    private static async Task<string> RedeemAsync(HttpContext context, OidcIssuers issuers, SecretBox box, OidcSettings settings, string code, string verifier, CancellationToken cancellationToken)
    {
        var configuration = await issuers.ConfigurationAsync(settings.OrganisationId, settings.Issuer, cancellationToken).ConfigureAwait(false);
        var form = new List<KeyValuePair<string, string>>
        {
            new("grant_type", "authorization_code"),
            new("code", code),
            new("redirect_uri", RedirectUri(context)),
            new("code_verifier", verifier),
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, configuration.TokenEndpoint);
        if (settings.SealedClientSecret is { } sealedSecret)
        {
            var secret = box.Open(SecretBox.ClientSecretPurpose(settings.OrganisationId), sealedSecret)
                ?? throw new OidcException("the client secret cannot be opened with this server's key encryption key; set it again");
            var basic = Uri.EscapeDataString(settings.ClientId) + ":" + Uri.EscapeDataString(Encoding.UTF8.GetString(secret));
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(basic)));
        }
        else
        {
            form.Add(new("client_id", settings.ClientId));
        }

        request.Content = new FormUrlEncodedContent(form);
        try
        {
            var http = await issuers.HttpAsync(settings.OrganisationId, cancellationToken).ConfigureAwait(false);
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new OidcException($"the token endpoint answered {(int)response.StatusCode}");
            }

            using var document = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            return document.RootElement.TryGetProperty("id_token", out var idToken) && idToken.ValueKind == JsonValueKind.String
                ? idToken.GetString()!
                : throw new OidcException("the token endpoint's answer has no id_token");
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new OidcException("the token endpoint cannot be reached or answered something that is not JSON", e);
        }
    }

    private static string RedirectUri(HttpContext context) => Hosting.PublicAddress.Origin(context) + CallbackPath;

    private static string Random() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    private static IResult Failed(string? org, string reason) =>
        Results.Redirect("/console/sign-in?oidc=" + reason + (org is null ? "" : "&org=" + Uri.EscapeDataString(org)));
}
