using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Server.Registry;

/// <summary>What the server knows of a profile's external registry: the last good copy (its URL, ETag, when) and the last attempt.</summary>
internal sealed record ExternalState(
    string ProfileId,
    string OrganisationId,
    string Url,
    string? GoodUrl,
    string? ETag,
    string? Shape,
    string? ContentHash,
    long Entries,
    string? FetchedAt,
    string? ConfirmedAt,
    string? AttemptedAt,
    string? Outcome,
    string? Failure,
    string? ProblemsJson)
{
    public const string Columns = "profile_id, organisation_id, url, good_url, etag, shape, content_hash, entries, fetched_at, confirmed_at, attempted_at, outcome, failure, problems_json";

    public static ExternalState Read(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.NullableString(3), r.NullableString(4), r.NullableString(5), r.NullableString(6), r.Int64(7),
        r.NullableString(8), r.NullableString(9), r.NullableString(10), r.NullableString(11), r.NullableString(12), r.NullableString(13));
}

/// <summary>How one fetch of an external registry ended.</summary>
internal static class ExternalOutcomes
{
    /// <summary>Fetched and valid: the copy served now (changed or not).</summary>
    public const string Ok = "ok";
    /// <summary>Answered 304 to the ETag of the copy served: still current.</summary>
    public const string NotModified = "not-modified";
    /// <summary>No answer (connection, TLS, address policy, timeout) or not a 200.</summary>
    public const string Unreachable = "unreachable";
    /// <summary>Answered a document that is not a valid registry (problems by JSON path).</summary>
    public const string Invalid = "invalid";
    /// <summary>The URL itself is refused (not https, credentials, a link-local address).</summary>
    public const string Refused = "refused";

    public static bool Succeeded(string? outcome) => outcome is Ok or NotModified;
}

/// <summary>What a refresh did: the state after it, whether the copy served changed, and the problems of an invalid document.</summary>
internal sealed record ExternalRefresh(ExternalState State, bool Changed, IReadOnlyList<Problem> Problems);

/// <summary>
/// A profile's external registry (<c>registryMode: "external"</c>): the server fetches the profile's registry URL (an
/// official server.json, array or Registry API page — following <c>nextCursor</c> — or a Kiro file, detected by Core)
/// through the outbound address policy, validates every entry with Core, and keeps the last good copy as rows of
/// <c>external_registry_entries</c>, which the Registry API, the signed bundle and the exports read exactly as they read the
/// hosted registry (<see cref="RegistrySource"/>). A document with any error is refused whole: the last good copy stays
/// in force, and the attempt is recorded (outcome, message, problems by JSON path) and audited. A changed copy raises the
/// profile's revision (so every ETag changes) in the transaction that writes it. Kiro names are flat: as in an import,
/// they become <c>local.{org}/{name}</c>; a secret value published upstream is removed with a warning.
/// </summary>
internal static partial class ExternalRegistries
{
    /// <summary>The most problems kept (and shown) for one refused document.</summary>
    public const int MaxProblemsKept = 200;

    /// <summary>The actor of a scheduled refresh in the audit.</summary>
    public const string ScheduledActor = "steward:external-registry-sync";

    public static async Task<ExternalState?> FindAsync(DbConnection connection, DbTransaction? transaction, string profileId, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync($"SELECT {ExternalState.Columns} FROM external_registries WHERE profile_id = @id", transaction, ExternalState.Read, cancellationToken,
            ("id", profileId)).ConfigureAwait(false);
        return rows.Count == 1 ? rows[0] : null;
    }

    /// <summary>
    /// Drops the copy and state of a profile whose registry URL changed or that is no longer external (in the
    /// transaction of that change): a copy of another URL is never served.
    /// </summary>
    public static async Task ForgetAsync(DbConnection connection, DbTransaction transaction, string profileId, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync("DELETE FROM external_registry_entries WHERE profile_id = @id", transaction, cancellationToken, ("id", profileId)).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM external_registries WHERE profile_id = @id", transaction, cancellationToken, ("id", profileId)).ConfigureAwait(false);
    }

