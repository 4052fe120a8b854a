using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Steward.Core.Json;
using Steward.Core.Net;
using Steward.Core.Registry;

namespace Steward.Agent.Sources;

/// <summary>Why a fetch gave no document.</summary>
public enum FetchFailureKind
{
    /// <summary>The source could not be reached or did not answer properly (network, TLS, timeout, 5xx): the cache stays in force.</summary>
    Unreachable,
    /// <summary>The source answered, and refused (401, 403, 404, …) or answered something that is not a registry document.</summary>
    Refused,
}

/// <summary>What a fetch produced.</summary>
public abstract record FetchOutcome
{
    private FetchOutcome()
    {
    }

    /// <summary>The source answered 304: what is cached is current.</summary>
    public sealed record NotModified(string? ETag) : FetchOutcome;

    /// <summary>
    /// A registry document, not yet validated. For a paged Registry API the pages are joined into one Registry API page
    /// (<c>{"servers": [...every item...]}</c>), so the whole registry is validated, and accepted or rejected, as one.
    /// </summary>
    public sealed record Fetched(byte[] Document, RegistryShape? Shape, string? ETag) : FetchOutcome;

    /// <param name="Status">The HTTP status the source answered with, when it answered (401 and 403 refuse the token).</param>
    public sealed record Failed(FetchFailureKind Kind, string Message, int? Status = null) : FetchOutcome
    {
        /// <summary>The source refused the token: 401 (unknown, expired or revoked) or 403.</summary>
        public bool TokenRefused => Status is 401 or 403;
    }
}

/// <summary>
/// Fetches the registry from a <see cref="PolicySource"/>: one method per kind of source. Redirects are followed by hand
/// (at most five), each hop held to the same https rule, and the token is sent only to the source's own origin.
/// </summary>
public sealed partial class PolicyFetcher : IDisposable
{
    public const int PageLimit = 100;
    public const int MaxPages = 1000;
    private const int MaxRedirects = 5;

    private readonly HttpClient http;
    private readonly long maxBytes;

    public PolicyFetcher(HttpMessageHandler? handler = null, long maxBytes = JsonLimits.DefaultMaxBytes, TimeSpan? timeout = null)
    {
        http = new HttpClient(handler ?? DefaultHandler())
        {
            Timeout = timeout ?? TimeSpan.FromSeconds(30),
        };
        StewardServerClient.AddHeaders(http);
        this.maxBytes = maxBytes;
    }

    public void Dispose() => http.Dispose();

    /// <summary>
    /// Connections through the outbound address policy; answers in Brotli or gzip are accepted and decoded (a Steward
    /// server's bundle is about a tenth of its size so). The size limits apply to the decoded bytes.
    /// </summary>
    private static SocketsHttpHandler DefaultHandler()
    {
        var handler = Steward.Core.Net.OutboundAddressPolicy.FromEnvironment(purpose: "policy sources").CreateHandler();
        handler.AutomaticDecompression = DecompressionMethods.Brotli | DecompressionMethods.GZip;
        return handler;
    }

    public Task<FetchOutcome> FetchAsync(PolicySource source, string? token, string? etag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.Kind switch
        {
            SourceKind.StewardServer => FetchStewardServerAsync(source, token, etag, cancellationToken),
            SourceKind.RegistryFile => FetchRegistryFileAsync(source, etag, cancellationToken),
            SourceKind.RegistryApi => FetchRegistryApiAsync(source, null, etag, cancellationToken),
            _ => ReadLocalFileAsync(source, cancellationToken),
        };
    }

    /// <summary>
    /// A Steward server's signed policy bundle: <c>GET &lt;url&gt;/api/v1/policy</c> with the token as bearer, conditional
    /// on the ETag. The document is the compact JWS as received, not yet verified (<see cref="Sync.SignedPolicy"/> does that
    /// against the pinned keys).
    /// </summary>
    public async Task<FetchOutcome> FetchStewardServerAsync(PolicySource source, string? token, string? etag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        // A bundle is refused over PolicyBundle.MaxLength before any parsing; the download stops there too.
        var response = await GetAsync(new Uri(PolicyUrl(source.Location)), source.AllowHttp, token, etag, cancellationToken, PolicyMediaType, Core.Policy.PolicyBundle.MaxLength).ConfigureAwait(false);
        return response switch
        {
            Response.Failure failure => failure.Outcome,
            Response.NotModified notModified => new FetchOutcome.NotModified(notModified.ETag ?? etag),
            Response.Body body => new FetchOutcome.Fetched(body.Bytes, null, body.ETag),
            _ => throw new InvalidOperationException(),
        };
    }

