using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent;
using Steward.Agent.Sources;

namespace Steward.Cli.AgentCommands;

/// <summary>
/// <c>steward login &lt;steward-server-url&gt;</c> or <c>steward login --registry &lt;url-or-path&gt;</c>: sets where policy
/// comes from, after fetching and verifying it.
/// </summary>
internal static class LoginCommand
{
    public static Command Create(IAnsiConsole console, TextWriter stdout, AgentEnvironment? environment = null)
    {
        var server = new Argument<string?>("steward-server-url") { Description = "A Steward server (https). Its token comes from STEWARD_TOKEN or --token.", Arity = ArgumentArity.ZeroOrOne };
        var registry = new Option<string?>("--registry") { Description = "A Kiro registry file URL, an official-style Registry API base URL, or a local registry file path." };
        var token = new Option<string?>("--token") { Description = "The Steward server token (prefer STEWARD_TOKEN: a flag stays in shell history). Stored 0600, never printed." };
        var allowHttp = new Option<bool>("--allow-http") { Description = "Allow plain http, for a registry on this machine only (localhost, 127.0.0.1, ::1)." };
        var maxOfflineAge = new Option<string>("--max-offline-age")
        {
            Description = "How long the last verified policy stays in force while the source is unreachable (90m, 36h, 7d).",
            DefaultValueFactory = _ => Durations.Format(PolicySource.DefaultMaxOfflineAge),
        };
        var keyThumbprint = new Option<string?>("--key-thumbprint")
        {
            Description = "The thumbprint (kid) of the Steward server's signing key, as your administrator gave it: login pins that key, and refuses when the server does not publish it.",
        };
        var oidcIdToken = new Option<string?>("--oidc-id-token")
        {
            Description = "An ID token from your organisation's identity provider (automation): exchanged at the server for a developer token (12 h), which login then uses.",
        };
        var organisation = new Option<string?>("--org") { Description = "The organisation whose identity provider issued --oidc-id-token (default: the one the server finds by the token's issuer)." };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("login", "Set where policy comes from: a Steward server, a registry URL, or a local registry file.")
        {
            server, registry, token, allowHttp, maxOfflineAge, keyThumbprint, oidcIdToken, organisation, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var env = environment ?? AgentEnvironment.FromProcess(console);
            if (!Durations.TryParse(parse.GetValue(maxOfflineAge), out var age))
            {
                return AgentOutput.Error(console, $"--max-offline-age {parse.GetValue(maxOfflineAge)}: expected a duration such as 90m, 36h or 7d");
            }

            using var fetcher = new PolicyFetcher();
            var bearer = parse.GetValue(token) ?? env.Variables(SourceStore.TokenVariable);
            if (parse.GetValue(oidcIdToken) is { } idToken)
            {
                if (parse.GetValue(server) is not { } serverUrl || parse.GetValue(token) is not null)
                {
                    return AgentOutput.Error(console, "--oidc-id-token needs a Steward server URL and replaces --token: `steward login https://steward.example.com --oidc-id-token <jwt>`");
                }

                var exchanged = await fetcher.ExchangeOidcAsync(serverUrl, parse.GetValue(organisation), idToken, parse.GetValue(allowHttp), cancellationToken).ConfigureAwait(false);
                if (exchanged.Token is null)
                {
                    return AgentOutput.Error(console, exchanged.Error! + "; nothing was changed");
                }

                bearer = exchanged.Token;
            }

            var request = new LoginRequest(
                parse.GetValue(server),
                parse.GetValue(registry),
                bearer,
                parse.GetValue(allowHttp),
                age,
                env.WorkingDirectory,
                parse.GetValue(keyThumbprint));
            LoginResult result;
            try
            {
                result = await Login.LoginAsync(env.Paths, request, fetcher, env.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                result = new LoginResult($"{env.Paths.ConfigDirectory} cannot be written: {e.Message}");
            }

            if (parse.GetValue(json))
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(result, AgentJsonContext.Output.LoginResult)).ConfigureAwait(false);
                return result.Succeeded ? ExitCodes.Ok : ExitCodes.Invalid;
            }

            if (!result.Succeeded)
            {
                return AgentOutput.Error(console, result.Error!);
            }

            console.MarkupLineInterpolated($"[green]logged in[/]: {result.Source} ({result.Kind}), {result.Servers} approved server{(result.Servers == 1 ? "" : "s")}{(result.Warnings > 0 ? $", {result.Warnings} warnings" : "")}");
            if (result.KeyThumbprint is { } kid)
            {
                console.MarkupLineInterpolated($"  server signing key pinned: {kid}");
                console.MarkupLine("  compare it with the thumbprint your administrator publishes (scripts: --key-thumbprint <kid>)");
                console.MarkupLineInterpolated($"  revision {result.Revision}, signed bundle valid until {result.ExpiresAt?.UtcDateTime:yyyy-MM-dd HH:mm} UTC; {result.Models} available model{(result.Models == 1 ? "" : "s")}{(result.DefaultModel is { } model ? $", default {model}" : "")}");
            }

            console.MarkupLineInterpolated($"  policy cached; it stays in force for {result.MaxOfflineAge} if the source cannot be reached");
            if (result.Note is { } note)
            {
                console.MarkupLineInterpolated($"  [yellow]note[/]: {note}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
