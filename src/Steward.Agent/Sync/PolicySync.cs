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
    private volatile string? tokenRefused;
    private readonly Lock announceGate = new();
    private PolicyState announced;
    private ITimer? deadlineTimer;

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
        announced = Current;
    }

    /// <summary>Raised after a sync (or the passing of time seen by a sync) changes what is in force.</summary>
    public event EventHandler<PolicyStateChangedEventArgs>? StateChanged;

    public PolicySource? Source => sourceLoad.Source;

    /// <summary>The snapshot held, in force or not (null when there is none).</summary>
    public PolicySnapshot? Snapshot => held?.Snapshot;

    /// <summary>What is in force now: the verified snapshot (stale when the last sync failed or it is older than its interval), or MCP disabled with why.</summary>
    public PolicyState Current => StateAt(time.GetUtcNow());

    /// <summary>The clock this instance reads (another reader of the same files should read the same one).</summary>
    public TimeProvider Time => time;

    /// <summary>
    /// The cache holds a bundle older than one this machine already applied (a restored copy): it was refused at load, and
    /// a process that holds a newer policy should keep it.
    /// </summary>
    public bool CacheOlderThanApplied { get; private set; }

    public void Dispose()
    {
        lock (announceGate)
        {
            deadlineTimer?.Dispose();
            deadlineTimer = null;
        }

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
        try
        {
            result = await SyncLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }

        // Against what was last announced, not what held before this sync: a bundle that expired since (with no sync to
        // see it) is a change too.
        Announce(result.State, result.Changes);
        ArmDeadline();
        return result;
    }

    /// <summary>
    /// Until disposed, raises <see cref="StateChanged"/> when the passing of time alone ends what is in force — the
    /// bundle's <c>exp</c>, or the maximum offline age since the server last confirmed it — on a timer of the
    /// <see cref="TimeProvider"/>, without waiting for the next sync. <see cref="RunAsync"/> watches while it runs.
    /// </summary>
    public IDisposable WatchDeadlines()
    {
        var timer = time.CreateTimer(_ => DeadlinePassed(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        lock (announceGate)
        {
            deadlineTimer?.Dispose();
            deadlineTimer = timer;
        }

        ArmDeadline();
        return new DeadlineWatch(this, timer);
    }

    private sealed class DeadlineWatch(PolicySync owner, ITimer timer) : IDisposable
    {
        public void Dispose()
        {
            lock (owner.announceGate)
            {
                if (ReferenceEquals(owner.deadlineTimer, timer))
                {
                    owner.deadlineTimer = null;
                }
            }

            timer.Dispose();
        }
    }

    /// <summary>The longest a deadline timer is set for at once (timers take at most about 49 days); it is set again when it fires.</summary>
    private static readonly TimeSpan LongestTimer = TimeSpan.FromDays(30);

    private void DeadlinePassed()
    {
        var state = Current;
        if (state is PolicyState.Disabled disabled)
        {
            LogDeadlinePassed(logger, disabled.Reason);
        }

        Announce(state, RegistryChanges.None);
        ArmDeadline();
    }

    private void ArmDeadline()
    {
        var now = time.GetUtcNow();
        DateTimeOffset? next = null;
        if (tokenRefused is null && held?.Snapshot is { } snapshot)
        {
            foreach (var deadline in new[] { snapshot.ExpiresAt, snapshot.FetchedAt + snapshot.MaxOfflineAge + TimeSpan.FromTicks(1) })
            {
                if (deadline is { } at && at > now && (next is null || at < next))
                {
                    next = at;
                }
            }
        }

        lock (announceGate)
        {
            if (deadlineTimer is not { } timer)
            {
                return;
            }

            var due = next is { } when ? when - now : Timeout.InfiniteTimeSpan;
            timer.Change(due > LongestTimer ? LongestTimer : due, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Raises <see cref="StateChanged"/> when <paramref name="state"/> differs from the state last announced.</summary>
    private void Announce(PolicyState state, RegistryChanges changes)
    {
        lock (announceGate)
        {
            if (SameState(announced, state))
            {
                return;
            }

            announced = state;
        }

        StateChanged?.Invoke(this, new PolicyStateChangedEventArgs(state, changes));
    }

    /// <summary>Syncs now, then again at the snapshot's interval (sooner after a failure) until cancelled, watching the deadlines meanwhile. For the gateway.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var watch = WatchDeadlines();
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
                ClearTokenRefusal(source);
                LogUnchanged(logger, previous.Snapshot.Revision);
                return Result(SyncOutcome.Unchanged, $"policy unchanged at revision {previous.Snapshot.Revision} ({source.Describe()} answered 304 Not Modified){Bind(source, previous.Snapshot.Subject)}");

            case FetchOutcome.NotModified:
                return Failure(SyncOutcome.Rejected, $"{source.Describe()} answered 304 Not Modified, but no bundle in force was named", source);

            case FetchOutcome.Failed { TokenRefused: true } refused:
                return TokenRefusedBy(source, refused, now);

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

        // Revisions only move forward: a bundle older than one this machine already applied is refused, whatever its signature.
        var issuedAt = bundle.Verification.IssuedAt?.ToUnixTimeSeconds() ?? 0;
        AppliedMark? mark;
        try
        {
            mark = AppliedMark.Update(paths, current =>
                current is not null && current.AppliesTo(source.Location, source.Subject ?? bundle.Content.Subject) && current.IsNewerThan(bundle.Content.Revision, issuedAt)
                    ? null
                    : new AppliedMark(source.Location, bundle.Content.Subject, bundle.Content.Revision, issuedAt));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Failure(SyncOutcome.Rejected, $"the policy bundle from {source.Describe()} was not applied: {paths.PolicyApplied} cannot be written ({e.Message})", source);
        }

        if (mark is null || mark.Revision != bundle.Content.Revision || mark.IssuedAt != issuedAt)
        {
            var applied = mark?.Describe() ?? "unknown";
            return Failure(SyncOutcome.Rejected,
                $"the policy bundle from {source.Describe()} was refused: the bundle is older than the one this machine already applied ({applied}; this one is revision {bundle.Content.Revision} issued at {SignedPolicy.Time(DateTimeOffset.FromUnixTimeSeconds(issuedAt))}); nothing changed", source);
        }

        tokenRefused = null;
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
        var kept = held is not null && tokenRefused is null ? "; the previous policy stays in force" : "";
        return Result(outcome, message + kept, null, problems);
    }

    /// <summary>
    /// The server answered 401 or 403 to the token: it was revoked, expired or is no longer allowed. The policy held is no
    /// longer in force (MCP disabled with the reason), in this process and, through the mark on disk, in every other.
    /// </summary>
    private SyncResult TokenRefusedBy(PolicySource source, FetchOutcome.Failed refused, DateTimeOffset now)
    {
        var reason = $"{source.Describe()} refused this machine's token ({(refused.Status == 401 ? "401: it is unknown, expired or revoked" : "403: it may not read the policy")})";
        tokenRefused = reason;
        LogTokenRefused(logger, source.Describe(), refused.Status ?? 0);
        var warning = "";
        try
        {
            AppliedMark.Update(paths, current => current is not null && current.AppliesTo(source.Location, source.Subject)
                ? current with { TokenRefused = reason, RefusedAt = now }
                : new AppliedMark(source.Location, source.Subject, null, null, reason, now));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warning = $" (other steward processes are not told: {paths.PolicyApplied} cannot be written: {e.Message})";
        }

        return Failure(SyncOutcome.Rejected, $"{refused.Message}; MCP is disabled until a sync succeeds with a valid token{warning}", source);
    }

    private void ClearTokenRefusal(PolicySource source)
    {
        if (tokenRefused is null)
        {
            return;
        }

        tokenRefused = null;
        try
        {
            AppliedMark.Update(paths, current => current is { TokenRefused: not null } && current.AppliesTo(source.Location, source.Subject)
                ? current with { TokenRefused = null, RefusedAt = null }
                : null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogCacheWriteFailed(logger, e.Message);
        }
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

        var mark = AppliedMark.Read(paths, out var unreadable);
        if (unreadable is not null)
        {
            LogCacheRejected(logger, unreadable + "; the applied revision is not checked");
        }

        if (mark is not null && mark.AppliesTo(source.Location, source.Subject ?? bundle.Content.Subject))
        {
            tokenRefused = mark.TokenRefused;
            var issuedAt = bundle.Verification.IssuedAt?.ToUnixTimeSeconds() ?? 0;
            if (mark.IsNewerThan(bundle.Content.Revision, issuedAt))
            {
                CacheOlderThanApplied = true;
                whyNoSnapshot = $"the policy cache was refused: the bundle is older than the one this machine already applied ({mark.Describe()}; the cache holds revision " +
                                $"{bundle.Content.Revision} issued at {SignedPolicy.Time(DateTimeOffset.FromUnixTimeSeconds(issuedAt))}); nothing changed";
                LogCacheRejected(logger, whyNoSnapshot);
                return;
            }
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
        SyncInterval = source.SyncInterval,
    };

    private PolicyState StateAt(DateTimeOffset now)
    {
        if (sourceLoad.Source is not { } source)
        {
            return new PolicyState.Disabled(
                "no verified policy: " + (sourceLoad.Error ?? "no policy source is set"),
                "run `steward login --registry <url-or-path>` or `steward login <steward-server-url>`");
        }

        if (tokenRefused is { } refused)
        {
            return new PolicyState.Disabled(
                $"no verified policy: {refused}",
                $"run `steward login {source.Location}` with a valid token (STEWARD_TOKEN or --token), or ask your Steward administrator why it was refused");
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
            return snapshot.EmergencyStop is not null
                ? new PolicyState.Disabled($"{snapshot.McpOffReason}, on {source.Describe()} (revision {snapshot.Revision})",
                    "it ends when your Steward administrator lifts the emergency stop; the gateway starts the servers again by itself")
                : new PolicyState.Disabled(
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

    [LoggerMessage(EventId = 1106, Level = LogLevel.Warning, Message = "{Source} refused this machine's token ({Status}); MCP is disabled")]
    private static partial void LogTokenRefused(ILogger logger, string source, int status);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "The policy in force ended without a sync: {Reason}")]
    private static partial void LogDeadlinePassed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "The Steward server's new signing key {Kid} is endorsed by a pinned key; it is now pinned")]
    private static partial void LogRepinned(ILogger logger, string kid);
}