    /// <summary>
    /// A Steward server's published keys, <c>GET &lt;url&gt;/api/v1/policy/keys</c> (no token: the keys are public). What it
    /// answers is not trusted by itself: a key is pinned at login (the developer or <c>--key-thumbprint</c> vouches for
    /// it), or later only through an endorsement signed by a key already pinned.
    /// </summary>
    public async Task<(ServerKeySet? Keys, FetchOutcome.Failed? Failure)> FetchKeysAsync(PolicySource source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var url = new Uri(KeysUrl(source.Location));
        var response = await GetAsync(url, source.AllowHttp, null, null, cancellationToken).ConfigureAwait(false);
        switch (response)
        {
            case Response.Failure failure:
                return (null, failure.Outcome);
            case Response.Body body:
                return ServerKeySet.Parse(body.Bytes) is { } keys
                    ? (keys, null)
                    : (null, new FetchOutcome.Failed(FetchFailureKind.Refused, $"{url} did not answer a JWK Set ({{\"keys\": [...]}}); is {source.Location} a Steward server?"));
            default:
                return (null, new FetchOutcome.Failed(FetchFailureKind.Refused, $"{url} answered 304 to an unconditional request"));
        }
    }

    /// <summary>The media type asked for the bundle: a compact JWS (RFC 7515), as the server serves it.</summary>
    private const string PolicyMediaType = "application/jose";

    public static string PolicyUrl(string baseUrl) => baseUrl.TrimEnd('/') + "/api/v1/policy";

    public static string KeysUrl(string baseUrl) => baseUrl.TrimEnd('/') + "/api/v1/policy/keys";

    /// <summary>A static registry file (Kiro's model): one GET, conditional on the ETag.</summary>
    public async Task<FetchOutcome> FetchRegistryFileAsync(PolicySource source, string? etag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var response = await GetAsync(new Uri(source.Location), source.AllowHttp, null, etag, cancellationToken).ConfigureAwait(false);
        return response switch
        {
            Response.Failure failure => failure.Outcome,
            Response.NotModified notModified => new FetchOutcome.NotModified(notModified.ETag ?? etag),
            Response.Body body => new FetchOutcome.Fetched(body.Bytes, null, body.ETag),
            _ => throw new InvalidOperationException(),
        };
    }

