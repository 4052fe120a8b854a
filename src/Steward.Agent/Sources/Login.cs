using System.Text;
using Steward.Agent.Sync;
using Steward.Core.Policy;
using Steward.Core.Registry;

namespace Steward.Agent.Sources;

/// <summary>What <c>steward login</c> was asked: a Steward server URL, or a registry URL or path (exactly one).</summary>
/// <param name="KeyThumbprint">For a Steward server: the thumbprint (<c>kid</c>) of the key to pin; login refuses when the server does not publish it.</param>
/// <param name="SyncInterval">For a registry source: how often a running gateway fetches it again (null: 24 hours).</param>
public sealed record LoginRequest(string? ServerUrl, string? Registry, string? Token, bool AllowHttp, TimeSpan MaxOfflineAge, string WorkingDirectory, string? KeyThumbprint = null,
    TimeSpan? SyncInterval = null);

/// <summary>What <c>steward login</c> did, or why it did nothing (the previous source and cache are then untouched).</summary>
/// <param name="ExpiresBeforeOfflineAge">When the signed bundle expires before the maximum offline age is reached: then, not the offline age, ends it offline.</param>
public sealed record LoginResult(
    string? Error,
    string? Kind = null,
    string? Source = null,
    int Servers = 0,
    int Warnings = 0,
    string? Revision = null,
    string? MaxOfflineAge = null,
    string? Note = null,
    string? KeyThumbprint = null,
    DateTimeOffset? ExpiresAt = null,
    int? Models = null,
    string? DefaultModel = null,
    DateTimeOffset? ExpiresBeforeOfflineAge = null)
{
    public bool Succeeded => Error is null;
}

/// <summary>
/// Sets where policy comes from. The source is fetched and its registry verified before anything is saved, so a wrong
/// URL or a malformed registry leaves the previous login in place; on success the source, the token (0600) and the
/// verified policy cache are written. For a Steward server, the server's signing key is pinned first (the one named by
/// <c>--key-thumbprint</c>, else the key the server publishes as active) and the first bundle must verify with it.
/// </summary>
public static class Login
{
    public static async Task<LoginResult> LoginAsync(StewardPaths paths, LoginRequest request, PolicyFetcher fetcher, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(fetcher);
        ArgumentNullException.ThrowIfNull(time);
        if ((request.ServerUrl is null) == (request.Registry is null))
        {
            return new LoginResult("give either a Steward server URL (`steward login https://steward.example.com`) or --registry <url-or-path>, not both");
        }

        var (source, error) = request.ServerUrl is { } serverUrl
            ? ServerSource(serverUrl, request)
            : await RegistrySourceAsync(request.Registry!, request, fetcher, cancellationToken).ConfigureAwait(false);
        if (source is null)
        {
            return new LoginResult(error);
        }

        if (source.Kind == SourceKind.StewardServer && string.IsNullOrWhiteSpace(request.Token))
        {
            return new LoginResult($"a token is needed for {source.Location}: set STEWARD_TOKEN (or pass --token)");
        }

        if (source.Kind == SourceKind.StewardServer)
        {
            return await ServerLoginAsync(paths, source, request.Token!.Trim(), request.KeyThumbprint, fetcher, time, cancellationToken).ConfigureAwait(false);
        }

        if (request.KeyThumbprint is not null)
        {
            return new LoginResult("--key-thumbprint pins a Steward server's key; a registry source is not signed");
        }

        string? token = null;
        var fetched = await fetcher.FetchAsync(source, token, null, cancellationToken).ConfigureAwait(false);
        if (fetched is FetchOutcome.Failed failed)
        {
            return new LoginResult($"{source.Describe()}: {failed.Message}; nothing was changed");
        }

        if (fetched is not FetchOutcome.Fetched document)
        {
            return new LoginResult($"{source.Describe()} answered 304 to an unconditional request; nothing was changed");
        }

        var bytes = PolicyCache.Trimmed(document.Document);
        var loaded = RegistryLoader.Load(bytes, document.Shape);
        if (!loaded.IsValid)
        {
            var first = loaded.Failure?.ToString() ?? loaded.Problems.First(p => p.IsError).ToString();
            var errors = loaded.Problems.Count(p => p.IsError);
            return new LoginResult($"the registry from {source.Describe()} is not valid ({(loaded.Failure is null ? $"{errors} error{(errors == 1 ? "" : "s")}, first: " : "")}{first}); check it with `steward registry validate`; nothing was changed");
        }

        SourceStore.Save(paths, source, token, time);
        var revision = PolicyCache.RevisionOf(bytes);
        PolicyCache.Write(paths, new CachedPolicy(source.Kind, source.Location, revision, document.ETag, time.GetUtcNow(), loaded.Document!.Shape, bytes));
        var servers = RegistryChanges.Latest(loaded.Document.Entries).Count;
        return new LoginResult(null, PolicySource.KindName(source.Kind), source.Location, servers, loaded.Problems.Count(p => !p.IsError), revision,
            Durations.Format(source.MaxOfflineAge));
    }

