using Steward.Agent.Sources.Oidc;

namespace Steward.Agent.Sources;

/// <summary>A sign-in at the organisation's identity provider: the device flow, or the browser (opened, or its URL printed).</summary>
public sealed record LoginSignIn(bool Device, bool OpenBrowser, TimeSpan Timeout);

/// <summary>
/// What <c>steward login</c>'s whole flow did: <see cref="SignInError"/> when the sign-in or the token exchange failed
/// (nothing was changed, and there is no <see cref="Result"/>), else the login's result; after a sign-in, the
/// identity provider and the exchanged token.
/// </summary>
public sealed record LoginFlowResult(LoginResult? Result, string? SignInError, string? Issuer = null, OidcExchangeResult? Exchanged = null);

/// <summary>
/// <c>steward login</c> from its parsed options: for a Steward server, a sign-in at the identity provider
/// (<see cref="OidcSignIn"/>) when asked, an ID token (signed in, or given) exchanged at the server for a developer
/// token, then <see cref="Login.LoginAsync"/> with that token. Options that do not go together are the command's to
/// refuse before this runs.
/// </summary>
public static class LoginFlow
{
    /// <param name="organisation">The organisation whose identity provider signs in, or to exchange the ID token at.</param>
    /// <param name="idToken">An ID token given (automation); with <paramref name="signIn"/>, the sign-in gives it.</param>
    /// <param name="prompt">Where what the person must do to sign in is written (stderr: stdout may be a script's).</param>
    public static async Task<LoginFlowResult> RunAsync(
        StewardPaths paths, LoginRequest request, string? organisation, string? idToken, LoginSignIn? signIn, TextWriter prompt, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(request);
        using var fetcher = new PolicyFetcher();
        string? issuer = null;
        OidcExchangeResult? exchanged = null;
        if (signIn is not null)
        {
            var (answer, provider) = await OidcSignIn.SignInAsync(
                request.ServerUrl!, organisation, request.AllowHttp, signIn.Device, signIn.OpenBrowser, signIn.Timeout, prompt, time, cancellationToken).ConfigureAwait(false);
            if (answer.IdToken is null)
            {
                return new LoginFlowResult(null, answer.Error!);
            }

            idToken = answer.IdToken;
            issuer = provider!.Issuer;
            organisation = provider.Organisation;
        }

        if (idToken is not null)
        {
            exchanged = await fetcher.ExchangeOidcAsync(request.ServerUrl!, organisation, idToken, request.AllowHttp, cancellationToken).ConfigureAwait(false);
            if (exchanged.Token is null)
            {
                return new LoginFlowResult(null, exchanged.Error!);
            }

            request = request with { Token = exchanged.Token };
        }

        LoginResult result;
        try
        {
            result = await Login.LoginAsync(paths, request, fetcher, time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            result = new LoginResult($"{paths.ConfigDirectory} cannot be written: {e.Message}");
        }

        return new LoginFlowResult(result, null, issuer, exchanged);
    }
}