    /// <summary>
    /// Fetches, validates and (when valid and changed) stores the external registry of <paramref name="profile"/>.
    /// <paramref name="onDemand"/>: asked by an admin (always audited); a scheduled attempt is audited when its outcome
    /// differs from the previous one. Never throws for a bad URL, an unreachable host or a bad document.
    /// </summary>
    public static async Task<ExternalRefresh> RefreshAsync(Database database, ServerOutbound outbound, ServeOptions options, TimeProvider time, LocalChanges changes, ILogger logger,
        Organisation organisation, StoredProfile profile, string actor, bool onDemand, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentNullException.ThrowIfNull(profile);
        var url = profile.Settings.RegistryUrl ?? throw new InvalidOperationException("the profile has no registry URL");
        ExternalState? previous;
        await using (var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false))
        {
            previous = await FindAsync(connection, null, profile.Id, cancellationToken).ConfigureAwait(false);
        }

        var sameUrl = previous is { GoodUrl: { } good } && good == url;
        var fetched = await FetchAsync(outbound, options, database, organisation, url, sameUrl ? previous!.ETag : null, logger, cancellationToken).ConfigureAwait(false);
        var now = Timestamps.Now(time);
        await using var writer = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(writer, organisation.Id, cancellationToken).ConfigureAwait(false);

        // The profile as it is now: an admin may have changed its URL or mode while this fetch ran.
        var current = await Profiles.FindAsync(writer, transaction, organisation.Id, profile.AccountId, cancellationToken).ConfigureAwait(false);
        if (current is null || current.Id != profile.Id || current.Settings.RegistryMode != RegistryModes.External || current.Settings.RegistryUrl != url)
        {
            await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return new ExternalRefresh(previous ?? Empty(profile, url), false, []);
        }

        previous = await FindAsync(writer, transaction, profile.Id, cancellationToken).ConfigureAwait(false);
        var subject = profile.AccountId is null ? "profile:organisation"
            : "profile:account/" + await writer.ScalarAsync("SELECT slug FROM accounts WHERE id = @id", transaction, cancellationToken, ("id", profile.AccountId)).ConfigureAwait(false);
        var state = previous ?? Empty(profile, url);
        var changed = false;
        if (fetched.Candidates is { } candidates)
        {
            var hash = ContentHash(candidates);
            if (state.GoodUrl == url && state.ContentHash == hash)
            {
                state = state with { ETag = fetched.ETag, ConfirmedAt = Timestamps.ToText(now), AttemptedAt = Timestamps.ToText(now), Outcome = ExternalOutcomes.Ok, Failure = null, ProblemsJson = null };
            }
            else
            {
                await ReplaceEntriesAsync(writer, transaction, profile.Id, candidates, now, cancellationToken).ConfigureAwait(false);
                var revision = current.Revision + 1;
                await writer.ExecuteAsync("UPDATE profiles SET revision = @revision, updated_at = @at WHERE id = @id", transaction, cancellationToken,
                    ("revision", revision), ("at", Timestamps.ToText(now)), ("id", profile.Id)).ConfigureAwait(false);
                state = state with
                {
                    Url = url, GoodUrl = url, ETag = fetched.ETag, Shape = fetched.Shape, ContentHash = hash, Entries = candidates.Count,
                    FetchedAt = Timestamps.ToText(now), ConfirmedAt = Timestamps.ToText(now), AttemptedAt = Timestamps.ToText(now),
                    Outcome = ExternalOutcomes.Ok, Failure = null, ProblemsJson = null,
                };
                await AuditLog.WriteAsync(writer, transaction, organisation.Id, now, actor, "profile.registry.sync", subject,
                    previous?.FetchedAt is null ? null : Summary(previous), Summary(state, fetched.Warnings), revision, cancellationToken).ConfigureAwait(false);
                changed = true;
            }
        }
        else if (fetched.NotModified)
        {
            state = state with { ConfirmedAt = Timestamps.ToText(now), AttemptedAt = Timestamps.ToText(now), Outcome = ExternalOutcomes.NotModified, Failure = null, ProblemsJson = null };
        }
        else
        {
            var problems = fetched.Problems.Take(MaxProblemsKept).ToList();
            var problemsJson = problems.Count == 0 ? null : Encoding.UTF8.GetString(ResponseJson.Write(w =>
            {
                w.WriteStartObject();
                RegistryImport.WriteProblems(w, "problems", problems);
                w.WriteEndObject();
            }));
            var repeated = previous is not null && previous.Outcome == fetched.Outcome && previous.Failure == fetched.Failure && previous.ProblemsJson == problemsJson;
            state = state with { AttemptedAt = Timestamps.ToText(now), Outcome = fetched.Outcome, Failure = fetched.Failure, ProblemsJson = problemsJson };
            if (onDemand || !repeated)
            {
                await AuditLog.WriteAsync(writer, transaction, organisation.Id, now, actor, "profile.registry.sync.failed", subject, null, Summary(state), null, cancellationToken).ConfigureAwait(false);
            }

            SyncFailed(logger, organisation.Slug, url, fetched.Outcome!, fetched.Failure!);
        }

