using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent;
using Steward.Agent.Sources;

namespace Steward.Cli.AgentCommands;

/// <summary>
/// <c>steward login &lt;steward-server-url&gt;</c> or <c>steward login --registry &lt;url-or-path&gt;</c>: sets where policy
/// comes from, after fetching and verifying it. With a server, the token comes from STEWARD_TOKEN or --token, from an
/// ID token given with --oidc-id-token, or from a sign-in at the organisation's identity provider: --oidc (browser) or
/// --device; an ID token is exchanged at the server for a developer token. The command refuses options that do not go
/// together and renders the result; <see cref="LoginFlow"/> signs in, exchanges and logs in.
/// </summary>
internal sealed class LoginCommand
{
    /// <summary>The shortest <c>--interval</c>: a registry is not fetched more often than this.</summary>
    internal static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(5);

    private readonly IAnsiConsole console;
    private readonly TextWriter stdout;
    private readonly TextWriter stderr;
    private readonly AgentEnvironment? environment;

    private readonly Argument<string?> server = new("steward-server-url") { Description = "A Steward server (https). Its token comes from STEWARD_TOKEN or --token, or from a sign-in with --oidc or --device.", Arity = ArgumentArity.ZeroOrOne };
    private readonly Option<string?> registry = new("--registry") { Description = "A Kiro registry file URL, an official-style Registry API base URL, or a local registry file path." };
    private readonly Option<string?> token = new("--token") { Description = "The Steward server token (prefer STEWARD_TOKEN: a flag stays in shell history). Stored 0600, never printed." };
    private readonly Option<bool> allowHttp = new("--allow-http") { Description = "Allow plain http, for a registry on this machine only (localhost, 127.0.0.1, ::1)." };
    private readonly Option<string> maxOfflineAge = new("--max-offline-age")
    {
        Description = "How long the last verified policy stays in force while the source is unreachable (90m, 36h, 7d).",
        DefaultValueFactory = _ => Durations.Format(PolicySource.DefaultMaxOfflineAge),
    };
    private readonly Option<string?> keyThumbprint = new("--key-thumbprint")
    {
        Description = "The thumbprint (kid) of the Steward server's signing key, as your administrator gave it: login pins that key, and refuses when the server does not publish it.",
    };
    private readonly Option<string?> oidcIdToken = new("--oidc-id-token")
    {
        Description = "An ID token from your organisation's identity provider (automation): exchanged at the server for a developer token (12 h), which login then uses.",
    };
    private readonly Option<string?> organisation = new("--org") { Description = "The organisation whose identity provider to sign in with (default: the one organisation on the server with single sign-on, or for --oidc-id-token the one of the token's issuer)." };
    private readonly Option<bool> oidc = new("--oidc") { Description = "Sign in with your organisation's identity provider in the browser (authorization code with PKCE, redirect to 127.0.0.1); the server names the provider." };
    private readonly Option<bool> device = new("--device") { Description = "Sign in with your organisation's identity provider by the device flow: enter a code at a URL on any device (for machines without a browser)." };
    private readonly Option<bool> noBrowser = new("--no-browser") { Description = "With --oidc: print the sign-in URL instead of opening a browser (implies --oidc)." };
    private readonly Option<string> oidcTimeout = new("--oidc-timeout")
    {
        Description = "How long --oidc and --device wait for the sign-in (90s, 10m); the device code's own expiry also ends it.",
        DefaultValueFactory = _ => "10m",
    };
    private readonly Option<string?> interval = new("--interval")
    {
        Description = "With --registry: how often a running gateway fetches the registry again, conditional on its ETag (90s, 30m, 24h; default 24h). A Steward server's profile sets its own.",
    };
    private readonly Option<bool> json = new("--json") { Description = "Print the result as JSON." };

    private LoginCommand(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment)
    {
        this.console = console;
        this.stdout = stdout;
        this.stderr = stderr;
        this.environment = environment;
    }

    public static Command Create(IAnsiConsole console, TextWriter stdout, TextWriter stderr, AgentEnvironment? environment = null)
    {
        var login = new LoginCommand(console, stdout, stderr, environment);
        var command = new Command("login", "Set where policy comes from: a Steward server, a registry URL, or a local registry file.")
        {
            login.server, login.registry, login.token, login.allowHttp, login.maxOfflineAge, login.keyThumbprint, login.oidcIdToken, login.organisation, login.oidc, login.device, login.noBrowser, login.oidcTimeout, login.interval, login.json,
        };
        command.SetAction(login.RunAsync);
        return command;
    }

    private async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var env = environment ?? AgentEnvironment.FromProcess(console);
        if (!Durations.TryParse(parse.GetValue(maxOfflineAge), out var age))
        {
            return AgentOutput.Error(stderr, $"--max-offline-age {parse.GetValue(maxOfflineAge)}: expected a duration such as 90m, 36h or 7d", ExitCodes.Usage);
        }

        TimeSpan? syncInterval = null;
        if (parse.GetValue(interval) is { } intervalText)
        {
            if (parse.GetValue(registry) is null)
            {
                return AgentOutput.Error(stderr, "--interval is for a registry source (--registry): a Steward server's profile sets how often its developers sync; nothing was changed", ExitCodes.Usage);
            }

            if (!Durations.TryParse(intervalText, out var parsedInterval) || parsedInterval < MinimumInterval)
            {
                return AgentOutput.Error(stderr, $"--interval {intervalText}: expected a duration of at least {Durations.Format(MinimumInterval)}, such as 30m, 6h or 24h; nothing was changed", ExitCodes.Usage);
            }

            syncInterval = parsedInterval;
        }

