namespace Steward.Agent.Sources.Oidc;

/// <summary>What a sign-in at the identity provider gave: an ID token (sent once to the Steward server, never kept) or why not.</summary>
public sealed record OidcSignIn(string? IdToken, string? Error)
{
    public static OidcSignIn Failed(string error) => new(null, error);

    /// <summary>
    /// The Steward server names the identity provider; the person signs in there with the device flow
    /// (<see cref="OidcDeviceLogin"/>) or in the browser (<see cref="OidcBrowserLogin"/>). What the person must do is
    /// written to <paramref name="prompt"/> (stderr: stdout may be a script's).
    /// </summary>
    public static async Task<(OidcSignIn SignIn, OidcProvider? Provider)> SignInAsync(
        string serverUrl, string? organisation, bool allowHttp, bool device, bool openBrowser, TimeSpan timeout, TextWriter prompt, TimeProvider time, CancellationToken cancellationToken)
    {
        using var http = OidcProvider.CreateHttp();
        var (provider, problem) = await OidcProvider.DiscoverAsync(http, serverUrl, organisation, allowHttp, cancellationToken).ConfigureAwait(false);
        if (provider is null)
        {
            return (Failed(problem!), null);
        }

        var signIn = device
            ? await OidcDeviceLogin.SignInAsync(http, provider, prompt, time, timeout, cancellationToken).ConfigureAwait(false)
            : await OidcBrowserLogin.SignInAsync(http, provider, prompt, openBrowser, timeout, cancellationToken).ConfigureAwait(false);
        return (signIn, provider);
    }
}
