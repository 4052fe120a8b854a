using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Steward.Agent.Sources;
using Steward.Cli.AgentCommands;

namespace Steward.Cli.Models;

/// <summary>
/// Where the model and audit commands ask (<see cref="StewardServerClient.Resolve"/>): <c>--server</c>/<c>--token</c>,
/// else the Steward server of <c>steward login</c> and its stored token, else <c>STEWARD_SERVER</c>/<c>STEWARD_TOKEN</c>;
/// and how its failures are told and exited with.
/// </summary>
internal static class ModelServer
{
    public const string ServerVariable = StewardServerClient.ServerVariable;
    public const string TokenVariable = StewardServerClient.TokenVariable;

    public static Option<string?> ServerOption() => new("--server") { Description = $"The Steward server URL (default: the server of `steward login`, else ${ServerVariable})." };

    public static Option<string?> TokenOption() => new("--token") { Description = $"A token of the organisation (default: the token of `steward login`, else ${TokenVariable}, which keeps it out of the process list)." };

    /// <summary>
    /// Resolves the server and token and fetches one JSON document; on failure the error is already printed and
    /// <c>ExitCode</c> says how to exit.
    /// </summary>
    public static async Task<(JsonDocument? Document, int ExitCode)> FetchAsync(
        TextWriter stderr, string? server, string? token, AgentEnvironment environment, string path, CancellationToken cancellationToken)
    {
        var (target, error) = StewardServerClient.Resolve(server, token, environment.Paths, environment.Variables);
        if (target is null)
        {
            return (null, AgentOutput.Error(stderr, error!, ExitCodes.Unreadable));
        }

        using var http = StewardServerClient.CreateHttp(TimeSpan.FromSeconds(60), environment.Variables);
        var (document, failure, exit) = await GetAsync(target, http, path, cancellationToken).ConfigureAwait(false);
        return document is null ? (null, AgentOutput.Error(stderr, failure!, exit)) : (document, ExitCodes.Ok);
    }

    /// <summary>GETs <paramref name="path"/>: the document, or the error and its exit code (2 unreachable or the token refused, 1 refused otherwise).</summary>
    public static async Task<(JsonDocument? Document, string? Error, int ExitCode)> GetAsync(StewardServerClient server, HttpClient http, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        var answer = await server.GetJsonAsync(http, path, cancellationToken).ConfigureAwait(false);
        return answer.Document is { } document
            ? (document, null, ExitCodes.Ok)
            : (null, answer.Error, answer.Status is 0 or 401 ? ExitCodes.Unreadable : ExitCodes.Invalid);
    }
}
