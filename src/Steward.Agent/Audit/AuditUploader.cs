using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Steward.Agent.Sources;
using Steward.Core.Audit;
using Steward.Core.Net;

namespace Steward.Agent.Audit;

/// <summary>How the gateway sends its tool calls to the Steward server. The defaults are documented in docs/gateway.md.</summary>
public sealed record AuditUploadOptions
{
    /// <summary>The Steward server's base URL (as <c>steward login</c> stored it).</summary>
    public required string ServerUrl { get; init; }

    /// <summary>Plain http was allowed at login (loopback only).</summary>
    public bool AllowHttp { get; init; }

    /// <summary>The bearer token, read at each send (a new <c>steward login</c> is picked up). Never logged.</summary>
    public required Func<string?> Token { get; init; }

    /// <summary>The spool file (0600), next to the audit log.</summary>
    public required string SpoolPath { get; init; }

    /// <summary>Events are sent at most this long after they are queued (unless the server is unreachable).</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>…or as soon as this many are waiting.</summary>
    public int FlushCount { get; init; } = 100;

    /// <summary>The most events in one request (the server accepts 500).</summary>
    public int MaxBatch { get; init; } = 500;

    /// <summary>The largest request body (the server accepts 1 MiB).</summary>
    public int MaxBatchBytes { get; init; } = 900 * 1024;

    /// <summary>The first wait after a failed send; doubled after each further failure up to <see cref="MaxBackoff"/>, with ±20% jitter.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The largest the spool grows while the server is unreachable; beyond it the oldest events are dropped from the upload (they stay in the local audit log).</summary>
    public long MaxSpoolBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>The most events held in memory before they reach the spool; a call beyond it is not uploaded (it stays in the local audit log).</summary>
    public int MaxQueuedEvents { get; init; } = 10_000;

    /// <summary>How long a stopping gateway tries to send what is spooled before leaving it for the next start.</summary>
    public TimeSpan FinalSendTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The clock the uploader reads and waits on: the flush interval, the backoff, the bound of the last send when it
    /// stops, and the time in each event's id. Tests move it by hand.
    /// </summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>For tests: the HTTP handler (default: the outbound address policy's, redirects not followed).</summary>
    public HttpMessageHandler? Handler { get; init; }
}

/// <summary>
/// Sends the gateway's tool-call events to the Steward server (<c>POST /api/v1/audit/tool-calls</c>) in batches, in the
/// background. A tool call only queues its event in memory (<see cref="Enqueue"/>, never waiting); the worker writes
/// queued events to the <see cref="AuditSpool"/> at once, and sends the spool every <see cref="AuditUploadOptions.FlushInterval"/>
/// or when <see cref="AuditUploadOptions.FlushCount"/> events wait, removing what the server accepted. A failed send
/// waits with exponential backoff; what is spooled is sent by the next gateway to start when this one stops first.
/// </summary>
/// <remarks>
/// Each event has an id made when it is queued, so a batch sent again after a lost answer is stored once. An event the
/// server refuses as invalid (400, 413, 422) is retried alone and, refused alone, dropped with a warning: it would never
/// be accepted, and it stays in the local audit log. Argument values are in an event only when the policy enabled them
/// (the gateway passes them to the audit log only then).
/// </remarks>
public sealed partial class AuditUploader : IAsyncDisposable
{
    /// <summary>The spool's file name, next to the audit log.</summary>
    public const string SpoolFileName = "audit-spool.jsonl";

    private readonly AuditUploadOptions options;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly AuditSpool spool;
    private readonly Uri endpoint;
    private readonly HttpClient http;
    private readonly Channel<(string Id, ToolCallEvent Event)> queue;
    private readonly CancellationTokenSource stop = new();
    private readonly Task worker;
    private readonly List<SpooledEvent> unspooled = [];
    private long delivered;
    private long notQueued;
    private int failures;
    private DateTimeOffset retryAt = DateTimeOffset.MinValue;
    private string? failing;

