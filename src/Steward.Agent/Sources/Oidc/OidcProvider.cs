using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Steward.Core.Net;

namespace Steward.Agent.Sources.Oidc;

/// <summary>
/// The organisation's identity provider as <c>steward login --oidc</c> and <c>--device</c> see it: the Steward server
/// names the issuer and client id (<c>GET /api/v1/auth/oidc</c>, no secret), the issuer's discovery document names its
/// endpoints. Every URL is held to the rule for policy sources: https, plain http only to this machine with --allow-http.
/// The CLI is a public client: it never has a client secret.
/// </summary>
public sealed record OidcProvider(
    string Organisation, string Issuer, string ClientId, string Scope, Uri TokenEndpoint, Uri? AuthorizationEndpoint, Uri? DeviceAuthorizationEndpoint)
{
    public static HttpClient CreateHttp()
    {
        var http = new HttpClient(OutboundAddressPolicy.FromEnvironment(purpose: "sign-in").CreateHandler()) { Timeout = TimeSpan.FromSeconds(30), MaxResponseContentBufferSize = MaxAnswerBytes };
        StewardServerClient.AddHeaders(http);
        return http;
    }

    /// <summary>Asks the Steward server which identity provider to use, then reads the provider's discovery document.</summary>
    public static async Task<(OidcProvider? Provider, string? Error)> DiscoverAsync(HttpClient http, string serverUrl, string? organisation, bool allowHttp, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(serverUrl, UriKind.Absolute, out var server))
        {
            return (null, $"\"{serverUrl}\" is not a Steward server URL");
        }

        if (SourceAddress.Check(server, allowHttp) is { } refused)
        {
            return (null, refused);
        }

        var steward = new StewardServerClient(StewardServerClient.RootOf(server), token: null);
        var answer = await steward.GetAsync(http, "api/v1/auth/oidc" + (organisation is { Length: > 0 } ? "?org=" + Uri.EscapeDataString(organisation) : ""), cancellationToken, MaxAnswerBytes).ConfigureAwait(false);
        var (status, settings, error) = answer.Body is { } body ? ParseObject(answer.Status, Utf8Text(body)) : (answer.Status, null, answer.Failure);
        var host = server.GetLeftPart(UriPartial.Authority);
        if (answer.Body is null && answer.Status != 0)
        {
            return (null, $"{host} did not give its single sign-on settings: {error}");
        }

        if (error is not null)
        {
            return (null, $"{host} cannot be reached for its single sign-on settings: {error}");
        }

        if (status == 404)
        {
            return (null, $"{host} has no single sign-on (OIDC) configured{(organisation is { Length: > 0 } ? $" for the organisation \"{organisation}\"" : "")}; log in with a token instead (STEWARD_TOKEN or --token), or ask your administrator to configure the identity provider");
        }

        if (status != 200 || settings is null || Raw(settings, "issuer") is not { Length: > 0 } issuer || Raw(settings, "clientId") is not { Length: > 0 } clientId)
        {
            var detail = (settings is null ? null : Text(settings, "detail")) ?? $"HTTP {status}";
            return (null, $"{host} did not give its single sign-on settings: {detail}" + (status == 422 ? " (add --org <slug>)" : ""));
        }

        if (!Uri.TryCreate(issuer, UriKind.Absolute, out var issuerUri))
        {
            return (null, $"the server names an issuer that is not a URL: \"{issuer}\"");
        }

        if (CheckEndpoint(issuerUri, "issuer", allowHttp) is { } badIssuer)
        {
            return (null, badIssuer);
        }

        var (discoveryStatus, discovery, discoveryError) = await GetJsonAsync(http, new Uri(issuer.TrimEnd('/') + "/.well-known/openid-configuration"), cancellationToken).ConfigureAwait(false);
        if (discoveryError is not null || discoveryStatus != 200 || discovery is null)
        {
            return (null, $"the identity provider {issuer} cannot be reached for its discovery document: {discoveryError ?? $"HTTP {discoveryStatus}"}");
        }

        if (Raw(discovery, "issuer") != issuer)
        {
            return (null, $"the discovery document at {issuer} names another issuer (\"{Text(discovery, "issuer")}\"); the server's OIDC configuration must name exactly that issuer");
        }

        Uri? Endpoint(string name, out string? problem)
        {
            problem = null;
            if (Raw(discovery, name) is not { Length: > 0 } text)
            {
                return null;
            }

            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
            {
                problem = $"the identity provider's {name} is not a URL: \"{Clean(text)}\"";
                return null;
            }

            problem = CheckEndpoint(uri, name, allowHttp);
            return problem is null ? uri : null;
        }

        var token = Endpoint("token_endpoint", out var tokenProblem);
        var authorization = Endpoint("authorization_endpoint", out var authorizationProblem);
        var device = Endpoint("device_authorization_endpoint", out var deviceProblem);
        if ((tokenProblem ?? authorizationProblem ?? deviceProblem) is { } endpointProblem)
        {
            return (null, endpointProblem);
        }

        if (token is null)
        {
            return (null, $"the identity provider {issuer} publishes no token_endpoint in its discovery document");
        }

        var slug = Raw(settings, "organisation") ?? organisation ?? "";
        var scope = Raw(settings, "scope") is { Length: > 0 } s ? s : "openid profile email";
        return (new OidcProvider(slug, issuer, clientId, scope, token, authorization, device), null);
    }

    private static string? CheckEndpoint(Uri uri, string name, bool allowHttp) =>
        SourceAddress.Check(uri, allowHttp) is { } refused ? $"the identity provider's {name} cannot be used: {refused}" : null;

    /// <summary>A form POST to the token endpoint as a public client (<c>client_id</c> in the form, no secret).</summary>
    public async Task<(TokenAnswer? Answer, string? Error)> RequestTokenAsync(HttpClient http, IEnumerable<KeyValuePair<string, string>> form, CancellationToken cancellationToken)
    {
        var (_, json, error) = await PostFormAsync(http, TokenEndpoint, form.Append(new("client_id", ClientId)), cancellationToken).ConfigureAwait(false);
        if (json is null)
        {
            return (null, $"the identity provider's token endpoint {TokenEndpoint.GetLeftPart(UriPartial.Path)} did not answer properly: {error}");
        }

        return (new TokenAnswer(Raw(json, "id_token"), Text(json, "error"), Text(json, "error_description")), null);
    }

    /// <summary>A form POST whose answer is a JSON object: the status and the object, or why there is none.</summary>
    public static async Task<(int Status, JsonObject? Json, string? Error)> PostFormAsync(HttpClient http, Uri endpoint, IEnumerable<KeyValuePair<string, string>> form, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        try
        {
            using var content = new FormUrlEncodedContent(form);
            using var response = await http.PostAsync(endpoint, content, cancellationToken).ConfigureAwait(false);
            return await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return (0, null, NetErrors.Message(e, endpoint));
        }
    }

    /// <summary>A GET of the identity provider (its discovery document) whose answer is a JSON object.</summary>
    private static async Task<(int Status, JsonObject? Json, string? Error)> GetJsonAsync(HttpClient http, Uri uri, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync(uri, cancellationToken).ConfigureAwait(false);
            return await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return (0, null, NetErrors.Message(e, uri));
        }
    }

    private static async Task<(int Status, JsonObject? Json, string? Error)> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        if (response.Content.Headers.ContentLength is > MaxAnswerBytes)
        {
            return (status, null, "the answer is larger than 1 MB");
        }

        return ParseObject(status, await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>The largest answer read from the identity provider or the Steward server during a sign-in.</summary>
    private const int MaxAnswerBytes = 1024 * 1024;

    /// <summary>UTF-8 text as an HTTP client reads it: a byte order mark dropped.</summary>
    private static string Utf8Text(byte[] body) => Encoding.UTF8.GetString(body.AsSpan().StartsWith("\uFEFF"u8) ? body.AsSpan(3) : body);

    private static (int Status, JsonObject? Json, string? Error) ParseObject(int status, string text)
    {
        try
        {
            // Count reads every member now, so that a duplicate name fails here rather than at the first lookup.
            return JsonNode.Parse(text) is JsonObject json && json.Count >= 0 ? (status, json, null) : (status, null, $"HTTP {status}, not a JSON object");
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            return (status, null, $"HTTP {status}, not JSON");
        }
    }

    /// <summary>A string member of a provider's answer as sent (a device code, an ID token: never printed).</summary>
    public static string? Raw(JsonObject json, string name)
    {
        ArgumentNullException.ThrowIfNull(json);
        return json[name] is JsonValue value && value.TryGetValue<string>(out var text) && text.Length <= 64 * 1024 ? text : null;
    }

    /// <summary>A string member of a provider's answer, made safe to print: one line, at most 200 characters.</summary>
    public static string? Text(JsonObject json, string name)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json[name] is not JsonValue value || !value.TryGetValue<string>(out var text))
        {
            return null;
        }

        return Clean(text);
    }

    /// <summary>Text from the provider, safe to print: control characters dropped, at most 200 characters.</summary>
    public static string Clean(string text)
    {
        var line = new string([.. text.Where(c => !char.IsControl(c))]);
        return line.Length > 200 ? line[..200] + "…" : line;
    }

    /// <summary>Compares a state or a nonce in fixed time.</summary>
    public static bool FixedTimeEquals(string actual, string expected) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(actual), Encoding.UTF8.GetBytes(expected));

    /// <summary>The failure of a token request, in words: the provider's error code, and its description when it gave one.</summary>
    public string Refusal(TokenAnswer answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        var described = answer.Description is { Length: > 0 } d ? $" ({d})" : "";
        return answer.Error switch
        {
            "invalid_client" => $"the identity provider {Issuer} refused the client {ClientId} (invalid_client){described}: it must allow public clients (no secret) to use the device and PKCE flows; ask your administrator",
            "access_denied" => $"the sign-in was denied at the identity provider (access_denied){described}",
            null => "the identity provider's token endpoint answered without an ID token (is \"openid\" among the scopes the client may ask for?)",
            var code => $"the identity provider refused the sign-in: {code}{described}",
        };
    }

    /// <summary>A random value for a state, a nonce or a PKCE code verifier: 256 bits, base64url.</summary>
    public static string Random() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    /// <summary>The PKCE S256 code challenge of a verifier.</summary>
    public static string Challenge(string verifier) => Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));

    /// <summary>A string claim of a JWT's payload, not verified (the Steward server verifies the ID token); null when absent or unreadable.</summary>
    public static string? Claim(string jwt, string name)
    {
        ArgumentNullException.ThrowIfNull(jwt);
        var parts = jwt.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(Base64Url.DecodeFromChars(parts[1])) is JsonObject payload && payload[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentException)
        {
            return null;
        }
    }
}
