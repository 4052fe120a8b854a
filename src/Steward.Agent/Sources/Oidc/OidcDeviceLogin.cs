namespace Steward.Agent.Sources.Oidc;

/// <summary>
/// <c>steward login &lt;url&gt; --device</c>: the OAuth 2.0 device authorization grant (RFC 8628). The identity provider
/// gives a user code and a verification URL, printed on stderr; the person approves on any device with a browser while
/// the CLI polls the token endpoint every <c>interval</c> seconds (5 more after each <c>slow_down</c>), until an ID
/// token comes, the person denies (<c>access_denied</c>), or the code expires (<c>expired_token</c>, or its
/// <c>expires_in</c> or the CLI's own timeout passes).
/// </summary>
public static class OidcDeviceLogin
{
    public const string GrantType = "urn:ietf:params:oauth:grant-type:device_code";

    public static async Task<OidcSignIn> SignInAsync(HttpClient http, OidcProvider provider, TextWriter prompt, TimeProvider time, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(prompt);
        if (provider.DeviceAuthorizationEndpoint is not { } endpoint)
        {
            return OidcSignIn.Failed($"the identity provider {provider.Issuer} does not offer the device flow (its discovery document has no device_authorization_endpoint); sign in with the browser instead: steward login <url> --oidc");
        }

        var (status, json, error) = await OidcProvider.PostFormAsync(http, endpoint, [new("client_id", provider.ClientId), new("scope", provider.Scope)], cancellationToken).ConfigureAwait(false);
        if (json is null)
        {
            return OidcSignIn.Failed($"the identity provider's device authorization endpoint {endpoint.GetLeftPart(UriPartial.Path)} did not answer properly: {error}");
        }

        if (status != 200 || OidcProvider.Raw(json, "device_code") is not { Length: > 0 } deviceCode || OidcProvider.Text(json, "user_code") is not { Length: > 0 } userCode
            || OidcProvider.Text(json, "verification_uri") is not { Length: > 0 } verificationUri)
        {
            return OidcSignIn.Failed(provider.Refusal(new TokenAnswer(null, OidcProvider.Text(json, "error") ?? $"HTTP {status}", OidcProvider.Text(json, "error_description"))));
        }

        var expiresIn = Seconds(json, "expires_in") ?? 300;
        var interval = TimeSpan.FromSeconds(Math.Max(1, Seconds(json, "interval") ?? 5));
        var lifetime = TimeSpan.FromSeconds(expiresIn) < timeout ? TimeSpan.FromSeconds(expiresIn) : timeout;
        var deadline = time.GetUtcNow() + lifetime;

        await prompt.WriteLineAsync($"To sign in, open {verificationUri} on any device and enter the code {userCode}").ConfigureAwait(false);
        if (OidcProvider.Text(json, "verification_uri_complete") is { Length: > 0 } complete)
        {
            await prompt.WriteLineAsync($"  or open {complete} (the code is filled in)").ConfigureAwait(false);
        }

        await prompt.WriteLineAsync($"Waiting for the sign-in at {provider.Issuer} (the code expires in {Steward.Agent.Sources.Durations.Format(TimeSpan.FromSeconds(Math.Ceiling(lifetime.TotalSeconds)))})…").ConfigureAwait(false);
        var expired = $"the code {userCode} expired before the sign-in was approved (expired_token); run steward login --device again";
        while (true)
        {
            await Task.Delay(interval, time, cancellationToken).ConfigureAwait(false);
            if (time.GetUtcNow() >= deadline)
            {
                return OidcSignIn.Failed(expired);
            }

            var (answer, failure) = await provider.RequestTokenAsync(http, [new("grant_type", GrantType), new("device_code", deviceCode)], cancellationToken).ConfigureAwait(false);
            if (answer is null)
            {
                return OidcSignIn.Failed(failure!);
            }

            switch (answer)
            {
                case { IdToken: { Length: > 0 } idToken }:
                    return new OidcSignIn(idToken, null);
                case { Error: "authorization_pending" }:
                    continue;
                case { Error: "slow_down" }:
                    interval += TimeSpan.FromSeconds(5);
                    continue;
                case { Error: "expired_token" }:
                    return OidcSignIn.Failed(expired);
                default:
                    return OidcSignIn.Failed(provider.Refusal(answer));
            }
        }
    }

    private static int? Seconds(System.Text.Json.Nodes.JsonObject json, string name) =>
        json[name] is System.Text.Json.Nodes.JsonValue value && value.TryGetValue<int>(out var seconds) && seconds is > 0 and < 86_400 ? seconds : null;
}
