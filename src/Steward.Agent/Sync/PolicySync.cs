using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Steward.Agent.Policy;
using Steward.Agent.Sources;
using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Agent.Sync;

public enum SyncOutcome
{
    /// <summary>A new registry was verified, cached and put in force.</summary>
    Updated,
    /// <summary>The source confirmed what is cached (304, or the same content).</summary>
    Unchanged,
    /// <summary>The source could not be reached: what was in force stays, until the maximum offline age.</summary>
    Unreachable,
    /// <summary>The source answered with something that failed verification; it was rejected whole and what was in force stays.</summary>
    Rejected,
    /// <summary>No source is set (<c>steward login</c> has not been run).</summary>
    NotConfigured,
}

/// <summary>What one sync did, what changed, and the state it left.</summary>
/// <param name="Message">One line for the developer: what happened and, on failure, why.</param>
/// <param name="Problems">When <see cref="SyncOutcome.Rejected"/> for an invalid registry: every problem, with its JSON path.</param>
public sealed record SyncResult(SyncOutcome Outcome, string Message, PolicyState State, RegistryChanges Changes, IReadOnlyList<Problem> Problems)
{
    public bool Succeeded => Outcome is SyncOutcome.Updated or SyncOutcome.Unchanged;

    /// <summary>Models added to or removed from the available list, and a new default (a Steward server only).</summary>
    public ModelChanges ModelChanges { get; init; } = ModelChanges.None;
}

public sealed class PolicyStateChangedEventArgs(PolicyState state, RegistryChanges changes) : EventArgs
{
    public PolicyState State { get; } = state;

    /// <summary>Servers added, removed or given a new latest version by the change (empty when only the state's kind changed).</summary>
    public RegistryChanges Changes { get; } = changes;
}

/// <summary>
/// Keeps this machine's policy: loads the verified cache at construction, syncs with the source on demand
/// (<see cref="SyncAsync"/>) or on the snapshot's interval (<see cref="RunAsync"/>), and answers what is in force now
/// (<see cref="Current"/>). A registry is verified whole (Core's validation, no error allowed) before it replaces
/// anything; a failure leaves the previous snapshot in force until its maximum offline age, after which MCP is disabled
/// (fail closed). A Steward server's policy is a signed bundle: verified against the pinned keys at every fetch and at
/// every load of the cache, following the server's key endorsements when it rotates its key (the new key is then
/// pinned); an expired bundle is not in force. Time comes from a <see cref="TimeProvider"/>.
/// </summary>
public sealed partial class PolicySync : IDisposable
{
    private readonly StewardPaths paths;
    private readonly TimeProvider time;
    private readonly PolicyFetcher fetcher;
    private readonly bool ownsFetcher;
    private readonly Func<string, string?> environment;
    private readonly ILogger logger;
    private readonly SemaphoreSlim gate = new(1, 1);
    private SourceLoad sourceLoad;

    private volatile Held? held;
    private string? whyNoSnapshot;
    private bool lastAttemptFailed;

    /// <summary>The verified snapshot and what the cache needs to be rewritten on a 304.</summary>
    private sealed record Held(PolicySnapshot Snapshot, CachedPolicy Cached);

    public PolicySync(StewardPaths paths, TimeProvider? time = null, PolicyFetcher? fetcher = null, Func<string, string?>? environment = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        this.paths = paths;
        this.time = time ?? TimeProvider.System;
        this.fetcher = fetcher ?? new PolicyFetcher();
        ownsFetcher = fetcher is null;
        this.environment = environment ?? Environment.GetEnvironmentVariable;
        this.logger = logger ?? NullLogger.Instance;
        sourceLoad = SourceStore.Load(paths);
        LoadCache();
    }

    /// <summary>Raised after a sync (or the passing of time seen by a sync) changes what is in force.</summary>
    public event EventHandler<PolicyStateChangedEventArgs>? StateChanged;

    public PolicySource? Source => sourceLoad.Source;

    /// <summary>The snapshot held, in force or not (null when there is none).</summary>
    public PolicySnapshot? Snapshot => held?.Snapshot;

