using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using Microsoft.Extensions.Logging;

namespace Steward.Server.Identity;

/// <summary>An organisation's identity provider: the issuer, this server's client there, and how its claims map to Steward.</summary>
internal sealed record OidcSettings(
    string OrganisationId, string Issuer, string ClientId, string? SealedClientSecret, string AccountClaim, string GroupsClaim, IReadOnlyList<string> AdminGroups, string UpdatedAt)
{
    public const string DefaultAccountClaim = "steward_account";
    public const string DefaultGroupsClaim = "groups";

    /// <summary>Whether the groups include one of the admin groups (compared without regard to case).</summary>
    public bool IsAdmin(IEnumerable<string> groups) => groups.Any(g => AdminGroups.Contains(g, StringComparer.OrdinalIgnoreCase));
}

/// <summary>Who an ID token names: subject, email (when given), the mapped account slug (when the claim is there) and groups.</summary>
internal sealed record OidcIdentity(string Subject, string? Email, string? Account, IReadOnlyList<string> Groups)
{
    /// <summary>How the audit names this person: the subject and email, never a token.</summary>
    public string Actor => Email is null ? $"oidc:{Subject}" : $"oidc:{Subject} ({Email})";
}

/// <summary>Why an ID token was refused, in words a person can act on.</summary>
internal sealed class OidcException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Reads and writes <c>oidc_configurations</c>.</summary>
internal static class OidcStore
{
    public static async Task<OidcSettings?> FindAsync(DbConnection connection, DbTransaction? transaction, string organisationId, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync(
            "SELECT organisation_id, issuer, client_id, client_secret_sealed, account_claim, groups_claim, admin_groups, updated_at FROM oidc_configurations WHERE organisation_id = @org",
            transaction,
            r => new OidcSettings(r.GetString(0), r.GetString(1), r.GetString(2), r.NullableString(3), r.GetString(4), r.GetString(5),
                JsonSerializer.Deserialize(r.GetString(6), ServerJsonContext.Default.StringArray) ?? [], r.GetString(7)),
            cancellationToken, ("org", organisationId)).ConfigureAwait(false);
        return rows.Count == 1 ? rows[0] : null;
    }

    public static async Task SaveAsync(DbConnection connection, DbTransaction transaction, OidcSettings settings, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync("DELETE FROM oidc_configurations WHERE organisation_id = @org", transaction, cancellationToken, ("org", settings.OrganisationId)).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "INSERT INTO oidc_configurations (organisation_id, issuer, client_id, client_secret_sealed, account_claim, groups_claim, admin_groups, updated_at) " +
            "VALUES (@org, @issuer, @client, @secret, @account, @groups, @admins, @at)",
            transaction, cancellationToken, ("org", settings.OrganisationId), ("issuer", settings.Issuer), ("client", settings.ClientId), ("secret", settings.SealedClientSecret),
            ("account", settings.AccountClaim), ("groups", settings.GroupsClaim), ("admins", JsonSerializer.Serialize(settings.AdminGroups.ToArray(), ServerJsonContext.Default.StringArray)),
            ("at", settings.UpdatedAt)).ConfigureAwait(false);
    }
}

/// <summary>
/// Secrets sealed at rest with AES-256-GCM under the server's key encryption key (the one that seals the policy signing
/// keys: <c>signing-keys.kek</c> or <c>STEWARD_KEY_ENCRYPTION_KEY</c>), with a purpose string as associated data so a
/// sealed value cannot be moved to another row or another use.
/// </summary>
internal sealed class SecretBox(byte[] keyEncryptionKey)
{
    private const string Prefix = "v1.";
    private const int NonceSize = 12;
    private const int TagSize = 16;

    public string Seal(string purpose, byte[] plain)
    {
        var sealedBytes = new byte[NonceSize + plain.Length + TagSize];
        RandomNumberGenerator.Fill(sealedBytes.AsSpan(0, NonceSize));
        using var aes = new AesGcm(keyEncryptionKey, TagSize);
        aes.Encrypt(sealedBytes.AsSpan(0, NonceSize), plain, sealedBytes.AsSpan(NonceSize, plain.Length), sealedBytes.AsSpan(NonceSize + plain.Length), Encoding.UTF8.GetBytes(purpose));
        return Prefix + Base64Url.EncodeToString(sealedBytes);
    }

    public string Seal(string purpose, string plain) => Seal(purpose, Encoding.UTF8.GetBytes(plain));

