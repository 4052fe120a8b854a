using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent;
using Steward.Agent.Sources;
using Steward.Cli.AgentCommands;
using Steward.Core.Net;

namespace Steward.Cli.Models;

/// <summary>
/// Where the model commands ask: <c>--server</c>/<c>--token</c>, else the Steward server of <c>steward login</c> and its
/// stored token, else <c>STEWARD_SERVER</c>/<c>STEWARD_TOKEN</c>. The token is sent, never printed.
/// </summary>
internal sealed record ModelServer(Uri Root, string Token)
{
    public const string ServerVariable = "STEWARD_SERVER";
    public const string TokenVariable = "STEWARD_TOKEN";

    public static Option<string?> ServerOption() => new("--server") { Description = $"The Steward server URL (default: the server of `steward login`, else ${ServerVariable})." };

    public static Option<string?> TokenOption() => new("--token") { Description = $"A token of the organisation (default: the token of `steward login`, else ${TokenVariable}, which keeps it out of the process list)." };

    /// <summary>The server to ask, or the one-line reason there is none.</summary>
    /// <summary>
    /// Resolves the server and token (options, then the <c>steward login</c> source, then the environment) and fetches
    /// one JSON document; on failure the error is already printed and <c>ExitCode</c> says how to exit.
    /// </summary>
    public static async Task<(JsonDocument? Document, int ExitCode)> FetchAsync(
        IAnsiConsole console, string? server, string? token, AgentEnvironment environment, string path, CancellationToken cancellationToken)
    {
        var (target, error) = Resolve(server, token, environment.Paths, environment.Variables);
        if (target is null)
        {
            return (null, AgentOutput.Error(console, error!, ExitCodes.Unreadable));
        }

        using var http = OutboundHttp.Create("the Steward server", TimeSpan.FromSeconds(60), environment.Variables);
        var (document, failure, exit) = await target.GetAsync(http, path, cancellationToken).ConfigureAwait(false);
        return document is null ? (null, AgentOutput.Error(console, failure!, exit)) : (document, ExitCodes.Ok);
    }

    public static (ModelServer? Server, string? Error) Resolve(string? server, string? token, StewardPaths paths, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(environment);
        if (server is null && SourceStore.Load(paths).Source is { Kind: SourceKind.StewardServer } source)
        {
            server = source.Location;
            token ??= SourceStore.LoadToken(paths, environment);
        }

        server ??= environment(ServerVariable);
        token ??= environment(TokenVariable);
        if (string.IsNullOrEmpty(server) || !Uri.TryCreate(server, UriKind.Absolute, out var uri) ||
            !UrlRules.Allows(uri, allowLoopbackHttp: true))
        {
            return (null, $"--server: give the Steward server's https URL (http only to a loopback address), run `steward login`, or set {ServerVariable}");
        }

        if (string.IsNullOrWhiteSpace(token))
        {
            return (null, $"--token: give a token of your organisation, run `steward login`, or set {TokenVariable}");
        }

        return (new ModelServer(new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/"), token.Trim()), null);
    }

    /// <summary>GETs <paramref name="path"/>; the parsed JSON on 200, else the one-line error (the server's detail, or why it could not be reached).</summary>
    public async Task<(JsonDocument? Document, string? Error, int ExitCode)> GetAsync(HttpClient http, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        using var message = new HttpRequestMessage(HttpMethod.Get, new Uri(Root, path));
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        message.Headers.Accept.ParseAdd("application/json");
        try
        {
            using var response = await http.SendAsync(message, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            JsonDocument? document = null;
            try
            {
                document = JsonDocument.Parse(body);
            }
            catch (JsonException)
            {
            }

            if (response.StatusCode == HttpStatusCode.OK && document is not null)
            {
                return (document, null, ExitCodes.Ok);
            }

            var detail = document?.RootElement is { ValueKind: JsonValueKind.Object } root && root.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : "(no detail)";
            document?.Dispose();
            return (null, $"the server answered {(int)response.StatusCode}: {detail}", response.StatusCode == HttpStatusCode.Unauthorized ? ExitCodes.Unreadable : ExitCodes.Invalid);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return (null, $"cannot reach {Root}: {e.Message}", ExitCodes.Unreadable);
        }
    }
}
