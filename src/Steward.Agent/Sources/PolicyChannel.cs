using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Steward.Agent.Sources;

/// <summary>One event of a Steward server's change channel: its name (<c>policy</c>, <c>refetch</c>) and its data line.</summary>
public sealed record ChannelEvent(string Name, string Data)
{
    /// <summary>The bundle ETag a <c>policy</c> event names (null when it names none).</summary>
    public string? ETag => Field("etag");

    /// <summary>The bundle revision a <c>policy</c> event names (null when it names none).</summary>
    public string? Revision => Field("revision");

    private string? Field(string name)
    {
        try
        {
            using var document = JsonDocument.Parse(Data);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>Why a change channel could not be opened: the status the server answered (null when it was not reached), and a sentence.</summary>
public sealed record ChannelRefusal(int? Status, string Message, TimeSpan? RetryAfter = null)
{
    /// <summary>The server refused the token (401: unknown, expired or revoked; 403).</summary>
    public bool TokenRefused => Status is 401 or 403;

    /// <summary>The server has no change channel (an older Steward server, or a proxy that does not route it).</summary>
    public bool NotOffered => Status is 404 or 405 or 501;
}

/// <summary>
/// The client of a Steward server's change channel, <c>GET &lt;url&gt;/api/v1/policy/events</c> (server-sent events, held
/// open, the developer token as bearer). It carries no policy: only that the bundle moved, which <see cref="Sync.PolicySync"/>
/// answers with its ordinary signed fetch. Same outbound address policy and https rule as <see cref="PolicyFetcher"/>; no
/// redirect is followed (the token would have to follow it).
/// </summary>
public sealed class PolicyChannel : IDisposable
{
    /// <summary>A stream silent for this long (the server sends a comment every 25 s) is taken for dead and opened again.</summary>
    public static readonly TimeSpan Silence = TimeSpan.FromSeconds(75);

    /// <summary>The longest event line accepted: an event names a revision and an ETag, nothing more.</summary>
    private const int MaxLine = 4096;

    private readonly HttpClient http;

    public PolicyChannel(HttpMessageHandler? handler = null)
    {
        http = new HttpClient(handler ?? Core.Net.OutboundAddressPolicy.FromEnvironment(purpose: "policy sources").CreateHandler())
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("steward/" + typeof(PolicyChannel).Assembly.GetName().Version?.ToString(3));
    }

    public void Dispose() => http.Dispose();

    public static string EventsUrl(string baseUrl) => baseUrl.TrimEnd('/') + "/api/v1/policy/events";

    /// <summary>
    /// Opens the channel and yields its events until the server ends it, the connection breaks (an <see cref="IOException"/>
    /// or <see cref="HttpRequestException"/>), it is silent for <see cref="Silence"/>, or <paramref name="cancellationToken"/>.
    /// <paramref name="refused"/> is called (and nothing yielded) when it cannot be opened.
    /// </summary>
    public async IAsyncEnumerable<ChannelEvent> ListenAsync(PolicySource source, string token, Action<ChannelRefusal> refused, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(refused);
        var url = new Uri(EventsUrl(source.Location));
        if (SourceAddress.Check(url, source.AllowHttp) is { } refusal)
        {
            refused(new ChannelRefusal(null, refusal));
            yield break;
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.ParseAdd("text/event-stream");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var silence = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        silence.CancelAfter(Silence);
        HttpResponseMessage? response = null;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, silence.Token).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            refused(new ChannelRefusal(null, $"{url} cannot be reached: {NetErrors.Message(e, url)}"));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            refused(new ChannelRefusal(null, $"{url} did not answer within {Silence.TotalSeconds:0} seconds"));
        }

        if (response is null)
        {
            yield break;
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (response.StatusCode != HttpStatusCode.OK || !string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase))
            {
                var retryAfter = response.Headers.RetryAfter?.Delta;
                refused(new ChannelRefusal(status, response.StatusCode == HttpStatusCode.OK
                    ? $"{url} answered {mediaType ?? "no media type"}, not an event stream"
                    : $"{url} answered {status} {response.ReasonPhrase}", retryAfter));
                yield break;
            }

            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var buffer = new byte[1024];
            var line = new StringBuilder();
            var decoder = Encoding.UTF8.GetDecoder();
            var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
            string? name = null;
            var data = new StringBuilder();
            while (true)
            {
                silence.CancelAfter(Silence);
                int read;
                try
                {
                    read = await stream.ReadAsync(buffer, silence.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new IOException($"{url} sent nothing for {Silence.TotalSeconds:0} seconds");
                }

                if (read == 0)
                {
                    yield break;
                }

                var count = decoder.GetChars(buffer, 0, read, chars, 0);
                for (var i = 0; i < count; i++)
                {
                    var c = chars[i];
                    if (c == '\r')
                    {
                        continue;
                    }

                    if (c != '\n')
                    {
                        if (line.Length >= MaxLine)
                        {
                            throw new IOException($"{url} sent a line longer than {MaxLine} characters: not a Steward change channel");
                        }

                        line.Append(c);
                        continue;
                    }

                    // One line of the event-stream format: a blank line ends the event; ':' starts a comment (the heartbeat).
                    var text = line.ToString();
                    line.Clear();
                    if (text.Length == 0)
                    {
                        if (name is not null || data.Length > 0)
                        {
                            yield return new ChannelEvent(name ?? "message", data.ToString());
                        }

                        name = null;
                        data.Clear();
                    }
                    else if (text.StartsWith("event:", StringComparison.Ordinal))
                    {
                        name = text[6..].TrimStart();
                    }
                    else if (text.StartsWith("data:", StringComparison.Ordinal))
                    {
                        if (data.Length > 0)
                        {
                            data.Append('\n');
                        }

                        data.Append(text[5..].TrimStart());
                        if (data.Length > MaxLine)
                        {
                            throw new IOException($"{url} sent an event longer than {MaxLine} characters: not a Steward change channel");
                        }
                    }
                }
            }
        }
    }
}
