using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;

namespace Steward.Server.Identity;

/// <summary>
/// Failed authentications are rate-limited, per client address and per token prefix (System.Threading.RateLimiting token
/// buckets, partitioned): every answer 401 spends one permit of the caller's address and one of the first
/// <see cref="PrefixLength"/> characters of the bearer token it presented; a bucket refills at
/// <see cref="ServeOptions.FailedAuthenticationsPerMinute"/> a minute up to that many. While either bucket is empty every
/// request of that address or prefix answers 429 with <c>Retry-After</c>, before any token is looked up, so a guesser
/// gets that many tries a minute instead of thousands a second. Successful requests spend nothing. The address is the
/// one a trusted proxy forwarded (<see cref="PublicAddress"/>), else the connection's. Per instance: several instances
/// each allow the rate.
/// </summary>
internal sealed class AuthenticationThrottle : IDisposable
{
    /// <summary>How much of a presented token names its bucket: enough to tell tokens apart, far too little to use one.</summary>
    public const int PrefixLength = 12;

    /// <summary>At most this many addresses and prefixes with recent failures are tracked; past it the record starts afresh.</summary>
    private const int MaxTracked = 100_000;

    private readonly PartitionedRateLimiter<string> _limiter;
    private readonly int _perMinute;

    /// <summary>The keys that failed lately: only these are looked up in the limiter, so a good request costs one dictionary probe per key.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _failing = new(StringComparer.Ordinal);

    public AuthenticationThrottle(ServeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _perMinute = Math.Max(1, options.FailedAuthenticationsPerMinute);
        var replenish = TimeSpan.FromMinutes(1) / _perMinute;
        _limiter = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = _perMinute,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = replenish < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : replenish,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    /// <summary>How long to wait before the next try (for <c>Retry-After</c>): one permit's refill time, in whole seconds.</summary>
    public int RetryAfterSeconds => (int)Math.Ceiling(60.0 / _perMinute);

    private static IEnumerable<string> Keys(HttpContext context)
    {
        yield return "address:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        if (Authentication.PresentedToken(context) is { } token)
        {
            yield return "prefix:" + token[..Math.Min(PrefixLength, token.Length)];
        }
    }

    /// <summary>The middleware: 429 while the caller's address or token prefix has no permit left; a 401 answer spends one of each.</summary>
    public static async Task Middleware(HttpContext context, RequestDelegate next)
    {
        var throttle = context.RequestServices.GetRequiredService<AuthenticationThrottle>();
        foreach (var key in Keys(context))
        {
            if (throttle.Blocked(key))
            {
                context.Response.Headers.RetryAfter = throttle.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                await Problems.Result(StatusCodes.Status429TooManyRequests, "Too Many Requests",
                    $"too many failed authentications from this address or with this token; try again in {throttle.RetryAfterSeconds} s").ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
        }

        await next(context).ConfigureAwait(false);
        if (context.Response.StatusCode == StatusCodes.Status401Unauthorized)
        {
            foreach (var key in Keys(context))
            {
                if (throttle._failing.Count >= MaxTracked)
                {
                    throttle._failing.Clear();
                }

                throttle._failing[key] = 0;
                using var spent = throttle._limiter.AttemptAcquire(key, 1);
            }
        }
    }

    /// <summary>Whether <paramref name="key"/> has no permit left; a key whose bucket has filled again is forgotten.</summary>
    private bool Blocked(string key)
    {
        if (!_failing.ContainsKey(key))
        {
            return false;
        }

        var available = _limiter.GetStatistics(key)?.CurrentAvailablePermits ?? _perMinute;
        if (available >= _perMinute)
        {
            _failing.TryRemove(key, out _);
        }

        return available <= 0;
    }

    public void Dispose() => _limiter.Dispose();
}
