using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Steward.Tests;

/// <summary>The person the local issuer signs in (it approves every authorization request for them).</summary>
internal sealed record IssuerUser(string Subject, string Email, string? Account, IReadOnlyList<string> Groups);

/// <summary>
/// A standard OpenID Connect issuer on 127.0.0.1 for tests: discovery, a JWKS with a real RSA key (rotated on demand,
/// with a new key id), an authorization endpoint that approves the configured user and redirects with a code, and a
/// token endpoint that checks the PKCE verifier and the client's credentials and issues a signed ID token.
/// </summary>
internal sealed class LocalIssuer : IAsyncDisposable
{
    public const string ClientId = "steward-test-client";
    public const string ClientSecret = "test-client-secret-9f2c";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, (string RedirectUri, string Nonce, string Challenge, IssuerUser User)> _codes = new(StringComparer.Ordinal);
    private RSA _rsa = RSA.Create(2048);
    private RsaSecurityKey _key;
    private int _jwksRequests;

    private LocalIssuer(WebApplication app)
    {
        _app = app;
        _key = NewKey(_rsa);
    }

    public string Issuer { get; private set; } = "";

    public IssuerUser User { get; set; } = new("alice-0001", "alice@example.com", "team", ["steward-admins", "engineering"]);

    public string KeyId => _key.KeyId;

    public int JwksRequests => _jwksRequests;

    public static async Task<LocalIssuer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var issuer = new LocalIssuer(app);
        app.MapGet("/.well-known/openid-configuration", issuer.Discovery);
        app.MapGet("/jwks", issuer.Jwks);
        app.MapGet("/authorize", (Delegate)issuer.Authorize);
        app.MapPost("/token", (Delegate)issuer.TokenAsync);
        await app.StartAsync();
        issuer.Issuer = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return issuer;
    }

    /// <summary>A new signing key with a new key id; the JWKS publishes only the new one from now on.</summary>
    public void Rotate()
    {
        var old = _rsa;
        _rsa = RSA.Create(2048);
        _key = NewKey(_rsa);
        old.Dispose();
    }

    /// <summary>An ID token as this issuer would sign it, with any part changed for a test.</summary>
    public string IdToken(IssuerUser? user = null, string? audience = null, string? issuer = null, DateTimeOffset? expires = null, string? nonce = null, SecurityKey? signWith = null)
    {
        user ??= User;
        var exp = expires ?? DateTimeOffset.UtcNow.AddMinutes(60);
        var claims = new Dictionary<string, object>
        {
            ["sub"] = user.Subject,
            ["email"] = user.Email,
            ["groups"] = user.Groups.ToArray(),
        };
        if (user.Account is not null)
        {
            claims["steward_account"] = user.Account;
        }

        if (nonce is not null)
        {
            claims["nonce"] = nonce;
        }

        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Issuer,
            Audience = audience ?? ClientId,
            IssuedAt = exp.AddMinutes(-60).UtcDateTime,
            NotBefore = exp.AddMinutes(-60).UtcDateTime,
            Expires = exp.UtcDateTime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(signWith ?? _key, SecurityAlgorithms.RsaSha256),
        });
    }

    /// <summary>A key that is not the issuer's, under the issuer's current key id (a forged signature).</summary>
    public SecurityKey ForgedKey() => new RsaSecurityKey(RSA.Create(2048)) { KeyId = _key.KeyId };

    private static RsaSecurityKey NewKey(RSA rsa) => new(rsa) { KeyId = "k-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)) };

    private IResult Discovery() => Results.Json(new Dictionary<string, object>
    {
        ["issuer"] = Issuer,
        ["authorization_endpoint"] = Issuer + "/authorize",
        ["token_endpoint"] = Issuer + "/token",
        ["jwks_uri"] = Issuer + "/jwks",
        ["response_types_supported"] = new[] { "code" },
        ["subject_types_supported"] = new[] { "public" },
        ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        ["code_challenge_methods_supported"] = new[] { "S256" },
    });

    private IResult Jwks()
    {
        Interlocked.Increment(ref _jwksRequests);
        var parameters = _rsa.ExportParameters(false);
        return Results.Json(new { keys = new[] { new { kty = "RSA", use = "sig", alg = "RS256", kid = _key.KeyId, n = Base64UrlEncoder.Encode(parameters.Modulus), e = Base64UrlEncoder.Encode(parameters.Exponent) } } });
    }

    private IResult Authorize(HttpContext context)
    {
        var query = context.Request.Query;
        if (query["client_id"] != ClientId || query["response_type"] != "code" || query["code_challenge_method"] != "S256" || string.IsNullOrEmpty(query["redirect_uri"]))
        {
            return Results.BadRequest("bad authorization request");
        }

        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _codes[code] = (query["redirect_uri"]!, query["nonce"].ToString(), query["code_challenge"].ToString(), User);
        return Results.Redirect($"{query["redirect_uri"]}?code={code}&state={Uri.EscapeDataString(query["state"].ToString())}");
    }

    private async Task<IResult> TokenAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync();
        var basic = context.Request.Headers.Authorization.ToString();
        var expectedBasic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(ClientId + ":" + ClientSecret));
        if (basic != expectedBasic)
        {
            return Results.Json(new { error = "invalid_client" }, statusCode: 401);
        }

        if (form["grant_type"] != "authorization_code" || !_codes.TryRemove(form["code"].ToString(), out var grant) || grant.RedirectUri != form["redirect_uri"])
        {
            return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
        }

        var challenge = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(form["code_verifier"].ToString())));
        if (challenge != grant.Challenge)
        {
            return Results.Json(new { error = "invalid_grant", error_description = "PKCE verification failed" }, statusCode: 400);
        }

        return Results.Json(new { access_token = "at-" + Guid.NewGuid().ToString("N"), token_type = "Bearer", expires_in = 3600, id_token = IdToken(grant.User, nonce: grant.Nonce) });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _rsa.Dispose();
    }
}
