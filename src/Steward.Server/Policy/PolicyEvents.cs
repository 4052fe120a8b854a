using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Hosting;

namespace Steward.Server.Policy;

/// <summary>
/// The change channel, <c>GET /api/v1/policy/events</c>: server-sent events, one request per gateway held open, with the
/// bundle's developer token. It never carries policy content, only what the bundle endpoint would answer the token now:
/// <c>event: policy</c> with the bundle's revision and ETag — at once, then whenever a committed change makes them move —
/// or <c>event: refetch</c> when the token is no longer valid (the fetch then gets 401 and the gateway disables MCP), after
/// which the stream ends. A comment line every <see cref="Heartbeat"/> keeps proxies and the client's liveness check happy.
/// Woken by <see cref="LocalChanges"/>: a change through this instance, or through another instance on the same PostgreSQL
/// database (<see cref="ChangeListener"/>). See docs/policy-bundle.md "The change channel".
/// </summary>
internal static class PolicyEvents
{
    public const string Path = "/api/v1/policy/events";
    public const string MediaType = "text/event-stream";

    /// <summary>How often a held stream gets a comment line when nothing changed (under the 30–60 s idle timeouts of common proxies).</summary>
    public static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(25);

    public static async Task HoldAsync(HttpContext context, Database database, TimeProvider time, SigningKeys keys, BundleCache cache, BundleResolutions resolutions,
        LocalChanges changes, PolicyChannels channels, IHostApplicationLifetime lifetime)
    {
        if (Authentication.PresentedToken(context) is not { } token)
        {
            await Authentication.Unauthorized(context).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        var tokenHash = Tokens.Hash(token);
        // The stream ends with the request or with the server's shutdown, so that a stopping server is not held up by it.
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var cancellationToken = ending.Token;
        var seen = changes.Generation;
        var current = await ResolveAsync(context, database, time, keys, cache, resolutions, channels, tokenHash, cancellationToken).ConfigureAwait(false);
        if (current is null)
        {
            await Authentication.Unauthorized(context).ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        if (channels.TryHold(tokenHash) is { } refusal)
        {
            await refusal.ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        try
        {
            var response = context.Response;
            response.ContentType = MediaType;
            response.Headers.CacheControl = "no-cache, no-store";
            // nginx: do not buffer this response (docs/deployment.md).
            response.Headers["X-Accel-Buffering"] = "no";
            await WriteAsync(response, PolicyEvent(current), cancellationToken).ConfigureAwait(false);
            var sent = current.ETag;
            while (!cancellationToken.IsCancellationRequested)
            {
                var woken = changes.NextAsync(seen);
                if (!woken.IsCompleted)
                {
                    // The heartbeat's timer is cancelled when a change comes first, so a busy server does not pile up timers.
                    using var beat = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    var delay = Task.Delay(Heartbeat, time, beat.Token);
                    var first = await Task.WhenAny(woken, delay).ConfigureAwait(false);
                    await beat.CancelAsync().ConfigureAwait(false);
                    if (first != woken)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        await WriteAsync(response, ": heartbeat\n\n", cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                }

                seen = changes.Generation;
                var next = await ResolveAsync(context, database, time, keys, cache, resolutions, channels, tokenHash, cancellationToken).ConfigureAwait(false);
                if (next is null)
                {
                    await WriteAsync(response, "event: refetch\ndata: {\"reason\":\"token\"}\n\n", cancellationToken).ConfigureAwait(false);
                    return;
                }

                if (next.ETag != sent)
                {
                    await WriteAsync(response, PolicyEvent(next), cancellationToken).ConfigureAwait(false);
                    sent = next.ETag;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (IOException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        finally
        {
            channels.Release(tokenHash);
        }
    }

    /// <summary>What the bundle endpoint would answer, read with at most <see cref="PolicyChannels.Resolving"/> at once: a change wakes every stream together.</summary>
    private static async Task<SignedBundle?> ResolveAsync(HttpContext context, Database database, TimeProvider time, SigningKeys keys, BundleCache cache, BundleResolutions resolutions,
        PolicyChannels channels, string tokenHash, CancellationToken cancellationToken)
    {
        await channels.Resolving.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await PolicyApi.CurrentAsync(context, database, time, keys, cache, resolutions, tokenHash, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            channels.Resolving.Release();
        }
    }

    internal static string PolicyEvent(SignedBundle bundle)
    {
        var data = Encoding.UTF8.GetString(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("revision", bundle.Revision);
            w.WriteString("etag", bundle.ETag);
            w.WriteEndObject();
        }));
        return $"event: policy\ndata: {data}\n\n";
    }

    private static async Task WriteAsync(HttpResponse response, string text, CancellationToken cancellationToken)
    {
        await response.WriteAsync(text, cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// The change channels held on this instance: at most <see cref="MaxHeld"/> in all and <see cref="MaxPerToken"/> per token
/// (a developer runs one gateway per server), beyond which a new one is refused with 503 and <c>Retry-After</c> — the
/// gateway then keeps its sync interval —; and the limit on how many streams read the database at once after a change.
/// </summary>
internal sealed class PolicyChannels
{
    public const int MaxHeld = 20_000;
    public const int MaxPerToken = 64;

    private readonly ConcurrentDictionary<string, int> _perToken = new(StringComparer.Ordinal);
    private int _held;

    public SemaphoreSlim Resolving { get; } = new(Math.Max(4, Environment.ProcessorCount * 4));

    public int Held => Volatile.Read(ref _held);

    /// <summary>Null when the channel may be held (and is counted); else the refusal to send.</summary>
    public IResult? TryHold(string tokenHash)
    {
        if (Interlocked.Increment(ref _held) > MaxHeld)
        {
            Interlocked.Decrement(ref _held);
            return Refused($"this server instance holds its maximum of {MaxHeld} change channels; the gateway keeps syncing on its interval");
        }

        if (_perToken.AddOrUpdate(tokenHash, 1, (_, n) => n + 1) > MaxPerToken)
        {
            Release(tokenHash);
            return Refused($"this token holds its maximum of {MaxPerToken} change channels on this instance; the gateway keeps syncing on its interval");
        }

        return null;
    }

    public void Release(string tokenHash)
    {
        Interlocked.Decrement(ref _held);
        while (_perToken.TryGetValue(tokenHash, out var n))
        {
            if (n <= 1 ? _perToken.TryRemove(KeyValuePair.Create(tokenHash, n)) : _perToken.TryUpdate(tokenHash, n - 1, n))
            {
                return;
            }
        }
    }

    private static IResult Refused(string detail) => new RetryLater(Problems.Result(StatusCodes.Status503ServiceUnavailable, "Service Unavailable", detail));

    private sealed class RetryLater(IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = "60";
            return inner.ExecuteAsync(httpContext);
        }
    }
}