    public AuditUploader(AuditUploadOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        this.options = options;
        this.logger = logger;
        time = options.Time;
        spool = new AuditSpool(options.SpoolPath);
        endpoint = new Uri(options.ServerUrl.TrimEnd('/') + "/api/v1/audit/tool-calls");
        http = new HttpClient(options.Handler ?? Core.Net.OutboundAddressPolicy.FromEnvironment(purpose: "the Steward server").CreateHandler(), disposeHandler: true)
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("steward/" + typeof(AuditUploader).Assembly.GetName().Version?.ToString(3));
        queue = Channel.CreateBounded<(string, ToolCallEvent)>(new BoundedChannelOptions(options.MaxQueuedEvents)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        worker = Task.Run(RunAsync);
    }

    /// <summary>
    /// The upload settings for this machine's policy source, with the defaults: set when it is a Steward server
    /// (<c>steward login &lt;url&gt;</c>), null for any other source, or when none is set.
    /// </summary>
    public static AuditUploadOptions? OptionsForSource(StewardPaths paths, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (SourceStore.Load(paths).Source is not { Kind: SourceKind.StewardServer } source)
        {
            return null;
        }

        environment ??= Environment.GetEnvironmentVariable;
        return new AuditUploadOptions
        {
            ServerUrl = source.Location,
            AllowHttp = source.AllowHttp,
            Token = () => SourceStore.LoadToken(paths, environment),
            SpoolPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(paths.AuditLog))!, SpoolFileName),
        };
    }

    /// <summary>Events the server has accepted since this uploader started (stored or already there).</summary>
    public long Delivered => Interlocked.Read(ref delivered);

    public string SpoolPath => spool.Path;

    /// <summary>Queues one audited tool call. Never waits: when the in-memory queue is full the event is not uploaded (the local audit log has it).</summary>
    public void Enqueue(in ToolCallEvent entry)
    {
        if (!queue.Writer.TryWrite((Guid.CreateVersion7(time.GetUtcNow()).ToString(), entry)))
        {
            Interlocked.Increment(ref notQueued);
        }
    }

    /// <summary>The worker, which must never take the gateway down: a failure it did not expect stops the upload, with the reason in the log.</summary>
    private async Task RunAsync()
    {
        try
        {
            await WorkAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogStopped(logger, e.Message, spool.Path);
        }
    }

    private async Task WorkAsync()
    {
        var token = stop.Token;
        var pending = SafeCount();
        // What a previous gateway left in the spool goes at once; new calls wait for the interval or the count.
        var nextFlush = pending > 0 ? time.GetUtcNow() : time.GetUtcNow() + options.FlushInterval;
        while (!token.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            var wake = pending > 0 || unspooled.Count > 0 ? Max(nextFlush, retryAt) : DateTimeOffset.MaxValue;
            var delay = wake == DateTimeOffset.MaxValue ? Timeout.InfiniteTimeSpan : Max(wake - now, TimeSpan.Zero);
            // Until a call is queued, the flush time or the retry comes (on the uploader's clock), or the uploader stops.
            using (var due = delay > TimeSpan.Zero ? new CancellationTokenSource(delay, time) : null)
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(token, due?.Token ?? CancellationToken.None))
            {
                try
                {
                    if (delay != TimeSpan.Zero && !await queue.Reader.WaitToReadAsync(wait.Token).ConfigureAwait(false))
                    {
                        break;
                    }
                }
                catch (OperationCanceledException) when (!token.IsCancellationRequested)
                {
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            pending += SpoolQueued();
            now = time.GetUtcNow();
            if (pending == 0 || now < retryAt || (pending < options.FlushCount && now < nextFlush))
            {
                continue;
            }

            var sent = await SendSpoolAsync(token).ConfigureAwait(false);
            pending = SafeCount() + unspooled.Count;
            nextFlush = time.GetUtcNow() + options.FlushInterval;
            if (sent)
            {
                failures = 0;
                retryAt = DateTimeOffset.MinValue;
            }
            else if (!token.IsCancellationRequested)
            {
                Failed();
            }
        }

        // Stopping: whatever is queued goes to the spool, and one short attempt is made to send it.
        SpoolQueued();
        if (SafeCount() > 0 && failures == 0)
        {
            using var final = new CancellationTokenSource(options.FinalSendTimeout, time);
            await SendSpoolAsync(final.Token).ConfigureAwait(false);
        }
    }

    /// <summary>Waits before the next attempt: exponential backoff with jitter.</summary>
    private void Failed()
    {
        failures++;
        retryAt = time.GetUtcNow() + Backoff(failures);
    }

    private TimeSpan Backoff(int attempt)
    {
        var seconds = options.InitialBackoff.TotalSeconds * Math.Pow(2, Math.Min(attempt - 1, 20));
        seconds = Math.Min(seconds, options.MaxBackoff.TotalSeconds);
#pragma warning disable CA5394 // Jitter spreads the retries of many gateways; it protects nothing.
        return TimeSpan.FromSeconds(seconds * (0.8 + (0.4 * Random.Shared.NextDouble())));
#pragma warning restore CA5394
    }

    /// <summary>Moves what the queue holds to the spool; returns how many events were added.</summary>
    private int SpoolQueued()
    {
        while (queue.Reader.TryRead(out var item))
        {
            string line;
            try
            {
                line = Line(item.Id, item.Event);
            }
            catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
            {
                // The argument values could not be read any more: the call is sent without them.
                LogArgumentsUnreadable(logger, item.Id, e.Message);
                line = Line(item.Id, item.Event with { Arguments = null });
            }

            unspooled.Add(new SpooledEvent(item.Id, line));
        }

        var lost = Interlocked.Exchange(ref notQueued, 0);
        if (lost > 0)
        {
            LogQueueFull(logger, lost);
        }

        if (unspooled.Count == 0)
        {
            return 0;
        }

        try
        {
            var dropped = spool.Append(unspooled, options.MaxSpoolBytes);
            if (dropped > 0)
            {
                LogSpoolFull(logger, dropped, options.MaxSpoolBytes);
            }

            var added = Math.Max(0, unspooled.Count - dropped);
            unspooled.Clear();
            return added;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Kept in memory and tried again after a wait; bounded like the queue.
            LogSpoolFailed(logger, spool.Path, e.Message);
            Failed();
            if (unspooled.Count > options.MaxQueuedEvents)
            {
                unspooled.RemoveRange(0, unspooled.Count - options.MaxQueuedEvents);
            }

            return 0;
        }
    }

    private int SafeCount()
    {
        try
        {
            return spool.Count();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogSpoolFailed(logger, spool.Path, e.Message);
            return 0;
        }
    }

    /// <summary>Sends every spooled event in batches; true when the spool was emptied of what it held.</summary>
    private async Task<bool> SendSpoolAsync(CancellationToken cancellationToken)
    {
        List<SpooledEvent> events;
        try
        {
            events = spool.Read();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogSpoolFailed(logger, spool.Path, e.Message);
            return false;
        }

        var done = new HashSet<string>(StringComparer.Ordinal);
        var ok = true;
        foreach (var batch in Batches(events, done))
        {
            var result = await SendAsync(batch, cancellationToken).ConfigureAwait(false);
            if (result == Sent.Refused && batch.Count > 1)
            {
                // One bad event must not hold back the others: each is tried alone.
                foreach (var single in batch)
                {
                    var alone = await SendAsync([single], cancellationToken).ConfigureAwait(false);
                    if (alone == Sent.Failed)
                    {
                        ok = false;
                        break;
                    }

                    done.Add(single.Id);
                }
            }
            else if (result == Sent.Failed)
            {
                ok = false;
            }
            else
            {
                done.UnionWith(batch.Select(e => e.Id));
            }

            if (!ok)
            {
                break;
            }
        }

        if (done.Count > 0)
        {
            try
            {
                spool.Remove(done);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Sent again later; the server stores each id once.
                LogSpoolFailed(logger, spool.Path, e.Message);
            }
        }

        return ok;
    }

    /// <summary>Batches of at most MaxBatch events and MaxBatchBytes; an event larger than a batch by itself is dropped (the server would refuse it).</summary>
    private IEnumerable<List<SpooledEvent>> Batches(List<SpooledEvent> events, HashSet<string> done)
    {
        var batch = new List<SpooledEvent>();
        var bytes = 2;
        foreach (var e in events)
        {
            var size = Encoding.UTF8.GetByteCount(e.Line) + 1;
            if (size + 2 > options.MaxBatchBytes)
            {
                LogEventTooLarge(logger, e.Id, size);
                done.Add(e.Id);
                continue;
            }

            if (batch.Count > 0 && (batch.Count >= options.MaxBatch || bytes + size > options.MaxBatchBytes))
            {
                yield return batch;
                batch = [];
                bytes = 2;
            }

            batch.Add(e);
            bytes += size;
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    private enum Sent
    {
        Accepted,
        /// <summary>The server read the batch and refused its content (400, 413, 422).</summary>
        Refused,
        /// <summary>Not delivered: unreachable, refused the token, or failed; tried again later.</summary>
        Failed,
    }

    private async Task<Sent> SendAsync(List<SpooledEvent> batch, CancellationToken cancellationToken)
    {
        if (!UrlRules.Allows(endpoint, options.AllowHttp))
        {
            return Fail($"{endpoint.GetLeftPart(UriPartial.Authority)} is not https");
        }

        if (options.Token() is not { Length: > 0 } token)
        {
            return Fail($"there is no token for the Steward server; run `steward login` (or set {SourceStore.TokenVariable})");
        }

        var body = new StringBuilder("[");
        for (var i = 0; i < batch.Count; i++)
        {
            body.Append(i == 0 ? "" : ",").Append(batch[i].Line);
        }

        body.Append(']');
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new StringContent(body.ToString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        try
        {
            // Only the headers are waited for: a refusal's body is read by Detail, within its limit; an acceptance's is not read.
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                Interlocked.Add(ref delivered, batch.Count);
                if (failing is not null)
                {
                    failing = null;
                    LogRecovered(logger, endpoint.GetLeftPart(UriPartial.Authority));
                }

                return Sent.Accepted;
            }

            if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.UnprocessableEntity)
            {
                if (batch.Count == 1)
                {
                    LogEventRefused(logger, batch[0].Id, status, await Detail(response, cancellationToken).ConfigureAwait(false));
                }

                return Sent.Refused;
            }

            return Fail(response.StatusCode switch
            {
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => $"the server refused the token ({status}); run `steward login` again",
                HttpStatusCode.NotFound => "the server does not accept tool-call events (404); it may be older than this steward",
                _ => $"the server answered {status}",
            });
        }
        catch (Exception e) when (e is HttpRequestException or IOException or Core.Net.OutboundRefusedException ||
                                  (e is OperationCanceledException && !stop.IsCancellationRequested))
        {
            return Fail(e is OperationCanceledException ? "the request timed out" : NetErrors.Message(e, endpoint));
        }
        catch (OperationCanceledException)
        {
            return Sent.Failed;
        }
    }

    private Sent Fail(string why)
    {
        if (failing != why)
        {
            failing = why;
            LogSendFailed(logger, endpoint.GetLeftPart(UriPartial.Authority), why, spool.Path);
        }

        return Sent.Failed;
    }

    /// <summary>
    /// The largest refusal body read for its <c>detail</c>: 8 KiB. The detail is one sentence naming the event's problem;
    /// a body past this is not read on, and the log says so instead of showing a detail.
    /// </summary>
    private const int MaxDetailBytes = 8 * 1024;

    private static async Task<string> Detail(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            if (await BoundedReader.ReadAsync(stream, MaxDetailBytes, response.Content.Headers.ContentLength, cancellationToken).ConfigureAwait(false) is not { } body)
            {
                return $"(the answer is over {MaxDetailBytes:N0} bytes, the limit for an error's detail; not read)";
            }

            using var document = JsonDocument.Parse(body);
            return document.RootElement.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String ? detail.GetString()! : "";
        }
        catch (Exception e) when (e is JsonException or HttpRequestException or IOException)
        {
            return "";
        }
    }

    /// <summary>An event as the server reads it (docs/gateway.md): the fields of the audit log line, and its id.</summary>
    internal static string Line(string id, in ToolCallEvent entry) => ToolCallWire.ToText(id, entry);

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>Stops the worker: queued events are spooled, and sent if the server answers within <see cref="AuditUploadOptions.FinalSendTimeout"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await stop.CancelAsync().ConfigureAwait(false);
        await worker.ConfigureAwait(false);
        stop.Dispose();
        http.Dispose();
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Warning, Message = "Tool-call events cannot be sent to {Server}: {Reason}; they are kept in {Spool} and sent when it answers")]
    private static partial void LogSendFailed(ILogger logger, string server, string reason, string spool);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Tool-call events are sent to {Server} again")]
    private static partial void LogRecovered(ILogger logger, string server);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "The Steward server refused tool-call event {Id} ({Status}: {Detail}); it is dropped from the upload and stays in the local audit log")]
    private static partial void LogEventRefused(ILogger logger, string id, int status, string detail);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Warning, Message = "Tool-call event {Id} is {Bytes} bytes, more than one upload may carry; it stays in the local audit log only")]
    private static partial void LogEventTooLarge(ILogger logger, string id, int bytes);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "The upload spool {Spool} cannot be written: {Message}")]
    private static partial void LogSpoolFailed(ILogger logger, string spool, string message);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning, Message = "The upload spool is full ({MaxBytes} bytes): the {Dropped} oldest events were dropped from the upload; they stay in the local audit log")]
    private static partial void LogSpoolFull(ILogger logger, int dropped, long maxBytes);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Error, Message = "The upload of tool calls to the Steward server stopped: {Message}; calls stay in the local audit log, and {Spool} is sent by the next gateway to start")]
    private static partial void LogStopped(ILogger logger, string message, string spool);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Warning, Message = "The argument values of tool-call event {Id} could not be read ({Message}); it is sent without them")]
    private static partial void LogArgumentsUnreadable(ILogger logger, string id, string message);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Warning, Message = "{Count} tool-call events were not queued for upload (the queue is full); they stay in the local audit log")]
    private static partial void LogQueueFull(ILogger logger, long count);
}