    /// <summary>
    /// A keyed tag of <paramref name="value"/> for <paramref name="purpose"/> (HMAC-SHA256 under the key encryption key,
    /// first 128 bits, base64url): stable, and made by no one without the key.
    /// </summary>
    public string Tag(string purpose, string value) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(keyEncryptionKey, Encoding.UTF8.GetBytes(purpose + "\n" + value)).AsSpan(0, 16));

    /// <summary>The plain bytes; null when the text was not sealed by this key for this purpose.</summary>
    public byte[]? Open(string purpose, string sealedText)
    {
        if (!sealedText.StartsWith(Prefix, StringComparison.Ordinal) || sealedText.Length > 16 * 1024)
        {
            return null;
        }

        byte[] sealedBytes;
        try
        {
            sealedBytes = Base64Url.DecodeFromChars(sealedText.AsSpan(Prefix.Length));
        }
        catch (FormatException)
        {
            return null;
        }

        if (sealedBytes.Length < NonceSize + TagSize)
        {
            return null;
        }

        var plain = new byte[sealedBytes.Length - NonceSize - TagSize];
        try
        {
            using var aes = new AesGcm(keyEncryptionKey, TagSize);
            aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize, plain.Length), sealedBytes.AsSpan(NonceSize + plain.Length), plain, Encoding.UTF8.GetBytes(purpose));
            return plain;
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
    }

    public static string ClientSecretPurpose(string organisationId) => "steward-oidc-client-secret\n" + organisationId;
}

/// <summary>
/// The identity providers this server talks to: one <see cref="ConfigurationManager{T}"/> per issuer (discovery and JWKS,
/// cached), replaced when an ID token names a key id the cached JWKS does not have (the issuer rotated its keys) — at
/// most once a minute per issuer, the first time at once. ID tokens are validated with <see cref="JsonWebTokenHandler"/>.
/// </summary>
internal sealed partial class OidcIssuers(ServeOptions options, TimeProvider time, Database database, ServerOutbound outbound, ILogger<OidcIssuers> logger) : IDisposable
{
    public static readonly TimeSpan ForcedRefreshInterval = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(2);

    private static readonly string[] AsymmetricAlgorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    private readonly ConcurrentDictionary<(string Issuer, bool ServerAdministrator), Entry> _issuers = new();

    // The first organisation's issuer is the server administrators' (private addresses allowed); every other organisation's
    // issuer, and what its discovery document names, may not reach loopback or private addresses outside the allow list.
    private readonly HttpClient _serverHttp = Client(outbound.Policy(serverAdministrator: true, "OIDC requests"));
    private readonly HttpClient _organisationHttp = Client(outbound.Policy(serverAdministrator: false, "OIDC requests", devLoopback: options.AllowHttpLoopbackOidc));
    private string? _firstOrganisationId;

    private static HttpClient Client(Core.Net.OutboundAddressPolicy policy) =>
        new(ServerOutbound.Handler(policy, TimeSpan.FromSeconds(10), pooledConnectionLifetime: TimeSpan.FromMinutes(5)))
        {
            Timeout = TimeSpan.FromSeconds(15),
            MaxResponseContentBufferSize = 1024 * 1024,
        };

    private sealed record Entry(ConfigurationManager<OpenIdConnectConfiguration> Manager, DateTimeOffset? ForcedAt);

    /// <summary>Whether the organisation is the server's first (its admins are the server's administrators).</summary>
    private async Task<bool> IsServerOrganisationAsync(string organisationId, CancellationToken cancellationToken)
    {
        if (_firstOrganisationId is null && await Organisations.Organisation.FirstAsync(database, cancellationToken).ConfigureAwait(false) is { } first)
        {
            _firstOrganisationId = first.Id;
        }

        return string.Equals(_firstOrganisationId, organisationId, StringComparison.Ordinal);
    }

    /// <summary>The client for the organisation's requests to its issuer (the token endpoint included).</summary>
    public async Task<HttpClient> HttpAsync(string organisationId, CancellationToken cancellationToken) =>
        await IsServerOrganisationAsync(organisationId, cancellationToken).ConfigureAwait(false) ? _serverHttp : _organisationHttp;