        var idToken = parse.GetValue(oidcIdToken);
        LoginSignIn? signIn = null;
        if (parse.GetValue(oidc) || parse.GetValue(device) || parse.GetValue(noBrowser))
        {
            if (parse.GetValue(server) is null || parse.GetValue(token) is not null || idToken is not null || parse.GetValue(registry) is not null)
            {
                return AgentOutput.Error(stderr, "--oidc and --device need a Steward server URL, and replace --token, --oidc-id-token and --registry: `steward login https://steward.example.com --oidc` (or --device)", ExitCodes.Usage);
            }

            if (parse.GetValue(device) && parse.GetValue(noBrowser))
            {
                return AgentOutput.Error(stderr, "--no-browser is for the browser sign-in (--oidc); the device flow never opens a browser: use one or the other", ExitCodes.Usage);
            }

            if (!Durations.TryParse(parse.GetValue(oidcTimeout), out var timeout))
            {
                return AgentOutput.Error(stderr, $"--oidc-timeout {parse.GetValue(oidcTimeout)}: expected a duration such as 90s or 10m", ExitCodes.Usage);
            }

            signIn = new LoginSignIn(parse.GetValue(device), !parse.GetValue(noBrowser), timeout);
        }
        else if (idToken is not null && (parse.GetValue(server) is null || parse.GetValue(token) is not null))
        {
            return AgentOutput.Error(stderr, "--oidc-id-token needs a Steward server URL and replaces --token: `steward login https://steward.example.com --oidc-id-token <jwt>`", ExitCodes.Usage);
        }

        var request = new LoginRequest(
            parse.GetValue(server),
            parse.GetValue(registry),
            parse.GetValue(token) ?? env.Variables(SourceStore.TokenVariable),
            parse.GetValue(allowHttp),
            age,
            env.WorkingDirectory,
            parse.GetValue(keyThumbprint),
            syncInterval);
        var flow = await LoginFlow.RunAsync(env.Paths, request, parse.GetValue(organisation), idToken, signIn, stderr, env.Time, cancellationToken).ConfigureAwait(false);
        if (flow.Result is not { } result)
        {
            return AgentOutput.Error(stderr, flow.SignInError! + "; nothing was changed");
        }

        if (parse.GetValue(json))
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(result, AgentJsonContext.Output.LoginResult)).ConfigureAwait(false);
            return result.Succeeded ? ExitCodes.Ok : ExitCodes.Invalid;
        }

        if (!result.Succeeded)
        {
            return AgentOutput.Error(stderr, result.Error!);
        }

        Render(result, parse.GetValue(registry) is not null, syncInterval, flow.Issuer, flow.Exchanged);
        return ExitCodes.Ok;
    }

    /// <summary>A successful login for people: the source, what the signed bundle says, and how long the cache holds.</summary>
    private void Render(LoginResult result, bool registrySource, TimeSpan? syncInterval, string? issuer, OidcExchangeResult? exchanged)
    {
        console.MarkupLineInterpolated($"[green]logged in[/]: {result.Source} ({result.Kind}), {result.Servers} approved server{(result.Servers == 1 ? "" : "s")}{(result.Warnings > 0 ? $", {result.Warnings} warnings" : "")}");
        if (registrySource)
        {
            console.MarkupLineInterpolated($"  a running gateway fetches it again every {Durations.Format(syncInterval ?? PolicySource.DefaultSyncInterval)} (If-None-Match; change it with --interval)");
        }

        if (issuer is not null && exchanged is not null)
        {
            console.MarkupLineInterpolated($"  signed in at {issuer} as account {exchanged.Account}; the Steward token is valid until {exchanged.ExpiresAt?.UtcDateTime:yyyy-MM-dd HH:mm} UTC (then run steward login again)");
        }
        if (result.KeyThumbprint is { } kid)
        {
            console.MarkupLineInterpolated($"  server signing key pinned: {kid}");
            console.MarkupLine("  compare it with the thumbprint your administrator publishes (scripts: --key-thumbprint <kid>)");
            console.MarkupLineInterpolated($"  revision {result.Revision}, signed bundle valid until {result.ExpiresAt?.UtcDateTime:yyyy-MM-dd HH:mm} UTC; {result.Models} available model{(result.Models == 1 ? "" : "s")}{(result.DefaultModel is { } model ? $", default {model}" : "")}");
        }

        if (result.ExpiresBeforeOfflineAge is { } expires)
        {
            console.MarkupLineInterpolated($"  policy cached; it stays in force until {expires.UtcDateTime:yyyy-MM-dd HH:mm} UTC (when the signed bundle expires, before the maximum offline age of {result.MaxOfflineAge}) if the source cannot be reached");
        }
        else
        {
            console.MarkupLineInterpolated($"  policy cached; it stays in force for {result.MaxOfflineAge} if the source cannot be reached");
        }
        if (result.Note is { } note)
        {
            console.MarkupLineInterpolated($"  [yellow]note[/]: {note}");
        }
    }
}
