using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Steward.Agent.Sources.Oidc;

/// <summary>
/// <c>steward login &lt;url&gt; --oidc</c>: the authorization code flow with PKCE (S256) for a native app (RFC 8252). A
/// listener on <c>http://127.0.0.1:&lt;random port&gt;/callback</c> waits for the identity provider's redirect; the
/// system browser is opened on the authorization URL (<c>xdg-open</c> or <c>open</c>, the URL as its one argument,
/// never a shell) when there is one, and the URL is printed on stderr in any case. The first answer that reaches the
/// listener decides: another <c>state</c> than this sign-in's, an error, or no answer before the timeout ends the
/// login. The code is redeemed with the verifier, and the ID token's nonce must be this sign-in's.
/// </summary>
public static class OidcBrowserLogin
{
    public const string CallbackPath = "/callback";

    public static async Task<OidcSignIn> SignInAsync(HttpClient http, OidcProvider provider, TextWriter prompt, bool openBrowser, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(prompt);
        if (provider.AuthorizationEndpoint is not { } authorization)
        {
            return OidcSignIn.Failed($"the identity provider {provider.Issuer} publishes no authorization_endpoint; sign in with the device flow instead: steward login <url> --device");
        }

        var (state, nonce, verifier) = (OidcProvider.Random(), OidcProvider.Random(), OidcProvider.Random());
        var answer = new TaskCompletionSource<Dictionary<string, string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var listener = await StartListenerAsync(state, answer, cancellationToken).ConfigureAwait(false);
        var port = new Uri(listener.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        var redirectUri = $"http://127.0.0.1:{port}{CallbackPath}";
        var query = QueryString.Create(new KeyValuePair<string, string?>[]
        {
            new("response_type", "code"),
            new("client_id", provider.ClientId),
            new("redirect_uri", redirectUri),
            new("scope", provider.Scope),
            new("state", state),
            new("nonce", nonce),
            new("code_challenge", OidcProvider.Challenge(verifier)),
            new("code_challenge_method", "S256"),
        });
        var url = authorization.AbsoluteUri + (authorization.Query.Length > 0 ? "&" : "?") + query.Value![1..];

        if (openBrowser && await TryOpenBrowserAsync(url).ConfigureAwait(false))
        {
            await prompt.WriteLineAsync($"Your browser has been opened to sign in at {provider.Issuer}. If it did not open, visit:").ConfigureAwait(false);
        }
        else
        {
            await prompt.WriteLineAsync($"To sign in at {provider.Issuer}, open this URL in a browser on this machine:").ConfigureAwait(false);
        }

        await prompt.WriteLineAsync("  " + url).ConfigureAwait(false);
        await prompt.WriteLineAsync($"Waiting for the sign-in (at most {Durations.Format(timeout)})…").ConfigureAwait(false);

        Dictionary<string, string> callback;
        try
        {
            callback = await answer.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return OidcSignIn.Failed($"no sign-in came back from the browser within {Durations.Format(timeout)}; run steward login --oidc again (--oidc-timeout gives more time)");
        }

        string Parameter(string name) => callback.TryGetValue(name, out var value) ? value : "";
        if (!OidcProvider.FixedTimeEquals(Parameter("state"), state))
        {
            return OidcSignIn.Failed($"the answer that reached {redirectUri} carries another state than this sign-in's, so it did not come from this sign-in; nothing was changed, run steward login --oidc again");
        }

        if (Parameter("error") is { Length: > 0 } error)
        {
            var description = Parameter("error_description");
            return OidcSignIn.Failed(provider.Refusal(new TokenAnswer(null, OidcProvider.Clean(error), description.Length > 0 ? OidcProvider.Clean(description) : null)));
        }

        if (Parameter("code") is not { Length: > 0 and < 4096 } code)
        {
            return OidcSignIn.Failed($"the identity provider's answer at {redirectUri} has no code");
        }

        var (token, failure) = await provider.RequestTokenAsync(http,
            [new("grant_type", "authorization_code"), new("code", code), new("redirect_uri", redirectUri), new("code_verifier", verifier)], cancellationToken).ConfigureAwait(false);
        if (token is null)
        {
            return OidcSignIn.Failed(failure!);
        }

        if (token.IdToken is not { Length: > 0 } idToken)
        {
            return OidcSignIn.Failed(provider.Refusal(token));
        }

        return OidcProvider.FixedTimeEquals(OidcProvider.Claim(idToken, "nonce") ?? "", nonce)
            ? new OidcSignIn(idToken, null)
            : OidcSignIn.Failed("the ID token's nonce is not the one this sign-in sent; nothing was changed");
    }

    /// <summary>
    /// Kestrel on 127.0.0.1, port chosen by the system, with no configuration read from files or the environment. The
    /// first request to <see cref="CallbackPath"/> completes <paramref name="answer"/>, once its page (which tells the
    /// person whether to go back to the terminal) has been sent.
    /// </summary>
    private static async Task<WebApplication> StartListenerAsync(string state, TaskCompletionSource<Dictionary<string, string>> answer, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var answered = 0;
        app.Run(async context =>
        {
            if (context.Request.Path != CallbackPath || !HttpMethods.IsGet(context.Request.Method))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            var first = Interlocked.Exchange(ref answered, 1) == 0;
            var ok = first && OidcProvider.FixedTimeEquals(context.Request.Query["state"].ToString(), state) && context.Request.Query["error"].Count == 0;
            var message = !first ? "This sign-in has already finished; go back to the terminal."
                : ok ? "Signed in: go back to the terminal, where steward login finishes. You can close this tab."
                : "The sign-in did not succeed; the terminal says why. You can close this tab.";
            context.Response.StatusCode = ok || !first ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest;
            context.Response.ContentType = "text/html; charset=utf-8";
            context.Response.Headers.CacheControl = "no-store";
            await context.Response.WriteAsync($"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Steward sign-in</title></head><body><p>{message}</p></body></html>", context.RequestAborted).ConfigureAwait(false);

            // The page is sent before the login goes on: it then stops this listener.
            await context.Response.CompleteAsync().ConfigureAwait(false);
            if (first)
            {
                answer.TrySetResult(context.Request.Query.ToDictionary(p => p.Key, p => p.Value.ToString(), StringComparer.Ordinal));
            }
        });
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        return app;
    }

    /// <summary>
    /// Opens the system browser on <paramref name="url"/>: <c>open</c> on macOS, <c>xdg-open</c> on Linux and BSD when
    /// there is a graphical session (DISPLAY or WAYLAND_DISPLAY). The URL is the one argument; no shell. False when there
    /// is no browser to open or the opener fails.
    /// </summary>
    private static async Task<bool> TryOpenBrowserAsync(string url)
    {
        string opener;
        if (OperatingSystem.IsMacOS())
        {
            opener = "open";
        }
        else if ((OperatingSystem.IsLinux() || OperatingSystem.IsFreeBSD())
            && (Environment.GetEnvironmentVariable("DISPLAY") is { Length: > 0 } || Environment.GetEnvironmentVariable("WAYLAND_DISPLAY") is { Length: > 0 }))
        {
            opener = "xdg-open";
        }
        else
        {
            return false;
        }

        var start = new ProcessStartInfo(opener) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(url);
        try
        {
            using var process = Process.Start(start);
            if (process is null)
            {
                return false;
            }

            process.StandardInput.Close();
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            return process.ExitCode == 0;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or OperationCanceledException)
        {
            // Not installed, or still running after 10 s (the URL is printed either way).
            return false;
        }
    }
}
