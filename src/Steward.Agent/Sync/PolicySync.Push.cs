using Microsoft.Extensions.Logging;
using Steward.Agent.Sources;

namespace Steward.Agent.Sync;

/// <summary>
/// Following a Steward server's change channel (<see cref="PolicyChannel"/>): a change the server announces is answered
/// with the ordinary signed sync (<see cref="SyncAsync"/>), so what the gateway applies and why is exactly what the
/// interval's sync would have done, only sooner. The interval stays the fallback (<see cref="RunAsync"/>).
/// </summary>
public sealed partial class PolicySync
{
    /// <summary>The first wait before opening a lost channel again; it doubles (with jitter) up to <see cref="LongestReconnect"/>.</summary>
    public static TimeSpan FirstReconnect { get; } = TimeSpan.FromSeconds(1);

    public static TimeSpan LongestReconnect { get; } = TimeSpan.FromSeconds(60);

    /// <summary>How long to wait before asking again a server that refused the token or has no change channel.</summary>
    public static TimeSpan AfterRefusal { get; } = TimeSpan.FromMinutes(10);

    /// <summary>Raised with each event received on the change channel, before it is acted on (for tests and diagnostics).</summary>
    public event EventHandler<ChannelEvent>? ChannelEventReceived;

    /// <summary>
    /// Until cancelled, holds the change channel of the Steward server this machine logged in to, and syncs when an event
    /// names a bundle other than the one held (at once on every (re)connect: a change missed while the channel was down is
    /// caught up then) or says to fetch again. Reconnects after a drop with jittered exponential backoff. Returns at once for
    /// the other kinds of source. Never throws for a bad server or network.
    /// </summary>
    public async Task FollowChangesAsync(PolicyChannel channel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (sourceLoad.Source is not { Kind: SourceKind.StewardServer } source)
            {
                return;
            }

            TimeSpan? wait = null;
            if (SourceStore.LoadToken(paths, environment) is not { } token)
            {
                wait = AfterRefusal;
            }
            else
            {
                ChannelRefusal? refusal = null;
                var opened = false;
                try
                {
                    await foreach (var received in channel.ListenAsync(source, token, r => refusal = r, cancellationToken).ConfigureAwait(false))
                    {
                        if (!opened)
                        {
                            opened = true;
                            if (failures > 0)
                            {
                                LogChannelOpenAgain(logger, source.Describe());
                            }

                            failures = 0;
                        }

                        ChannelEventReceived?.Invoke(this, received);
                        if (NeedsSync(received))
                        {
                            LogChannelChange(logger, received.Name, received.Revision ?? "?");
                            await SyncAsync(cancellationToken).ConfigureAwait(false);
                        }
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (ObjectDisposedException)
                {
                    // The channel was disposed: its owner (the gateway's feed) is stopping.
                    return;
                }
                catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException)
                {
                    LogChannelLost(logger, source.Describe(), NetErrors.Message(e));
                }

                if (refusal is { } refused)
                {
                    LogChannelRefused(logger, refused.Message);
                    if (refused.TokenRefused && tokenRefused is null)
                    {
                        // The sync records the refusal (MCP disabled, with the reason) the way the interval's sync would.
                        await SyncAsync(cancellationToken).ConfigureAwait(false);
                    }

                    if (refused.TokenRefused || refused.NotOffered)
                    {
                        wait = AfterRefusal;
                    }
                    else if (refused.RetryAfter is { } after)
                    {
                        wait = after > AfterRefusal ? AfterRefusal : after;
                    }
                }
            }

            failures++;
            try
            {
                await Task.Delay(wait ?? Backoff(failures), time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The wait before the <paramref name="failures"/>th attempt: doubling from <see cref="FirstReconnect"/>, capped, times a random 0.5–1.5 so that gateways a restart dropped together do not come back together.</summary>
    internal static TimeSpan Backoff(int failures)
    {
        var doubled = FirstReconnect.TotalSeconds * Math.Pow(2, Math.Clamp(failures - 1, 0, 16));
        return TimeSpan.FromSeconds(Math.Min(doubled, LongestReconnect.TotalSeconds) * (0.5 + Random.Shared.NextDouble()));
    }

    private bool NeedsSync(ChannelEvent received) => received.Name switch
    {
        "policy" => received.ETag != held?.Cached.ETag || tokenRefused is not null || lastAttemptFailed,
        "refetch" => true,
        _ => false,
    };

    [LoggerMessage(EventId = 1120, Level = LogLevel.Information, Message = "The server announced a policy change ({Event}, revision {Revision}); syncing")]
    private static partial void LogChannelChange(ILogger logger, string @event, string revision);

    [LoggerMessage(EventId = 1121, Level = LogLevel.Information, Message = "The change channel of {Source} is open again")]
    private static partial void LogChannelOpenAgain(ILogger logger, string source);

    [LoggerMessage(EventId = 1122, Level = LogLevel.Information, Message = "The change channel of {Source} was lost ({Error}); reconnecting with backoff, the sync interval stays in force")]
    private static partial void LogChannelLost(ILogger logger, string source, string error);

    [LoggerMessage(EventId = 1123, Level = LogLevel.Information, Message = "The change channel could not be opened: {Error}; the sync interval stays in force")]
    private static partial void LogChannelRefused(ILogger logger, string error);
}
