using System.Text.Json.Serialization;

namespace Steward.Server.Identity;

/// <summary>
/// The body of <c>PUT …/oidc</c> as it arrives: <c>{"issuer", "clientId", "clientSecret"?, "accountClaim"?, "groupsClaim"?,
/// "adminGroups"?}</c>, read by <see cref="RequestRecord"/> (a field of the wrong type is reported there and is null here).
/// The client secret is read as it came, so that no problem ever repeats its value.
/// </summary>
internal sealed record NewOidcConfiguration(string? Issuer, string? ClientId, JsonElement? ClientSecret, string? AccountClaim, string? GroupsClaim, IReadOnlyList<string?>? AdminGroups)
{
    public const int MaxAdminGroups = 100;

    /// <summary>The configuration this body asks for, or null with every problem added to <paramref name="check"/>, each naming its field.</summary>
    public OidcConfigurationRequest? Validate(BodyCheck check, OidcIssuers issuers)
    {
        ArgumentNullException.ThrowIfNull(check);
        ArgumentNullException.ThrowIfNull(issuers);
        var issuer = check.Text("issuer", Issuer, 2000, "expected the issuer's URL, such as https://example.okta.com/oauth2/default", required: true);
        if (issuer is not null && issuers.CheckIssuer(issuer) is { } refused)
        {
            check.Add("issuer", refused, BodyCheck.Json(Issuer));
        }

        var clientId = check.Text("clientId", ClientId, 500, "expected the client id this server has at the identity provider (the audience of its ID tokens)", required: true);
        var accountClaim = check.Text("accountClaim", AccountClaim, 200, "expected the name of the claim whose value is the slug of a Steward account");
        var groupsClaim = check.Text("groupsClaim", GroupsClaim, 200, "expected the name of the claim that lists the user's groups");
        var adminGroups = check.Names("adminGroups", AdminGroups, MaxAdminGroups, $"expected an array of at most {MaxAdminGroups} group names whose members administer the organisation");
        var secretGiven = check.Given("clientSecret");
        string? secret = null;
        if (ClientSecret is { ValueKind: not JsonValueKind.Null } given)
        {
            secret = given.ValueKind == JsonValueKind.String ? given.GetString() : null;
            if (secret is not { Length: > 0 and <= 2000 })
            {
                check.Add("clientSecret", "expected the client secret (a string), or null for a public client");
            }
        }

        return check.Count > 0 ? null : new OidcConfigurationRequest(issuer!, clientId!, secretGiven, secret, accountClaim ?? OidcSettings.DefaultAccountClaim,
            groupsClaim ?? OidcSettings.DefaultGroupsClaim, adminGroups!);
    }
}

/// <summary>
/// What an organisation's identity provider is configured with. <see cref="ClientSecretGiven"/> false keeps the stored
/// secret; given, <see cref="ClientSecret"/> is the new one, or null for a public client (PKCE only).
/// </summary>
internal sealed record OidcConfigurationRequest(string Issuer, string ClientId, bool ClientSecretGiven, string? ClientSecret, string AccountClaim, string GroupsClaim,
    IReadOnlyList<string> AdminGroups);

/// <summary>
/// The body of <c>POST /api/v1/auth/oidc/exchange</c>: <c>{"org"?, "id_token"}</c>, read by <see cref="RequestRecord"/>. The ID
/// token is read as it came, so that no problem ever repeats it.
/// </summary>
internal sealed record OidcExchangeRequest(string? Org, [property: JsonPropertyName("id_token")] JsonElement? IdToken)
{
    public const int MaxIdTokenLength = 16 * 1024;

    /// <summary>The request with the ID token and the slug trimmed, or null with every problem added to <paramref name="check"/>.</summary>
    public OidcExchange? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        var idToken = IdToken is { ValueKind: JsonValueKind.String } given && given.GetString()!.Trim() is { Length: > 0 and <= MaxIdTokenLength } text ? text : null;
        if (idToken is null)
        {
            check.Add("id_token", "expected the ID token (a JWT) from the organisation's identity provider");
        }

        var org = check.Text("org", Org, 200, "expected the organisation's slug");
        return check.Count > 0 ? null : new OidcExchange(org, idToken!);
    }
}

/// <summary>An exchange of an ID token: the organisation's slug (null: the one whose issuer the token names) and the token.</summary>
internal sealed record OidcExchange(string? Org, string IdToken);