        await writer.ExecuteAsync(
            $"INSERT INTO external_registries ({ExternalState.Columns}) VALUES (@profile, @org, @url, @good, @etag, @shape, @hash, @entries, @fetched, @confirmed, @attempted, @outcome, @failure, @problems) " +
            "ON CONFLICT (profile_id) DO UPDATE SET url = excluded.url, good_url = excluded.good_url, etag = excluded.etag, shape = excluded.shape, content_hash = excluded.content_hash, " +
            "entries = excluded.entries, fetched_at = excluded.fetched_at, confirmed_at = excluded.confirmed_at, attempted_at = excluded.attempted_at, outcome = excluded.outcome, " +
            "failure = excluded.failure, problems_json = excluded.problems_json",
            transaction, cancellationToken, ("profile", state.ProfileId), ("org", state.OrganisationId), ("url", url), ("good", state.GoodUrl), ("etag", state.ETag), ("shape", state.Shape),
            ("hash", state.ContentHash), ("entries", state.Entries), ("fetched", state.FetchedAt), ("confirmed", state.ConfirmedAt), ("attempted", state.AttemptedAt),
            ("outcome", state.Outcome), ("failure", state.Failure), ("problems", state.ProblemsJson)).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        if (changed)
        {
            // What this instance remembers (bundle resolutions, registry revisions) is stale at once.
            changes.Changed();
        }