    /// <summary>What is in force now: the verified snapshot (stale when the last sync failed or it is older than its interval), or MCP disabled with why.</summary>
    public PolicyState Current => StateAt(time.GetUtcNow());

    public void Dispose()
    {
        gate.Dispose();
        if (ownsFetcher)
        {
            fetcher.Dispose();
        }
    }

    /// <summary>Fetches from the source, verifies, caches and swaps in the new snapshot; never throws for a bad source or document.</summary>
    public async Task<SyncResult> SyncAsync(CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        SyncResult result;
        PolicyState before;
        try
        {
            before = Current;
            result = await SyncLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }

        if (!SameState(before, result.State))
        {
            StateChanged?.Invoke(this, new PolicyStateChangedEventArgs(result.State, result.Changes));
        }

        return result;
    }

    /// <summary>Syncs now, then again at the snapshot's interval (sooner after a failure) until cancelled. For the gateway.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var result = await SyncAsync(cancellationToken).ConfigureAwait(false);
            var interval = held?.Snapshot.SyncInterval ?? TimeSpan.FromHours(24);
            var delay = result.Succeeded ? interval : TimeSpan.FromTicks(Math.Min(interval.Ticks, RetryAfterFailure.Ticks));
            try
            {
                await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>How soon <see cref="RunAsync"/> tries again after a failed sync.</summary>
    public static TimeSpan RetryAfterFailure { get; } = TimeSpan.FromMinutes(15);

    private async Task<SyncResult> SyncLockedAsync(CancellationToken cancellationToken)
    {
        if (sourceLoad.Source is not { } source)
        {
            return Result(SyncOutcome.NotConfigured, sourceLoad.Error ?? "no policy source is set; run `steward login --registry <url-or-path>` or `steward login <steward-server-url>`");
        }

        var previous = held;
        if (source.Kind == SourceKind.StewardServer)
        {
            return await SyncSignedAsync(source, previous, cancellationToken).ConfigureAwait(false);
        }

        var outcome = await fetcher.FetchAsync(source, null, previous?.Cached.ETag, cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        switch (outcome)
        {
            case FetchOutcome.NotModified notModified when previous is not null:
                Confirm(previous, notModified.ETag, now);
                lastAttemptFailed = false;
                LogUnchanged(logger, previous.Snapshot.Revision);
                return Result(SyncOutcome.Unchanged, $"policy unchanged ({source.Describe()} answered 304 Not Modified)");

            case FetchOutcome.NotModified:
                return Failure(SyncOutcome.Rejected, $"{source.Describe()} answered 304 Not Modified, but nothing is cached", source);

            case FetchOutcome.Failed failed:
                return Failure(failed.Kind == FetchFailureKind.Unreachable ? SyncOutcome.Unreachable : SyncOutcome.Rejected, failed.Message, source);

            case FetchOutcome.Fetched fetched:
                var document = PolicyCache.Trimmed(fetched.Document);
                var loaded = RegistryLoader.Load(document, fetched.Shape);
                if (!loaded.IsValid)
                {
                    var problems = loaded.Problems.Where(p => p.IsError).ToList();
                    var why = loaded.Failure is { } failure
                        ? failure.ToString()
                        : $"{problems.Count} error{(problems.Count == 1 ? "" : "s")}, first: {problems[0]}";
                    return Failure(SyncOutcome.Rejected, $"the registry from {source.Describe()} was rejected whole: {why}", source, problems);
                }

                var revision = PolicyCache.RevisionOf(document);
                if (previous is not null && previous.Cached.Revision == revision)
                {
                    Confirm(previous, fetched.ETag, now);
                    lastAttemptFailed = false;
                    return Result(SyncOutcome.Unchanged, "policy unchanged (same content)");
                }

                var cached = new CachedPolicy(source.Kind, source.Location, revision, fetched.ETag, now, loaded.Document!.Shape, document);
                var snapshot = SnapshotOf(source, cached, loaded.Document.Entries);
                var changes = RegistryChanges.Between(previous?.Snapshot.Registry, snapshot.Registry);
                var warning = TryWriteCache(cached);
                held = new Held(snapshot, cached);
                whyNoSnapshot = null;
                lastAttemptFailed = false;
                LogUpdated(logger, revision, changes.Added.Count, changes.Removed.Count, changes.Upgraded.Count);
                return Result(SyncOutcome.Updated, $"policy updated from {source.Describe()}{warning}", changes);
        }

        throw new InvalidOperationException("unexpected fetch outcome");
    }

    /// <summary>A Steward server: the signed bundle, verified against the pinned keys (re-pinned through an endorsement when the server rotated its key).</summary>
    private async Task<SyncResult> SyncSignedAsync(PolicySource source, Held? previous, CancellationToken cancellationToken)
    {
        var token = SourceStore.LoadToken(paths, environment);
        if (token is null)
        {
            return Failure(SyncOutcome.Rejected, $"no token for {source.Describe()}: run `steward login {source.Location}` with STEWARD_TOKEN set (or --token)", source);
        }

        // A held bundle that expired is not sent as If-None-Match: the server's answer must be a fresh bundle.
        var etag = previous is { Snapshot.ExpiresAt: { } expires } && expires > time.GetUtcNow() ? previous.Cached.ETag : null;
        var outcome = await fetcher.FetchStewardServerAsync(source, token, etag, cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        switch (outcome)
        {
            case FetchOutcome.NotModified notModified when previous is not null && etag is not null:
                Confirm(previous, notModified.ETag, now);
                lastAttemptFailed = false;
                LogUnchanged(logger, previous.Snapshot.Revision);
                return Result(SyncOutcome.Unchanged, $"policy unchanged at revision {previous.Snapshot.Revision} ({source.Describe()} answered 304 Not Modified){Bind(source, previous.Snapshot.Subject)}");

            case FetchOutcome.NotModified:
                return Failure(SyncOutcome.Rejected, $"{source.Describe()} answered 304 Not Modified, but no bundle in force was named", source);

            case FetchOutcome.Failed failed:
                return Failure(failed.Kind == FetchFailureKind.Unreachable ? SyncOutcome.Unreachable : SyncOutcome.Rejected, failed.Message, source);
        }

        var fetched = (FetchOutcome.Fetched)outcome;
        var compact = Encoding.ASCII.GetString(PolicyCache.Trimmed(fetched.Document));
        var (check, repinned, unreachable) = await SignedPolicy.OpenFollowingRotationAsync(compact, source, fetcher, now, cancellationToken).ConfigureAwait(false);
        if (check.Bundle is not { } bundle)
        {
            return Failure(unreachable ? SyncOutcome.Unreachable : SyncOutcome.Rejected,
                $"the policy bundle from {source.Describe()} was rejected: {check.Error}", source, check.Problems);
        }

        var note = "";
        if (repinned is not null)
        {
            try
            {
                SourceStore.SavePins(paths, repinned, time);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Failure(SyncOutcome.Rejected, $"the server's new key {bundle.Verification.Kid} is endorsed by the pinned key, but {paths.SourceFile} cannot be written to pin it: {e.Message}", source);
            }

            sourceLoad = new SourceLoad(repinned, null);
            source = repinned;
            LogRepinned(logger, bundle.Verification.Kid!);
            note = $"; the server rotated its signing key: the new key {bundle.Verification.Kid} is endorsed by the pinned key and is now pinned";
        }

        note += Bind(source, bundle.Content.Subject);
        source = sourceLoad.Source ?? source;

        var cached = new CachedPolicy(source.Kind, source.Location, bundle.Content.Revision, fetched.ETag, now, RegistryShape.RegistryApiPage, [], compact);
        var snapshot = SignedPolicy.Snapshot(source, bundle, now);
        var changes = RegistryChanges.Between(previous?.Snapshot.Registry, snapshot.Registry);
        var modelChanges = ModelChanges.Between(previous?.Snapshot.Models, snapshot.Models);
        var warning = TryWriteCache(cached);
        held = new Held(snapshot, cached);
        whyNoSnapshot = null;
        lastAttemptFailed = false;
        if (SignedPolicy.RegistryModeNote(bundle.Content) is { } modeNote)
        {
            note += "; " + modeNote;
        }

        if (previous is not null && previous.Snapshot.Revision == snapshot.Revision && !changes.Any && !modelChanges.Any)
        {
            LogUnchanged(logger, snapshot.Revision);
            return Result(SyncOutcome.Unchanged, $"policy unchanged at revision {snapshot.Revision}, renewed until {SignedPolicy.Time(snapshot.ExpiresAt!.Value)}{note}{warning}");
        }

        LogUpdated(logger, snapshot.Revision, changes.Added.Count, changes.Removed.Count, changes.Upgraded.Count);
        return Result(SyncOutcome.Updated, $"policy updated to revision {snapshot.Revision} from {source.Describe()}{note}{warning}", changes) with { ModelChanges = modelChanges };
    }

    /// <summary>
    /// A login saved before bundles were bound to their subject is bound by its first verified sync to the subject of the
    /// bundle in force; from then on a bundle for another organisation or account is refused. A note when the binding
    /// could not be saved (it is then tried again at the next sync).
    /// </summary>
    private string Bind(PolicySource source, string? subject)
    {
        if (source.Subject is not null || subject is null)
        {
            return "";
        }

        var bound = source with { Subject = subject };
        try
        {
            SourceStore.SavePins(paths, bound, time);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"; {paths.SourceFile} cannot be written to bind this login to {subject}: {e.Message}";
        }

        sourceLoad = new SourceLoad(bound, null);
        return "";
    }

    private SyncResult Result(SyncOutcome outcome, string message, RegistryChanges? changes = null, IReadOnlyList<Problem>? problems = null) =>
        new(outcome, message, Current, changes ?? RegistryChanges.None, problems ?? []);

    private SyncResult Failure(SyncOutcome outcome, string message, PolicySource source, IReadOnlyList<Problem>? problems = null)
    {
        lastAttemptFailed = true;
        if (held is null)
        {
            whyNoSnapshot = message;
        }

        LogFailed(logger, source.Describe(), message);
        var kept = held is not null ? "; the previous policy stays in force" : "";
        return Result(outcome, message + kept, null, problems);
    }

    private void Confirm(Held previous, string? etag, DateTimeOffset now)
    {
        var cached = previous.Cached with { ETag = etag ?? previous.Cached.ETag, ConfirmedAt = now };
        TryWriteCache(cached);
        held = new Held(previous.Snapshot with { FetchedAt = now }, cached);
    }

    private string TryWriteCache(CachedPolicy cached)
    {
        try
        {
            PolicyCache.Write(paths, cached);
            return "";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogCacheWriteFailed(logger, e.Message);
            return $" (in force for this run only: the cache could not be written: {e.Message})";
        }
    }

    private void LoadCache()
    {
        if (sourceLoad.Source is not { } source)
        {
            return;
        }

        var read = PolicyCache.Read(paths);
        if (read.Policy is not { } cached)
        {
            whyNoSnapshot = read.Rejected is { } rejected ? rejected : "nothing has been fetched from the source yet";
            if (read.Rejected is not null)
            {
                LogCacheRejected(logger, read.Rejected);
            }

            return;
        }

        if (cached.SourceKind != source.Kind || cached.SourceLocation != source.Location)
        {
            whyNoSnapshot = "the cached policy is from another source than the one set by `steward login`";
            return;
        }

        if (source.Kind == SourceKind.StewardServer)
        {
            LoadSignedCache(source, cached);
            return;
        }

        var document = RegistryReader.Read(cached.Document, cached.Shape);
        if (!document.IsReadable || document.Problems.HasErrors())
        {
            whyNoSnapshot = "the policy cache was rejected: its registry document cannot be read";
            return;
        }

        held = new Held(SnapshotOf(source, cached, document.Document!.Entries), cached);
    }

    /// <summary>The cached bundle is verified again, against the keys pinned now: a cache edited or re-signed by anyone else fails.</summary>
    private void LoadSignedCache(PolicySource source, CachedPolicy cached)
    {
        if (cached.Bundle is not { } compact)
        {
            whyNoSnapshot = "the policy cache was rejected: it holds no signed bundle from the Steward server";
            LogCacheRejected(logger, whyNoSnapshot);
            return;
        }

        var check = SignedPolicy.Open(compact, source, time.GetUtcNow(), allowExpired: true);
        if (check.Bundle is not { } bundle || bundle.Content.Revision != cached.Revision)
        {
            whyNoSnapshot = $"the policy cache was rejected: its signed bundle does not verify with the pinned key ({check.Error ?? "its revision does not match"})";
            LogCacheRejected(logger, whyNoSnapshot);
            return;
        }

        held = new Held(SignedPolicy.Snapshot(source, bundle, cached.ConfirmedAt), cached);
    }

    private static PolicySnapshot SnapshotOf(PolicySource source, CachedPolicy cached, IReadOnlyList<RegistryEntry> entries) => new()
    {
        Source = source.Location,
        Revision = cached.Revision,
        FetchedAt = cached.ConfirmedAt,
        Registry = entries,
        MaxOfflineAge = source.MaxOfflineAge,
    };

    private PolicyState StateAt(DateTimeOffset now)
    {
        if (sourceLoad.Source is not { } source)
        {
            return new PolicyState.Disabled(
                "no verified policy: " + (sourceLoad.Error ?? "no policy source is set"),
                "run `steward login --registry <url-or-path>` or `steward login <steward-server-url>`");
        }

        var whatToDo = $"run `steward sync` when {source.Describe()} is reachable, or `steward login …` to use another source";
        if (held is not { } current)
        {
            return new PolicyState.Disabled("no verified policy: " + (whyNoSnapshot ?? "nothing has been fetched from the source yet"), whatToDo);
        }

        var snapshot = current.Snapshot;
        if (snapshot.ExpiresAt is { } expiresAt && expiresAt <= now)
        {
            return new PolicyState.Disabled(
                $"no verified policy: the policy bundle of {source.Describe()} (revision {snapshot.Revision}) expired at {SignedPolicy.Time(expiresAt)}",
                whatToDo);
        }

        var age = now - snapshot.FetchedAt;
        if (snapshot.MaxOfflineAge is { } maxOfflineAge && age > maxOfflineAge)
        {
            return new PolicyState.Disabled(
                $"no verified policy: {source.Describe()} last confirmed the policy at {snapshot.FetchedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC, more than the maximum offline age ({Durations.Format(maxOfflineAge)}) ago",
                whatToDo);
        }

        if (!snapshot.McpEnabled)
        {
            return new PolicyState.Disabled(
                $"MCP is disabled by the profile{(snapshot.Subject is { } subject ? " of " + subject : "")} on {source.Describe()} (revision {snapshot.Revision})",
                "ask your Steward administrator to turn MCP on in your profile, then run `steward sync`");
        }

        return new PolicyState.Active(snapshot, Stale: lastAttemptFailed || age > snapshot.SyncInterval);
    }

    private static bool SameState(PolicyState a, PolicyState b) => (a, b) switch
    {
        (PolicyState.Active x, PolicyState.Active y) => x.Snapshot.Revision == y.Snapshot.Revision && x.Stale == y.Stale,
        (PolicyState.Disabled x, PolicyState.Disabled y) => x.Reason == y.Reason,
        _ => false,
    };

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Policy updated to revision {Revision}: {Added} added, {Removed} removed, {Upgraded} upgraded")]
    private static partial void LogUpdated(ILogger logger, string revision, int added, int removed, int upgraded);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Debug, Message = "Policy unchanged at revision {Revision}")]
    private static partial void LogUnchanged(ILogger logger, string revision);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Policy sync with {Source} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string source, string reason);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "{Reason}; treated as no cache")]
    private static partial void LogCacheRejected(ILogger logger, string reason);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "The policy cache could not be written: {Reason}")]
    private static partial void LogCacheWriteFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "The Steward server's new signing key {Kid} is endorsed by a pinned key; it is now pinned")]
    private static partial void LogRepinned(ILogger logger, string kid);
}
