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
/// with a new key id), an authorization endpoint that approves (or, when told, denies) the configured user and
/// redirects with a code, a device authorization endpoint (RFC 8628) whose codes the test approves or denies with an
/// HTTP call as the user would at the verification page, and a token endpoint that authenticates the client (its
/// secret, or a public client by its id), checks the PKCE verifier, enforces the device polling rules
/// (<c>authorization_pending</c>, <c>slow_down</c>, <c>expired_token</c>, <c>access_denied</c>) and issues a signed ID token.
/// </summary>
internal sealed class LocalIssuer : IAsyncDisposable
{
    public const string ClientId = "steward-test-client";
    public const string ClientSecret = "test-client-secret-9f2c";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, (string RedirectUri, string Nonce, string Challenge, IssuerUser User)> _codes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DeviceGrant> _devices = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _polled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _slowDowns;
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

    /// <summary>The <c>jwks_uri</c> the discovery document names; null for this issuer's own <c>/jwks</c>.</summary>
    public string? JwksUri { get; set; }

    /// <summary>Whether a token request without client authentication is accepted for <see cref="ClientId"/> (a public client: PKCE, device flow).</summary>
    public bool PublicClient { get; set; } = true;

    /// <summary>The user refuses at the authorization endpoint: it redirects back with <c>error=access_denied</c>.</summary>
    public bool DenyAuthorization { get; set; }

    /// <summary>The <c>interval</c> a device authorization answers with, in seconds (the RFC's default is 5).</summary>
    public int DeviceInterval { get; set; } = 1;

    /// <summary>The first poll of each device code is answered <c>slow_down</c>, as a provider under load does.</summary>
    public bool SlowDownFirstPoll { get; set; }

    /// <summary>How many polls were answered <c>slow_down</c> (too soon after the previous one).</summary>
    public int SlowDowns => _slowDowns;

    /// <summary>Completes when a device code is first polled.</summary>
    public Task Polled => _polled.Task;