    /// <summary>
    /// A Steward server: its published keys, the key to pin (trust on first use, or the one the caller named), then the
    /// first bundle, which must verify with that key (or with a key it endorses) before anything is saved.
    /// </summary>
    private static async Task<LoginResult> ServerLoginAsync(
        StewardPaths paths, PolicySource source, string token, string? wantedKid, PolicyFetcher fetcher, TimeProvider time, CancellationToken cancellationToken)
    {
        var (keys, failure) = await fetcher.FetchKeysAsync(source, cancellationToken).ConfigureAwait(false);
        if (keys is null)
        {
            return new LoginResult($"{source.Describe()}: its signing keys cannot be read: {failure!.Message}; nothing was changed");
        }

        if (keys.Keys.Count == 0)
        {
            return new LoginResult($"{source.Describe()} publishes no EC P-256 signing key named by its thumbprint at {PolicyFetcher.KeysUrl(source.Location)}; nothing was changed");
        }

        EcPublicJwk pinned;
        if (wantedKid is not null)
        {
            if (keys.Keys.FirstOrDefault(k => string.Equals(k.Kid, wantedKid.Trim(), StringComparison.Ordinal)) is not { } match)
            {
                return new LoginResult(
                    $"{source.Describe()} does not publish the key {wantedKid.Trim()} given with --key-thumbprint (it publishes {string.Join(", ", keys.Keys.Select(k => k.Kid))}); nothing was changed");
            }

            pinned = match;
        }
        else
        {
            pinned = keys.Keys[0];
        }

        var candidate = source with { PinnedKeys = [new PinnedKey(pinned)] };
        var fetched = await fetcher.FetchStewardServerAsync(candidate, token, null, cancellationToken).ConfigureAwait(false);
        if (fetched is FetchOutcome.Failed failed)
        {
            return new LoginResult($"{source.Describe()}: {failed.Message}; nothing was changed");
        }

        if (fetched is not FetchOutcome.Fetched document)
        {
            return new LoginResult($"{source.Describe()} answered 304 to an unconditional request; nothing was changed");
        }

        var now = time.GetUtcNow();
        var compact = Encoding.ASCII.GetString(PolicyCache.Trimmed(document.Document));
        var (check, repinned, _) = await SignedPolicy.OpenFollowingRotationAsync(compact, candidate, fetcher, now, cancellationToken).ConfigureAwait(false);
        if (check.Bundle is not { } bundle)
        {
            return new LoginResult($"the policy bundle from {source.Describe()} does not verify with its key {pinned.Kid}: {check.Error}; nothing was changed");
        }

        // Bound from now on to whom this first bundle belongs (the token's organisation and account).
        var final = (repinned ?? candidate) with { Subject = bundle.Content.Subject };
        SourceStore.Save(paths, final, token, time);
        PolicyCache.Write(paths, new CachedPolicy(final.Kind, final.Location, bundle.Content.Revision, document.ETag, now, RegistryShape.RegistryApiPage, [], compact));
        // A new login starts the machine's record afresh: this bundle, fetched just now, is the newest applied; no refused token.
        AppliedMark.Update(paths, _ => new AppliedMark(final.Location, final.Subject, bundle.Content.Revision, bundle.Verification.IssuedAt?.ToUnixTimeSeconds() ?? 0));
        var snapshot = SignedPolicy.Snapshot(final, bundle, now);
        var notes = new List<string>();
        if (!bundle.Content.McpEnabled)
        {
            notes.Add("MCP is disabled by your profile on this server");
        }

        if (SignedPolicy.RegistryModeNote(bundle.Content) is { } modeNote)
        {
            notes.Add(modeNote);
        }

        if (bundle.Content.Models.FallbackNotice is { } fallback)
        {
            notes.Add(fallback);
        }

        return new LoginResult(null, PolicySource.KindName(final.Kind), final.Location, RegistryChanges.Latest(bundle.Entries).Count, bundle.Warnings,
            bundle.Content.Revision, Durations.Format(snapshot.MaxOfflineAge ?? final.MaxOfflineAge), notes.Count == 0 ? null : string.Join("; ", notes),
            final.PinnedKey, bundle.Verification.ExpiresAt, bundle.Content.Models.Available.Count, bundle.Content.Models.Default,
            // The bundle's exp ends it sooner than the offline age (a --max-offline-age longer than the server's validity): say so.
            bundle.Verification.ExpiresAt is { } expires && expires < now + (snapshot.MaxOfflineAge ?? final.MaxOfflineAge) ? expires : null);
    }