    /// <summary>Null when the issuer URL is acceptable: https, or http on a loopback address when the server allows it; never a literal link-local or metadata address.</summary>
    public string? CheckIssuer(string issuer)
    {
        if (!Uri.TryCreate(issuer, UriKind.Absolute, out var uri) || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
        {
            return "expected the issuer's URL (as its discovery document names it), such as https://example.okta.com/oauth2/default";
        }

        if (new Core.Net.OutboundAddressPolicy { AllowLinkLocal = options.AllowLinkLocalImport, Purpose = "OIDC requests" }.Refusal(uri) is { } refusal)
        {
            return refusal;
        }

        if (Core.Net.UrlRules.Allows(uri, options.AllowHttpLoopbackOidc))
        {
            return null;
        }

        return "an issuer must use https" + (Core.Net.UrlRules.IsLoopback(uri) && uri.Scheme == Uri.UriSchemeHttp ? " (plain http on a loopback address is allowed only when the server is started for tests)" : "");
    }

    private Entry NewEntry(string issuer, bool serverAdministrator, DateTimeOffset? forcedAt)
    {
        var retriever = new HttpDocumentRetriever(serverAdministrator ? _serverHttp : _organisationHttp)
        {
            RequireHttps = !(options.AllowHttpLoopbackOidc && Uri.TryCreate(issuer, UriKind.Absolute, out var uri) && Core.Net.UrlRules.IsLoopback(uri)),
        };
        var manager = new ConfigurationManager<OpenIdConnectConfiguration>(issuer.TrimEnd('/') + "/.well-known/openid-configuration", new OpenIdConnectConfigurationRetriever(), retriever)
        {
            AutomaticRefreshInterval = TimeSpan.FromHours(12),
        };
        return new Entry(manager, forcedAt);
    }

    /// <summary>The issuer's discovery document (cached) for the organisation; its <c>issuer</c> must be the configured issuer.</summary>
    public async Task<OpenIdConnectConfiguration> ConfigurationAsync(string organisationId, string issuer, CancellationToken cancellationToken)
    {
        if (CheckIssuer(issuer) is { } refused)
        {
            throw new OidcException($"the issuer {issuer} is not usable: {refused}");
        }

        var key = (issuer, await IsServerOrganisationAsync(organisationId, cancellationToken).ConfigureAwait(false));
        var entry = _issuers.GetOrAdd(key, k => NewEntry(k.Issuer, k.ServerAdministrator, null));
        OpenIdConnectConfiguration configuration;
        try
        {
            configuration = await entry.Manager.GetConfigurationAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            // A failed fetch is not cached: the next request tries again.
            _issuers.TryRemove(new KeyValuePair<(string, bool), Entry>(key, entry));
            DiscoveryFailed(logger, issuer, ServerOutbound.Describe(e));
            throw new OidcException(ServerOutbound.IsConnectionFailure(e)
                ? $"could not fetch the discovery document or the keys of {issuer}: {ServerOutbound.ConnectionFailed}"
                : $"the discovery document of {issuer} cannot be read", e);
        }

        if (!string.Equals(configuration.Issuer, issuer, StringComparison.Ordinal))
        {
            throw new OidcException($"the discovery document at {issuer} names the issuer \"{configuration.Issuer}\"; configure exactly that issuer");
        }

        return configuration;
    }

    [LoggerMessage(EventId = 1260, Level = LogLevel.Warning, Message = "The discovery document or keys of the OIDC issuer {Issuer} could not be read: {Reason}")]
    private static partial void DiscoveryFailed(ILogger logger, string issuer, string reason);

    /// <summary>
    /// Validates an ID token for <paramref name="settings"/>: signature (a key of the issuer's JWKS), issuer, audience (the
    /// client id), lifetime and, for the browser flow, the nonce. Returns who it names.
    /// </summary>
    public async Task<OidcIdentity> ValidateAsync(OidcSettings settings, string idToken, string? nonce, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        JsonWebToken token;
        try
        {
            token = new JsonWebToken(idToken);
        }
        catch (ArgumentException e)
        {
            throw new OidcException("the ID token is not a JWT", e);
        }

        if (!string.Equals(token.Issuer, settings.Issuer, StringComparison.Ordinal))
        {
            throw new OidcException($"the ID token's issuer \"{token.Issuer}\" is not this organisation's identity provider ({settings.Issuer})");
        }

        var configuration = await ConfigurationAsync(settings.OrganisationId, settings.Issuer, cancellationToken).ConfigureAwait(false);
        if (token.Kid is { Length: > 0 } kid && !configuration.SigningKeys.Any(k => k.KeyId == kid))
        {
            configuration = await RefreshAsync(settings.OrganisationId, settings.Issuer, cancellationToken).ConfigureAwait(false);
        }

        var parameters = new TokenValidationParameters
        {
            ValidIssuer = settings.Issuer,
            ValidAudience = settings.ClientId,
            IssuerSigningKeys = configuration.SigningKeys,
            ValidAlgorithms = AsymmetricAlgorithms,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateIssuerSigningKey = true,
            ClockSkew = ClockSkew,
            LifetimeValidator = ValidLifetime,
            TryAllIssuerSigningKeys = string.IsNullOrEmpty(token.Kid),
        };
        var result = await new JsonWebTokenHandler { MapInboundClaims = false }.ValidateTokenAsync(token, parameters).ConfigureAwait(false);
        if (!result.IsValid)
        {
            throw new OidcException(Explain(result.Exception), result.Exception);
        }

        if (nonce is not null && !(token.TryGetPayloadValue<string>("nonce", out var actual) && FixedTimeEquals(actual, nonce)))
        {
            throw new OidcException("the ID token's nonce is not the one this sign-in sent");
        }

        var subject = token.Subject;
        if (string.IsNullOrEmpty(subject))
        {
            throw new OidcException("the ID token has no sub claim");
        }

        var email = token.TryGetPayloadValue<string>("email", out var mail) && mail.Length > 0 ? mail : null;
        var account = token.TryGetPayloadValue<string>(settings.AccountClaim, out var a) && a.Length > 0 ? a : null;
        return new OidcIdentity(subject, email, account, Groups(result.ClaimsIdentity.Claims, settings.GroupsClaim));
    }

    private bool ValidLifetime(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return expires is { } exp && exp.ToUniversalTime() > now - ClockSkew && (notBefore is not { } nbf || nbf.ToUniversalTime() <= now + ClockSkew);
    }

    private async Task<OpenIdConnectConfiguration> RefreshAsync(string organisationId, string issuer, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var key = (issuer, await IsServerOrganisationAsync(organisationId, cancellationToken).ConfigureAwait(false));
        var current = _issuers.GetOrAdd(key, k => NewEntry(k.Issuer, k.ServerAdministrator, null));
        if (current.ForcedAt is { } at && now - at < ForcedRefreshInterval)
        {
            return await ConfigurationAsync(organisationId, issuer, cancellationToken).ConfigureAwait(false);
        }

        _issuers.TryUpdate(key, NewEntry(issuer, key.Item2, now), current);
        return await ConfigurationAsync(organisationId, issuer, cancellationToken).ConfigureAwait(false);
    }

    private static IReadOnlyList<string> Groups(IEnumerable<Claim> claims, string groupsClaim) => claims
        .Where(c => c.Type == groupsClaim)
        .SelectMany(c => c.ValueType == JsonClaimValueTypes.JsonArray ? ParseArray(c.Value) : [c.Value])
        .Select(g => g.Trim())
        .Where(g => g.Length is > 0 and <= 200)
        .Distinct(StringComparer.OrdinalIgnoreCase)
        .Order(StringComparer.Ordinal)
        .Take(100)
        .ToList();

    private static IEnumerable<string> ParseArray(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, ServerJsonContext.Default.StringArray) ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    private static string Explain(Exception? exception) => exception switch
    {
        SecurityTokenExpiredException or SecurityTokenInvalidLifetimeException => "the ID token has expired (or is not yet valid)",
        SecurityTokenInvalidAudienceException => "the ID token was issued for another client (its audience is not this organisation's client id)",
        SecurityTokenInvalidIssuerException => "the ID token's issuer is not this organisation's identity provider",
        SecurityTokenSignatureKeyNotFoundException => "the ID token is signed with a key the issuer does not publish",
        SecurityTokenInvalidSignatureException => "the ID token's signature does not verify with the issuer's keys",
        SecurityTokenInvalidAlgorithmException => "the ID token is signed with an algorithm that is not accepted (RS*, PS* or ES* only)",
        SecurityTokenNoExpirationException => "the ID token has no expiry",
        _ => "the ID token is not valid",
    };

    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(a)), SHA256.HashData(Encoding.UTF8.GetBytes(b)));

    public void Dispose()
    {
        _serverHttp.Dispose();
        _organisationHttp.Dispose();
    }
}