        return new ExternalRefresh(state, changed, fetched.Problems);
    }

    private static ExternalState Empty(StoredProfile profile, string url) => new(profile.Id, profile.OrganisationId, url, null, null, null, null, 0, null, null, null, null, null, null);

    private sealed record Fetched(string? Outcome, string? Failure, IReadOnlyList<Problem> Problems, List<RegistryImport.Candidate>? Candidates, string? ETag, string? Shape,
        bool NotModified, int Warnings);

    private static async Task<Fetched> FetchAsync(ServerOutbound outbound, ServeOptions options, Database database, Organisation organisation, string urlText, string? etag, ILogger logger,
        CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(urlText, UriKind.Absolute, out var url))
        {
            return Failed(ExternalOutcomes.Refused, $"{urlText} is not an absolute URL");
        }

        bool loopbackOnly;
        try
        {
            loopbackOnly = ImportFetcher.CheckUrl(url, options);
        }
        catch (ImportRefusedException e)
        {
            return Failed(ExternalOutcomes.Refused, $"{urlText} is refused: {e.Message}");
        }

        var first = await Organisation.FirstAsync(database, cancellationToken).ConfigureAwait(false);
        var collected = new RegistryImport.Collected();
        var @namespace = RegistryImport.DefaultNamespace(organisation);
        string? firstETag = null;
        try
        {
            using var client = ImportFetcher.CreateClient(outbound, options, serverAdministrator: first?.Id == organisation.Id, loopbackOnly);
            string? cursor = null;
            for (var page = 0; ; page++)
            {
                if (page >= RegistryImport.MaxPages)
                {
                    return Failed(ExternalOutcomes.Invalid, $"{urlText} has more than {RegistryImport.MaxPages} pages");
                }

                var pageUrl = cursor is null ? url : new Uri(url.AbsoluteUri + (url.Query.Length > 0 ? "&" : "?") + "cursor=" + Uri.EscapeDataString(cursor));
                var (bytes, pageETag) = await ImportFetcher.GetConditionalAsync(client, pageUrl, page == 0 ? etag : null, cancellationToken).ConfigureAwait(false);
                if (bytes is null)
                {
                    return new Fetched(ExternalOutcomes.NotModified, null, [], null, pageETag, null, true, 0);
                }

                if (page == 0)
                {
                    firstETag = pageETag;
                }

                var failure = RegistryImport.Collect(bytes, page == 0 ? "" : $"pages[{page}]", page == 0 ? null : RegistryShape.RegistryApiPage, @namespace, collected, stripSecrets: true, out var next);
                if (failure is not null)
                {
                    return new Fetched(ExternalOutcomes.Invalid, $"{pageUrl} is not a registry document: {failure}",
                        [Problem.Error(failure.Path ?? "", "document.unreadable", failure.ToString(), "serve a server.json, an array of them, a Registry API page or a Kiro registry file")],
                        null, null, null, false, 0);
                }

                if (string.IsNullOrEmpty(next))
                {
                    break;
                }

                if (next == cursor)
                {
                    return Failed(ExternalOutcomes.Invalid, $"page {page + 1} of {urlText} gave the same nextCursor as the page before");
                }

                cursor = next;
                // Pages after the first are not conditional: the copy is only kept whole.
                firstETag = null;
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException && !cancellationToken.IsCancellationRequested)
        {
            // The same message for a refused address, a failed connection and a failed handshake (no port scanning); the log has the reason.
            FetchFailed(logger, organisation.Slug, urlText, ServerOutbound.Describe(e));
            return Failed(ExternalOutcomes.Unreachable, $"could not fetch {urlText}: {ServerOutbound.ConnectionFailed}");
        }
        catch (ImportAnswerException e) when (!cancellationToken.IsCancellationRequested)
        {
            return Failed(ExternalOutcomes.Unreachable, $"cannot read {urlText}: {e.Message}");
        }

        var problems = collected.DocumentProblems.Concat(collected.Skipped.SelectMany(s => s.Problems)).Where(p => p.IsError).ToList();
        if (problems.Count > 0 || collected.Skipped.Count > 0)
        {
            var count = collected.Skipped.Count;
            return new Fetched(ExternalOutcomes.Invalid,
                $"{urlText} was refused whole: {problems.Count} error{(problems.Count == 1 ? "" : "s")} in {(count == 0 ? "the document" : $"{count} entr{(count == 1 ? "y" : "ies")}")}, first: {problems.FirstOrDefault()}; the last good copy stays in force",
                problems, null, null, null, false, 0);
        }

        var shape = collected.Shapes.Count == 0 ? null : collected.Shapes[0] switch
        {
            RegistryShape.ServerJson => "server.json",
            RegistryShape.ServerJsonArray => "array",
            RegistryShape.RegistryApiPage => "registry-api-page",
            _ => "kiro",
        };
        return new Fetched(ExternalOutcomes.Ok, null, [], collected.Candidates, firstETag, shape, false, collected.Warnings.Count);

        static Fetched Failed(string outcome, string message) => new(outcome, message, [], null, null, null, false, 0);
    }

    /// <summary>A hash of what the copy serves (each entry's canonical server.json and status), to tell a changed document from a reformatted one.</summary>
    private static string ContentHash(IEnumerable<RegistryImport.Candidate> candidates)
    {
        var text = new StringBuilder();
        foreach (var c in candidates.OrderBy(c => c.Server.Name, StringComparer.Ordinal).ThenBy(c => c.Server.Version, StringComparer.Ordinal))
        {
            text.Append(c.Json).Append('\n').Append(c.Official?.Status ?? ServerStatuses.Active).Append('\n').Append(c.Official?.StatusMessage).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static async Task ReplaceEntriesAsync(DbConnection connection, DbTransaction transaction, string profileId, List<RegistryImport.Candidate> candidates, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync("DELETE FROM external_registry_entries WHERE profile_id = @id", transaction, cancellationToken, ("id", profileId)).ConfigureAwait(false);
        var at = Timestamps.ToText(now);
        foreach (var group in candidates.GroupBy(c => c.Server.Name, StringComparer.Ordinal))
        {
            // The official rule (as Publishing.RecomputeLatestAsync): the highest version not deleted, else the highest.
            var versions = group.ToList();
            DateTimeOffset Published(RegistryImport.Candidate c) => c.Official?.PublishedAt is { } p ? Timestamps.Parse(Timestamps.ToText(p)) : now;
            var live = versions.Where(c => (c.Official?.Status ?? ServerStatuses.Active) != ServerStatuses.Deleted).ToList();
            var latest = ServerVersions.PickLatest(live.Count > 0 ? live : versions, c => c.Server.Version, Published)!;
            foreach (var candidate in versions)
            {
                var status = candidate.Official?.Status ?? ServerStatuses.Active;
                await connection.ExecuteAsync(
                    $"INSERT INTO external_registry_entries (profile_id, {StoredEntry.Columns}) VALUES (@id, @name, @version, @json, @status, @message, @changed, @published, @at, @latest)",
                    transaction, cancellationToken, ("id", profileId), ("name", candidate.Server.Name), ("version", candidate.Server.Version), ("json", candidate.Json),
                    ("status", status), ("message", status == ServerStatuses.Active ? null : candidate.Official?.StatusMessage),
                    ("changed", candidate.Official?.StatusChangedAt is { } changed ? Timestamps.ToText(changed) : at),
                    ("published", Timestamps.ToText(Published(candidate))), ("at", at), ("latest", ReferenceEquals(candidate, latest))).ConfigureAwait(false);
            }
        }
    }

    private static string Summary(ExternalState state, int warnings = 0) => Encoding.UTF8.GetString(ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("url", state.Url);
        w.WriteString("outcome", state.Outcome);
        if (ExternalOutcomes.Succeeded(state.Outcome))
        {
            w.WriteString("shape", state.Shape);
            w.WriteNumber("entries", state.Entries);
            w.WriteString("etag", state.ETag);
            w.WriteNumber("warnings", warnings);
        }
        else
        {
            w.WriteString("failure", state.Failure);
            w.WriteString("lastGoodAt", state.FetchedAt);
            if (state.ProblemsJson is { } problems)
            {
                using var document = JsonDocument.Parse(problems);
                w.WritePropertyName("problems");
                document.RootElement.GetProperty("problems").WriteTo(w);
            }
        }

        w.WriteEndObject();
    }));

    /// <summary>The admin's view of the state (API and console): the copy in force and the last attempt, with its problems by JSON path.</summary>
    public static void WriteView(Utf8JsonWriter w, ProfileSettings settings, ExternalState? state)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(settings);
        w.WriteStartObject();
        w.WriteString("registryMode", settings.RegistryMode);
        w.WriteString("registryUrl", settings.RegistryUrl);
        w.WriteNumber("syncIntervalSeconds", settings.SyncIntervalSeconds);
        w.WriteStartObject("inForce");
        if (state?.FetchedAt is not null)
        {
            w.WriteString("url", state.GoodUrl);
            w.WriteString("shape", state.Shape);
            w.WriteNumber("entries", state.Entries);
            w.WriteString("etag", state.ETag);
            w.WriteString("fetchedAt", state.FetchedAt);
            w.WriteString("confirmedAt", state.ConfirmedAt);
        }

        w.WriteBoolean("present", state?.FetchedAt is not null);
        w.WriteEndObject();
        w.WriteStartObject("lastAttempt");
        if (state?.AttemptedAt is not null)
        {
            w.WriteString("at", state.AttemptedAt);
            w.WriteString("outcome", state.Outcome);
            w.WriteBoolean("succeeded", ExternalOutcomes.Succeeded(state.Outcome));
            if (state.Failure is not null)
            {
                w.WriteString("failure", state.Failure);
            }

            w.WritePropertyName("problems");
            if (state.ProblemsJson is { } problems)
            {
                using var document = JsonDocument.Parse(problems);
                document.RootElement.GetProperty("problems").WriteTo(w);
            }
            else
            {
                w.WriteStartArray();
                w.WriteEndArray();
            }
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    [LoggerMessage(EventId = 1280, Level = LogLevel.Warning, Message = "The external registry of organisation {Organisation} at {Url} got no answer: {Reason}")]
    private static partial void FetchFailed(ILogger logger, string organisation, string url, string reason);

    [LoggerMessage(EventId = 1281, Level = LogLevel.Warning, Message = "The external registry of organisation {Organisation} at {Url} was not refreshed ({Outcome}): {Failure}; the last good copy stays in force")]
    private static partial void SyncFailed(ILogger logger, string organisation, string url, string outcome, string failure);
}
