using System.Net.Http.Headers;
using System.Text.Json;
using Steward.Core.Net;

namespace Steward.Agent.Sources;

/// <summary>What a Steward server answered to a GET: its status and body, or (status 0, no body) why it could not be asked.</summary>
public sealed record ServerAnswer(int Status, byte[]? Body, string? Failure);

/// <summary>What a Steward server answered to a GET of a JSON document: the document on 200, else the one-line error.</summary>
/// <param name="Status">The HTTP status; 0 when the server could not be reached.</param>
public sealed record ServerJson(JsonDocument? Document, int Status, string? Error);

/// <summary>
/// The Steward server as every command asks it besides the policy bundle (<see cref="PolicyFetcher"/> fetches that):
/// the models and their explanations, the audit verification, the exports, the single sign-on settings. One request
/// shape for all of them: the headers <see cref="PolicyFetcher"/> sends, the token as bearer (never printed), and a
/// server that cannot be reached answered as a failure, not an exception. Connections pass the outbound address policy.
/// </summary>
public sealed class StewardServerClient
{
    public const string ServerVariable = "STEWARD_SERVER";
    public const string TokenVariable = "STEWARD_TOKEN";

    /// <param name="root">The server's base URL, ending in <c>/</c>: paths are resolved against it.</param>
    /// <param name="token">The bearer token, or null for the public endpoints.</param>
    public StewardServerClient(Uri root, string? token)
    {
        ArgumentNullException.ThrowIfNull(root);
        Root = root;
        Token = token;
    }

    public Uri Root { get; }

    public string? Token { get; }

    /// <summary>The base URL for <paramref name="serverUrl"/>: its path without a trailing slash, then one <c>/</c>.</summary>
    public static Uri RootOf(Uri serverUrl)
    {
        ArgumentNullException.ThrowIfNull(serverUrl);
        return new Uri(serverUrl.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/");
    }

    /// <summary>
    /// The server and token to ask: the given ones, then the Steward server of <c>steward login</c> and its stored token,
    /// then <c>STEWARD_SERVER</c>/<c>STEWARD_TOKEN</c>; or the one-line reason there is none.
    /// </summary>
    public static (StewardServerClient? Server, string? Error) Resolve(string? server, string? token, StewardPaths paths, Func<string, string?> environment)
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

        return (new StewardServerClient(RootOf(uri), token.Trim()), null);
    }

    /// <summary>
    /// An HTTP client for a Steward server: every connection passes <see cref="OutboundAddressPolicy.FromEnvironment"/>
    /// (never a link-local or cloud metadata address unless <c>STEWARD_OUTBOUND_ALLOW_LINK_LOCAL=1</c>; loopback and
    /// private addresses are fine: a Steward server may run there). Redirects are followed, each hop connecting through
    /// the policy; the bearer token is not sent on (the handler drops it on a redirect).
    /// </summary>
    public static HttpClient CreateHttp(TimeSpan timeout, Func<string, string?>? environment = null)
    {
        var handler = OutboundAddressPolicy.FromEnvironment(environment, "the Steward server").CreateHandler();
        handler.AllowAutoRedirect = true;
        var http = new HttpClient(handler, disposeHandler: true) { Timeout = timeout };
        AddHeaders(http);
        return http;
    }

    /// <summary>What every request of Steward's sends: who asks (<c>steward/&lt;version&gt;</c>), and that JSON is wanted.</summary>
    public static void AddHeaders(HttpClient http)
    {
        ArgumentNullException.ThrowIfNull(http);
        http.DefaultRequestHeaders.UserAgent.ParseAdd("steward/" + typeof(StewardServerClient).Assembly.GetName().Version?.ToString(3));
        http.DefaultRequestHeaders.Accept.ParseAdd("application/json");
    }

    /// <summary>
    /// The largest answer read when the caller names no limit: 16 MiB, the limit of the largest document a Steward
    /// server sends (the policy bundle, <see cref="Core.Policy.PolicyBundle.MaxLength"/>); its exports, model listings,
    /// explanations and audit verifications are far smaller, so a larger answer is not one of them.
    /// </summary>
    public const long DefaultMaxBytes = Core.Policy.PolicyBundle.MaxLength;

    /// <summary>
    /// GETs <paramref name="path"/> (relative to <see cref="Root"/>). The answer is read by <see cref="BoundedReader"/>:
    /// one over <paramref name="maxBytes"/>, declared or sent in chunks, is not read on, and answers its status with
    /// no body and the reason (<see cref="Unread"/> tells it).
    /// </summary>
    public async Task<ServerAnswer> GetAsync(HttpClient http, string path, CancellationToken cancellationToken, long maxBytes = DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(http);
        var url = new Uri(Root, path);
        using var message = new HttpRequestMessage(HttpMethod.Get, url);
        if (Token is not null)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        }

        message.Headers.Accept.ParseAdd("application/json");
        try
        {
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var body = await BoundedReader.ReadAsync(stream, maxBytes, response.Content.Headers.ContentLength, cancellationToken).ConfigureAwait(false);
            return body is null
                ? new ServerAnswer(status, null, $"{url.GetLeftPart(UriPartial.Path)} sent more than {maxBytes:N0} bytes, the limit")
                : new ServerAnswer(status, body, null);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new ServerAnswer(0, null, NetErrors.Message(e, url));
        }
    }

    /// <summary>The one-line error for an answer with no body: the server could not be reached (and why), or what it sent was over the limit.</summary>
    public string Unread(ServerAnswer answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        return answer.Status == 0 ? $"cannot reach {Root}: {answer.Failure}" : answer.Failure ?? $"the server answered {answer.Status} with no body";
    }

    /// <summary>GETs <paramref name="path"/>; the parsed JSON on 200, else the one-line error (the server's detail, or why it could not be reached or read).</summary>
    public async Task<ServerJson> GetJsonAsync(HttpClient http, string path, CancellationToken cancellationToken, long maxBytes = DefaultMaxBytes)
    {
        var answer = await GetAsync(http, path, cancellationToken, maxBytes).ConfigureAwait(false);
        if (answer.Body is not { } body)
        {
            return new ServerJson(null, answer.Status, Unread(answer));
        }

        JsonDocument? document = null;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
        }

        if (answer.Status == 200 && document is not null)
        {
            return new ServerJson(document, answer.Status, null);
        }

        document?.Dispose();
        return new ServerJson(null, answer.Status, $"the server answered {answer.Status}: {Detail(body)}");
    }

    /// <summary>The <c>detail</c> of a server's problem answer, or "(no detail)".</summary>
    public static string Detail(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String)
            {
                return detail.GetString()!;
            }
        }
        catch (JsonException)
        {
        }

        return "(no detail)";
    }
}