    private static (PolicySource? Source, string? Error) ServerSource(string url, LoginRequest request)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            return (null, $"\"{url}\" is not a Steward server URL; give an https URL such as https://steward.example.com (for a registry file or path, use --registry)");
        }

        if (SourceAddress.Check(uri, request.AllowHttp) is { } refused)
        {
            return (null, refused);
        }

        return (new PolicySource
        {
            Kind = SourceKind.StewardServer,
            Location = uri.GetLeftPart(UriPartial.Path).TrimEnd('/'),
            AllowHttp = request.AllowHttp,
            MaxOfflineAge = request.MaxOfflineAge,
        }, null);
    }

    private static async Task<(PolicySource? Source, string? Error)> RegistrySourceAsync(string registry, LoginRequest request, PolicyFetcher fetcher, CancellationToken cancellationToken)
    {
        if (Uri.TryCreate(registry, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            if (SourceAddress.Check(uri, request.AllowHttp) is { } refused)
            {
                return (null, refused);
            }

            var (kind, location, error) = await fetcher.DetectAsync(uri, request.AllowHttp, cancellationToken).ConfigureAwait(false);
            return kind is { } found
                ? (new PolicySource { Kind = found, Location = location, AllowHttp = request.AllowHttp, MaxOfflineAge = request.MaxOfflineAge, SyncInterval = request.SyncInterval ?? PolicySource.DefaultSyncInterval }, null)
                : (null, error + "; nothing was changed");
        }

        if (uri is not null && uri.Scheme != Uri.UriSchemeFile && uri.Scheme.Length > 1)
        {
            return (null, $"--registry {registry}: the {uri.Scheme}: scheme is not supported; give an https URL or the path of a local registry file");
        }

        var path = uri is { Scheme: "file" } ? uri.LocalPath : Path.GetFullPath(registry, request.WorkingDirectory);
        if (Directory.Exists(path))
        {
            return (null, $"--registry {registry}: {path} is a directory; give the path of a registry JSON file");
        }

        if (!File.Exists(path))
        {
            return (null, $"--registry {registry}: {path} does not exist; give an https URL or the path of a local registry file");
        }

        return (new PolicySource { Kind = SourceKind.LocalFile, Location = path, MaxOfflineAge = request.MaxOfflineAge, SyncInterval = request.SyncInterval ?? PolicySource.DefaultSyncInterval }, null);
    }
}