    private sealed class DeviceGrant(string userCode, IssuerUser user, DateTimeOffset expires, int interval)
    {
        public string UserCode { get; } = userCode;
        public IssuerUser User { get; } = user;
        public DateTimeOffset Expires { get; set; } = expires;
        public int Interval { get; set; } = interval;
        public DateTimeOffset? LastPoll { get; set; }
        public string Decision { get; set; } = "pending";
    }

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
        app.MapPost("/device_authorization", (Delegate)issuer.DeviceAuthorizationAsync);
        app.MapGet("/device", (Delegate)issuer.VerificationPage);
        app.MapPost("/device", (Delegate)issuer.DecisionAsync);
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
        ["jwks_uri"] = JwksUri ?? Issuer + "/jwks",
        ["response_types_supported"] = new[] { "code" },
        ["subject_types_supported"] = new[] { "public" },
        ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        ["code_challenge_methods_supported"] = new[] { "S256" },
        ["device_authorization_endpoint"] = Issuer + "/device_authorization",
        ["grant_types_supported"] = new[] { "authorization_code", "urn:ietf:params:oauth:grant-type:device_code" },
    });

    /// <summary>The user's answer at the verification page: <c>POST /device</c> with <c>user_code</c> and <c>decision=approve|deny</c>.</summary>
    public async Task DecideAsync(string userCode, bool approve)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync(Issuer + "/device", new FormUrlEncodedContent([new("user_code", userCode), new("decision", approve ? "approve" : "deny")]));
        response.EnsureSuccessStatusCode();
    }

    /// <summary>The device code behind <paramref name="userCode"/> expires now, as if its lifetime had passed.</summary>
    public void Expire(string userCode)
    {
        foreach (var grant in _devices.Values.Where(d => d.UserCode == userCode))
        {
            grant.Expires = DateTimeOffset.UtcNow.AddSeconds(-1);
        }
    }

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

        var separator = query["redirect_uri"].ToString().Contains('?', StringComparison.Ordinal) ? "&" : "?";
        if (DenyAuthorization)
        {
            return Results.Redirect($"{query["redirect_uri"]}{separator}error=access_denied&error_description={Uri.EscapeDataString("The user denied the request")}&state={Uri.EscapeDataString(query["state"].ToString())}");
        }

        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _codes[code] = (query["redirect_uri"]!, query["nonce"].ToString(), query["code_challenge"].ToString(), User);
        return Results.Redirect($"{query["redirect_uri"]}{separator}code={code}&state={Uri.EscapeDataString(query["state"].ToString())}");
    }

    private async Task<IResult> TokenAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync();
        if (ClientError(context, form) is { } refused)
        {
            return refused;
        }

        if (form["grant_type"] == "urn:ietf:params:oauth:grant-type:device_code")
        {
            return DeviceToken(form["device_code"].ToString());
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

    /// <summary>client_secret_basic with the right secret, or (when <see cref="PublicClient"/>) no authentication and the client's id in the form.</summary>
    private IResult? ClientError(HttpContext context, IFormCollection form)
    {
        var basic = context.Request.Headers.Authorization.ToString();
        if (basic.Length > 0)
        {
            var expectedBasic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(ClientId + ":" + ClientSecret));
            return basic == expectedBasic ? null : Results.Json(new { error = "invalid_client" }, statusCode: 401);
        }

        return PublicClient && form["client_id"] == ClientId
            ? null
            : Results.Json(new { error = "invalid_client", error_description = "client authentication required" }, statusCode: 401);
    }

    private async Task<IResult> DeviceAuthorizationAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync();
        if (ClientError(context, form) is { } refused)
        {
            return refused;
        }

        if (!form["scope"].ToString().Split(' ').Contains("openid"))
        {
            return Results.Json(new { error = "invalid_scope" }, statusCode: 400);
        }

        const int lifetime = 600;
        var deviceCode = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var userCode = string.Concat(RandomNumberGenerator.GetItems<char>("BCDFGHJKLMNPQRSTVWXZ", 8).Select((c, i) => i == 4 ? "-" + c : c.ToString()));
        _devices[deviceCode] = new DeviceGrant(userCode, User, DateTimeOffset.UtcNow.AddSeconds(lifetime), DeviceInterval);
        return Results.Json(new Dictionary<string, object>
        {
            ["device_code"] = deviceCode,
            ["user_code"] = userCode,
            ["verification_uri"] = Issuer + "/device",
            ["verification_uri_complete"] = Issuer + "/device?user_code=" + Uri.EscapeDataString(userCode),
            ["expires_in"] = lifetime,
            ["interval"] = DeviceInterval,
        });
    }

    private IResult VerificationPage(HttpContext context) =>
        Results.Content($"<!doctype html><title>Activate</title><form method=post><input name=user_code value=\"{System.Net.WebUtility.HtmlEncode(context.Request.Query["user_code"].ToString())}\"><button name=decision value=approve>Allow</button><button name=decision value=deny>Deny</button></form>", "text/html");

    private async Task<IResult> DecisionAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync();
        var grant = _devices.Values.FirstOrDefault(d => d.UserCode == form["user_code"] && d.Decision == "pending" && d.Expires > DateTimeOffset.UtcNow);
        if (grant is null)
        {
            return Results.NotFound("no pending sign-in with that code");
        }

        grant.Decision = form["decision"] == "approve" ? "approved" : "denied";
        return Results.Text(grant.Decision);
    }

    /// <summary>RFC 8628 section 3.5: pending until the user decides; slow_down (and 5 s more from then on) when polled sooner than the interval.</summary>
    private IResult DeviceToken(string deviceCode)
    {
        if (!_devices.TryGetValue(deviceCode, out var grant))
        {
            return Results.Json(new { error = "invalid_grant" }, statusCode: 400);
        }

        _polled.TrySetResult();
        var now = DateTimeOffset.UtcNow;
        if (now >= grant.Expires)
        {
            _devices.TryRemove(deviceCode, out _);
            return Results.Json(new { error = "expired_token", error_description = "the device code has expired" }, statusCode: 400);
        }

        // A little slack for timer resolution, as real providers allow.
        var tooSoon = grant.LastPoll is { } last && now - last < TimeSpan.FromSeconds(grant.Interval) - TimeSpan.FromMilliseconds(200);
        var first = grant.LastPoll is null;
        grant.LastPoll = now;
        if (tooSoon || (first && SlowDownFirstPoll))
        {
            grant.Interval += 5;
            Interlocked.Increment(ref _slowDowns);
            return Results.Json(new { error = "slow_down" }, statusCode: 400);
        }

        switch (grant.Decision)
        {
            case "pending":
                return Results.Json(new { error = "authorization_pending" }, statusCode: 400);
            case "denied":
                _devices.TryRemove(deviceCode, out _);
                return Results.Json(new { error = "access_denied", error_description = "the user denied the request" }, statusCode: 400);
            default:
                _devices.TryRemove(deviceCode, out _);
                return Results.Json(new { access_token = "at-" + Guid.NewGuid().ToString("N"), token_type = "Bearer", expires_in = 3600, id_token = IdToken(grant.User) });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _rsa.Dispose();
    }
}
