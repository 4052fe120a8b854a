using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Steward.Agent.Files;
using Steward.Agent.Policy;
using Steward.Agent.Sources;
using Steward.Agent.Sync;

namespace Steward.Agent.Gateway;

/// <summary>
/// Feeds policy states to a <see cref="Gateway"/> one at a time, latest first: a state that arrives while another is
/// being applied replaces any state still waiting (only the newest matters). Sources: the synced policy
/// (<see cref="FollowSync"/>) or a local policy file (<see cref="FollowFile"/>).
/// </summary>
public sealed partial class PolicyFeed : IAsyncDisposable
{
    private readonly Gateway gateway;
    private readonly ILogger logger;
    private readonly Channel<PolicyState> pending = Channel.CreateBounded<PolicyState>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropOldest,
        SingleReader = true,
    });
    private readonly CancellationTokenSource stop = new();
    private readonly List<IDisposable> owned = [];
    private readonly List<Task> background = [];
    private readonly Task worker;
    private readonly Lock gate = new();
    private PolicyState? lastOffered;
    private long applied;

    private PolicyFeed(Gateway gateway, ILogger logger)
    {
        this.gateway = gateway;
        this.logger = logger;
        worker = Task.Run(WorkAsync);
    }

    /// <summary>How many states have been applied (for tests and diagnostics).</summary>
    public long Applied => Interlocked.Read(ref applied);

    /// <summary>Raised after each state is applied (or failed to apply), on the feed's worker.</summary>
    public event EventHandler<PolicyState>? StateApplied;

    /// <summary>
    /// The synced policy: the verified cache in force now first, then every <see cref="PolicySync.StateChanged"/>,
    /// with <see cref="PolicySync.RunAsync"/> syncing at start and on the profile's interval, and, for a Steward server,
    /// whenever its change channel announces a change (<see cref="PolicySync.FollowChangesAsync"/>). A <c>steward sync</c> run in
    /// another process rewrites the cache; the feed sees the file change, loads the verified cache again (read only) and
    /// applies it when its revision or state differs from what is in force.
    /// </summary>
    /// <param name="localRulesPath">
    /// A local policy file whose <c>toolRules</c> apply on top of the profile's (<see cref="WithLocalRules"/>); re-read
    /// when it changes. Its registry and switches are not used: the server's signed policy decides what runs.
    /// </param>
    public static PolicyFeed FollowSync(Gateway gateway, PolicySync sync, StewardPaths paths, ILogger logger, string? localRulesPath = null)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        ArgumentNullException.ThrowIfNull(sync);
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(logger);
        var feed = new PolicyFeed(gateway, logger) { localRules = localRulesPath };
        feed.Offer(sync.Current);
        if (localRulesPath is not null &&
            FileWatch.Start(localRulesPath, feed.ReofferSynced) is { } rulesWatcher)
        {
            feed.owned.Add(rulesWatcher);
        }

        sync.StateChanged += (_, e) => feed.Offer(e.State);
        feed.background.Add(Task.Run(() => sync.RunAsync(feed.stop.Token)));
        // A Steward server's change channel: a change reaches this gateway in seconds, by the same sync and the same
        // StateChanged as the interval's; the interval stays the fallback while the channel cannot be held.
        var channel = new PolicyChannel();
        feed.owned.Add(channel);
        feed.background.Add(Task.Run(() => sync.FollowChangesAsync(channel, feed.stop.Token)));
        // The cache is only ever replaced by a rename (PolicyCache.Write), so its name is watched, not its writes.
        if (FileWatch.Start(paths.PolicyCache, () => feed.CacheChanged(sync, paths), writes: false) is { } watcher)
        {
            feed.owned.Add(watcher);
        }

        // A `steward sync` in another process that finds the token refused records it there (the cache is not rewritten).
        if (FileWatch.Start(paths.PolicyApplied, () => feed.CacheChanged(sync, paths), writes: false) is { } marks)
        {
            feed.owned.Add(marks);
        }

        return feed;
    }

    /// <summary>A local policy file: loaded now and again whenever it changes (write it by rename to change it atomically).</summary>
    public static PolicyFeed FollowFile(Gateway gateway, string path, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(logger);
        var feed = new PolicyFeed(gateway, logger);
        feed.Offer(PolicyFile.Load(path));
        if (FileWatch.Start(path, () => feed.Offer(PolicyFile.Load(path))) is { } watcher)
        {
            feed.owned.Add(watcher);
        }

        return feed;
    }

    /// <summary>Queues <paramref name="state"/>, replacing a state not yet applied.</summary>
    public void Offer(PolicyState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (gate)
        {
            lastOffered = state;
            var applying = localRules is { } path ? WithLocalRules(state, PolicyFile.Load(path)) : state;
            pending.Writer.TryWrite(applying);
        }
    }

    private string? localRules;

    private void ReofferSynced()
    {
        PolicyState? last;
        lock (gate)
        {
            last = lastOffered;
        }

        if (last is not null)
        {
            Offer(last);
        }
    }

    /// <summary>
    /// The synced policy with a local policy file's tool rules added after the profile's: both apply, and since deny
    /// wins whatever the order, the file can deny or ask for more but never allow what the profile denies. The profile
    /// decides everything else (registry, switches). A file that does not load keeps MCP off, as it does on its own.
    /// </summary>
    public static PolicyState WithLocalRules(PolicyState synced, PolicyState file)
    {
        ArgumentNullException.ThrowIfNull(synced);
        ArgumentNullException.ThrowIfNull(file);
        return (synced, file) switch
        {
            (PolicyState.Active active, PolicyState.Active local) => active with
            {
                Snapshot = active.Snapshot with { ToolRules = [.. active.Snapshot.ToolRules, .. local.Snapshot.ToolRules] },
            },
            (PolicyState.Active, PolicyState.Disabled broken) => broken,
            _ => synced,
        };
    }

    /// <summary>Raised when the cache was replaced by a bundle older than the one applied, and ignored (for tests and diagnostics).</summary>
    public event EventHandler? OlderCacheIgnored;

    private void CacheChanged(PolicySync sync, StewardPaths paths)
    {
        PolicyState fresh;
        try
        {
            // Construction only reads and verifies the cache (and the source file): no fetch, no write, so no loop with our own syncs.
            using var reader = new PolicySync(paths, sync.Time, logger: logger);
            if (reader.CacheOlderThanApplied)
            {
                // A restored older copy: the policy this gateway applied is newer, and stays.
                LogOlderCacheIgnored(logger);
                OlderCacheIgnored?.Invoke(this, EventArgs.Empty);
                return;
            }

            fresh = reader.Current;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            LogCacheUnreadable(logger, e.Message);
            return;
        }

        lock (gate)
        {
            if (lastOffered is not null && Same(lastOffered, fresh))
            {
                return;
            }
        }

        LogCacheChanged(logger);
        Offer(fresh);
    }

    private static bool Same(PolicyState a, PolicyState b) => (a, b) switch
    {
        (PolicyState.Active x, PolicyState.Active y) => x.Snapshot.Revision == y.Snapshot.Revision,
        (PolicyState.Disabled x, PolicyState.Disabled y) => x.Reason == y.Reason,
        _ => false,
    };

    private async Task WorkAsync()
    {
        try
        {
            await foreach (var state in pending.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                try
                {
                    await gateway.ApplyPolicyAsync(state, stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    LogApplyFailed(logger, e.Message);
                }

                Interlocked.Increment(ref applied);
                StateApplied?.Invoke(this, state);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var item in owned)
        {
            item.Dispose();
        }

        pending.Writer.TryComplete();
        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll([worker, .. background]).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        stop.Dispose();
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Error, Message = "Applying the policy failed: {Message}")]
    private static partial void LogApplyFailed(ILogger logger, string message);

    [LoggerMessage(EventId = 41, Level = LogLevel.Information, Message = "The policy cache was rewritten by another steward process; applying it")]
    private static partial void LogCacheChanged(ILogger logger);

    [LoggerMessage(EventId = 43, Level = LogLevel.Warning, Message = "The policy cache was replaced by a bundle older than the one this gateway applied; it is ignored and the policy in force stays")]
    private static partial void LogOlderCacheIgnored(ILogger logger);

    [LoggerMessage(EventId = 42, Level = LogLevel.Warning, Message = "The policy cache could not be read: {Message}")]
    private static partial void LogCacheUnreadable(ILogger logger, string message);
}