    /// <summary>
    /// An official-style Registry API: <c>/v0.1/servers?limit=100</c>, then every page its <c>nextCursor</c> names.
    /// The first request is conditional; when it answers 304 nothing else is fetched.
    /// </summary>
    public async Task<FetchOutcome> FetchRegistryApiAsync(PolicySource source, string? token, string? etag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var listUrl = ServersUrl(source.Location);
        var items = new List<byte[]>();
        string? cursor = null;
        string? firstETag = null;
        var seenCursors = new HashSet<string>(StringComparer.Ordinal);
        for (var page = 1; ; page++)
        {
            if (page > MaxPages)
            {
                return new FetchOutcome.Failed(FetchFailureKind.Refused, $"{listUrl} has more than {MaxPages} pages of {PageLimit}; Steward stops there");
            }

            var url = new Uri(listUrl + "?limit=" + PageLimit + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            var response = await GetAsync(url, source.AllowHttp, token, page == 1 ? etag : null, cancellationToken).ConfigureAwait(false);
            switch (response)
            {
                case Response.Failure failure:
                    return page == 1 ? failure.Outcome : failure.Outcome with { Message = $"page {page}: {failure.Outcome.Message}" };
                case Response.NotModified notModified when page == 1:
                    return new FetchOutcome.NotModified(notModified.ETag ?? etag);
                case Response.NotModified:
                    return new FetchOutcome.Failed(FetchFailureKind.Refused, $"{url} answered 304 to an unconditional request");
                case Response.Body body:
                    if (page == 1)
                    {
                        firstETag = body.ETag;
                    }

                    if (ReadPage(body.Bytes, url, page, items) is { } error)
                    {
                        return error;
                    }

                    cursor = body.NextCursor;
                    break;
            }

            if (string.IsNullOrEmpty(cursor))
            {
                break;
            }

            if (!seenCursors.Add(cursor))
            {
                return new FetchOutcome.Failed(FetchFailureKind.Refused, $"{listUrl} returned the cursor \"{cursor}\" twice; the registry's paging loops");
            }
        }

        return new FetchOutcome.Fetched(JoinPages(items), RegistryShape.RegistryApiPage, firstETag);
    }

    /// <summary>A registry file on this machine. Read whole each time (no ETag: the content hash decides whether it changed).</summary>
    public async Task<FetchOutcome> ReadLocalFileAsync(PolicySource source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        try
        {
            var info = new FileInfo(source.Location);
            if (!info.Exists)
            {
                return new FetchOutcome.Failed(FetchFailureKind.Unreachable, $"{source.Location} does not exist");
            }

            if (info.Length > maxBytes)
            {
                return new FetchOutcome.Failed(FetchFailureKind.Refused, $"{source.Location} is {info.Length:N0} bytes, over the limit of {maxBytes:N0} bytes");
            }

            return new FetchOutcome.Fetched(await File.ReadAllBytesAsync(source.Location, cancellationToken).ConfigureAwait(false), null, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new FetchOutcome.Failed(FetchFailureKind.Unreachable, $"{source.Location} cannot be read: {e.Message}");
        }
    }

    /// <summary>
    /// What a <c>--registry</c> URL is: one ending in <c>/v0.1/servers</c> is a Registry API; otherwise a URL that answers
    /// a JSON object with <c>servers</c> is a registry file; otherwise <c>&lt;url&gt;/v0.1/servers</c> is tried.
    /// </summary>
    public async Task<(SourceKind? Kind, string Location, string? Error)> DetectAsync(Uri uri, bool allowHttp, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var text = uri.GetLeftPart(UriPartial.Path).TrimEnd('/');
        if (text.EndsWith("/v0.1/servers", StringComparison.Ordinal))
        {
            return (SourceKind.RegistryApi, text[..^"/v0.1/servers".Length], null);
        }

        var asFile = await GetAsync(uri, allowHttp, null, null, cancellationToken).ConfigureAwait(false);
        if (asFile is Response.Body body && LooksLikeRegistry(body.Bytes))
        {
            return (SourceKind.RegistryFile, uri.ToString(), null);
        }

        if (asFile is Response.Failure { Outcome.Kind: FetchFailureKind.Unreachable } unreachable)
        {
            return (null, uri.ToString(), unreachable.Outcome.Message);
        }

        var asApi = await GetAsync(new Uri(ServersUrl(text) + "?limit=1"), allowHttp, null, null, cancellationToken).ConfigureAwait(false);
        if (asApi is Response.Body apiBody && LooksLikeRegistry(apiBody.Bytes))
        {
            return (SourceKind.RegistryApi, text, null);
        }

        var fileAnswer = asFile is Response.Failure f ? f.Outcome.Message : "it answered something other than a registry document";
        var apiAnswer = asApi is Response.Failure a ? a.Outcome.Message : "it answered something other than a Registry API page";
        return (null, uri.ToString(), $"{uri} is neither a registry file ({fileAnswer}) nor a registry API base URL ({ServersUrl(text)}: {apiAnswer})");
    }

    public static string ServersUrl(string baseUrl) => baseUrl.TrimEnd('/') + "/v0.1/servers";

    private static bool LooksLikeRegistry(byte[] bytes)
    {
        var parsed = StrictJson.Parse(bytes);
        using var document = parsed.Document;
        return document is not null && document.RootElement.ValueKind == JsonValueKind.Object &&
               document.RootElement.TryGetProperty("servers", out var servers) && servers.ValueKind == JsonValueKind.Array;
    }

    private static FetchOutcome.Failed? ReadPage(byte[] bytes, Uri url, int page, List<byte[]> items)
    {
        var parsed = StrictJson.Parse(bytes);
        using var document = parsed.Document;
        if (document is null)
        {
            return new FetchOutcome.Failed(FetchFailureKind.Refused, $"page {page} ({url}) is not a JSON document: {parsed.Failure}");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("servers", out var servers) || servers.ValueKind != JsonValueKind.Array)
        {
            return new FetchOutcome.Failed(FetchFailureKind.Refused, $"page {page} ({url}) is not a Registry API page: it has no \"servers\" array");
        }

        foreach (var item in servers.EnumerateArray())
        {
            items.Add(Encoding.UTF8.GetBytes(item.GetRawText()));
        }

        return null;
    }

    private static byte[] JoinPages(List<byte[]> items)
    {
        using var stream = new MemoryStream();
        stream.Write("{\"servers\":["u8);
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                stream.WriteByte((byte)',');
            }

            stream.Write(items[i]);
        }

        stream.Write("],\"metadata\":{\"count\":"u8);
        stream.Write(Encoding.ASCII.GetBytes(items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        stream.Write("}}"u8);
        return stream.ToArray();
    }

    private abstract record Response
    {
        public sealed record Body(byte[] Bytes, string? ETag, string? NextCursor) : Response;

        public sealed record NotModified(string? ETag) : Response;

        public sealed record Failure(FetchOutcome.Failed Outcome) : Response;
    }

    private async Task<Response> GetAsync(Uri start, bool allowHttp, string? token, string? etag, CancellationToken cancellationToken, string? accept = null, long? limit = null)
    {
        var maxBytes = Math.Min(limit ?? this.maxBytes, this.maxBytes);
        var origin = start.GetLeftPart(UriPartial.Authority);
        var url = start;
        for (var hop = 0; ; hop++)
        {
            if (SourceAddress.Check(url, allowHttp) is { } refused)
            {
                return Fail(FetchFailureKind.Refused, hop == 0 ? refused : $"{start} redirects to {url}, which is refused: {refused}");
            }

            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (accept is not null)
            {
                request.Headers.Accept.Clear();
                request.Headers.Accept.ParseAdd(accept);
            }
            if (token is not null && url.GetLeftPart(UriPartial.Authority) == origin)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            if (etag is not null && EntityTagHeaderValue.TryParse(etag, out var tag))
            {
                request.Headers.IfNoneMatch.Add(tag);
            }

            try
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                var status = (int)response.StatusCode;
                if (status is >= 300 and < 400 && status != 304)
                {
                    if (hop >= MaxRedirects || response.Headers.Location is not { } location)
                    {
                        return Fail(FetchFailureKind.Refused, $"{start} redirects more than {MaxRedirects} times, or without a Location");
                    }

                    url = location.IsAbsoluteUri ? location : new Uri(url, location);
                    continue;
                }

                var responseETag = response.Headers.ETag?.ToString();
                if (response.StatusCode == HttpStatusCode.NotModified)
                {
                    return new Response.NotModified(responseETag);
                }

                if (response.StatusCode != HttpStatusCode.OK)
                {
                    var kind = status >= 500 || status == 429 ? FetchFailureKind.Unreachable : FetchFailureKind.Refused;
                    var why = status switch
                    {
                        401 => token is null ? "; it needs a token: run `steward login <url> --token <token>`" : "; the token was refused: run `steward login <url> --token <token>` with a valid token",
                        403 => "; this account may not read the registry",
                        404 => "; check the URL",
                        _ => "",
                    };
                    return new Response.Failure(new FetchOutcome.Failed(kind, $"{url} answered {status} {response.ReasonPhrase}{why}", status));
                }

                if (response.Content.Headers.ContentLength is { } declared && declared > maxBytes)
                {
                    return Fail(FetchFailureKind.Refused, $"{url} sent {declared:N0} bytes, over the limit of {maxBytes:N0} bytes");
                }

                await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                var bytes = await BoundedReader.ReadAsync(stream, maxBytes, response.Content.Headers.ContentLength, cancellationToken).ConfigureAwait(false);
                if (bytes is null)
                {
                    return Fail(FetchFailureKind.Refused, $"{url} sent more than {maxBytes:N0} bytes, the limit");
                }

                return new Response.Body(bytes, responseETag, accept is null ? NextCursor(bytes) : null);
            }
            catch (HttpRequestException e)
            {
                return Fail(FetchFailureKind.Unreachable, $"{url.GetLeftPart(UriPartial.Path)} cannot be reached: {NetErrors.Message(e, url)}");
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return Fail(FetchFailureKind.Unreachable, $"{url.GetLeftPart(UriPartial.Path)} did not answer within {http.Timeout.TotalSeconds:0} seconds");
            }
        }
    }

    private static Response.Failure Fail(FetchFailureKind kind, string message) => new(new FetchOutcome.Failed(kind, message));

    private static string? NextCursor(byte[] bytes)
    {
        try
        {
            var reader = new Utf8JsonReader(bytes.AsSpan().StartsWith("\uFEFF"u8) ? bytes.AsSpan(3) : bytes);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.ValueKind == JsonValueKind.Object &&
                   document.RootElement.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object &&
                   metadata.TryGetProperty("nextCursor", out var next) && next.ValueKind == JsonValueKind.String
                ? next.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
