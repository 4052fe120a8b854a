using System.Collections.Concurrent;
using System.Text;
using Steward.Core.Policy;
using Steward.Server.Registry;

namespace Steward.Server.Policy;

/// <summary>
/// The signed policy bundle (<c>GET /api/v1/policy</c>), the keys that verify it (<c>GET /api/v1/policy/keys</c>) and
/// key rotation (<c>POST /api/v1/admin/keys/rotate</c>). See docs/policy-bundle.md.
/// </summary>
internal static class PolicyApi
{
    public const int MaxRotateBodyBytes = 4 * 1024;
    public static readonly TimeSpan DefaultGrace = TimeSpan.FromDays(30);
    public static readonly TimeSpan MinimumGrace = TimeSpan.FromHours(1);
    public static readonly TimeSpan MaximumGrace = TimeSpan.FromDays(365);

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/policy", BundleAsync);
        app.MapGet("/api/v1/policy/keys", KeysAsync);
        app.MapGet(PolicyEvents.Path, PolicyEvents.HoldAsync);
        app.MapPost("/api/v1/admin/keys/rotate", RotateAsync);
    }

    /// <summary>
    /// The effective profile of the caller's account (the organisation's for a token without an account), signed.
    /// 200 <c>application/jose</c> with the compact JWS and an ETag; 304 when <c>If-None-Match</c> names it; 401 without a valid token.
    /// A token seen within the last second on this instance, with no change made on this instance since, is answered from
    /// memory (<see cref="BundleResolutions"/>); otherwise the token and everything the bundle depends on are read again.
    /// </summary>
    internal static async Task<IResult> BundleAsync(HttpContext context, Database database, TimeProvider time, SigningKeys keys, BundleCache cache, BundleResolutions resolutions, CancellationToken cancellationToken)
    {
        if (Authentication.PresentedToken(context) is not { } token)
        {
            return Authentication.Unauthorized(context);
        }

        var bundle = await CurrentAsync(context, database, time, keys, cache, resolutions, Tokens.Hash(token), cancellationToken).ConfigureAwait(false);
        if (bundle is null)
        {
            return Authentication.Unauthorized(context);
        }

        // Compressed once per content (and kept with it), each coding with its own strong ETag; sent only when smaller.
        var coding = BundleEncodings.Choose(context.Request.Headers.AcceptEncoding.ToString());
        var body = coding is null ? bundle.Jws : bundle.Encoded(coding);
        if (ReferenceEquals(body, bundle.Jws))
        {
            coding = null;
        }

        context.Response.Headers.ETag = BundleEncodings.ETagOf(bundle.ETag, coding);
        context.Response.Headers.CacheControl = "private, no-cache";
        BundleEncodings.Describe(context.Response, coding);
        if (BundleEncodings.Matches(context.Request.Headers.IfNoneMatch.ToString(), bundle.ETag))
        {
            context.Response.Headers.ContentEncoding = default;
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Bytes(body, PolicyBundle.MediaType);
    }

    /// <summary>What the bundle endpoint would answer the token with hash <paramref name="tokenHash"/> now: the signed bundle, or null for a token that is not valid.</summary>
    internal static async Task<SignedBundle?> CurrentAsync(HttpContext context, Database database, TimeProvider time, SigningKeys keys, BundleCache cache, BundleResolutions resolutions,
        string tokenHash, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return resolutions.Find(tokenHash, now)
            ?? await ResolveAsync(context, database, time, keys, cache, resolutions, tokenHash, now, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Checks the token and reads what the bundle depends on; the signed bundle (from <see cref="BundleCache"/> or signed now), or null for a token that is not valid.</summary>
    private static async Task<SignedBundle?> ResolveAsync(HttpContext context, Database database, TimeProvider time, SigningKeys keys, BundleCache cache, BundleResolutions resolutions,
        string tokenHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // Taken before reading: a change committed on this instance while this request reads makes the result stale at once.
        var generation = resolutions.Generation;
        if (await Authentication.FindAsync(database, tokenHash, time, cancellationToken).ConfigureAwait(false) is not var (caller, tokenExpires))
        {
            return null;
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (await Profiles.EffectiveOfAsync(connection, caller, cancellationToken).ConfigureAwait(false) is not { } effective)
        {
            return null;
        }

        var (organisation, account) = (effective.Organisation, effective.Account);
        var models = await Models.ModelBundle.ForAsync(connection, context.RequestServices, caller, organisation.Slug, account?.Slug, cancellationToken).ConfigureAwait(false);
        var (kid, key) = await keys.ActiveAsync(cancellationToken).ConfigureAwait(false);

        // The models depend on the token's groups and the catalog, which the profile revision does not cover: they are
        // part of the key (a short array, written per request; the registry, the large part, is not).
        var modelsJson = Encoding.UTF8.GetString(ResponseJson.Write(w =>
        {
            w.WriteStartArray();
            models(w);
            w.WriteEndArray();
        }));
        var issuedAt = IssuedAt(effective.Settings, now);
        var cacheKey = new BundleKey(organisation.Id, organisation.Slug, account?.Id, account?.Slug, effective.Revision, issuedAt, kid, modelsJson);
        async Task<SignedBundle> SignAsync()
        {
            IReadOnlyList<StoredEntry>? entries = [];
            await using var reader = await database.OpenAsync(CancellationToken.None).ConfigureAwait(false);
            IReadOnlyList<StoredEntry> withdrawn = [];
            if (effective.Settings.McpEnabled && effective.Settings.RegistryMode == RegistryModes.Hosted)
            {
                entries = await AdmittedEntries.LoadAsync(reader, organisation.Id, CancellationToken.None).ConfigureAwait(false);
                withdrawn = await AdmittedEntries.LoadWithdrawnAsync(reader, organisation.Id, CancellationToken.None).ConfigureAwait(false);
            }
            else if (effective.Settings.RegistryMode == RegistryModes.External)
            {
                // The last good copy of the external registry, read as the hosted one is; none fetched yet: no registry (nothing admitted).
                var state = await ExternalRegistries.FindAsync(reader, null, effective.Profile.Id, CancellationToken.None).ConfigureAwait(false);
                entries = state?.FetchedAt is null ? null
                    : effective.Settings.McpEnabled ? await AdmittedEntries.LoadAsync(reader, RegistrySource.External(effective.Profile.Id), CancellationToken.None).ConfigureAwait(false)
                    : [];
            }

            var sandbox = await SandboxApi.PolicyForAsync(reader, organisation.Id, account?.Id, CancellationToken.None).ConfigureAwait(false);
            var signingInput = PolicyBundle.SigningInput(Payload(effective, entries, now, models, sandbox, withdrawn), kid);
            return new SignedBundle(ETags.Of(Encoding.ASCII.GetBytes(signingInput)), Encoding.ASCII.GetBytes(PolicyBundle.SignInput(signingInput, key)), effective.Revision);
        }

        // A profile that is not stored has no revision that registry changes raise: never kept.
        if (effective.OrganisationProfile.Id.Length == 0)
        {
            return await SignAsync().ConfigureAwait(false);
        }

        var bundle = await cache.GetOrSignAsync(cacheKey, SignAsync).ConfigureAwait(false);
        resolutions.Remember(tokenHash, generation, now, tokenExpires, WindowSeconds(effective.Settings), issuedAt, bundle);
        return bundle;
    }

    /// <summary>The start of the window <paramref name="now"/> falls in (see <see cref="Payload"/>).</summary>
    internal static long IssuedAt(ProfileSettings settings, DateTimeOffset now) => IssuedAt(WindowSeconds(settings), now);

    internal static long IssuedAt(long windowSeconds, DateTimeOffset now) => now.ToUnixTimeSeconds() / windowSeconds * windowSeconds;

    /// <summary>The length of a bundle window: the sync interval, or half the validity when that is shorter.</summary>
    internal static long WindowSeconds(ProfileSettings settings) => Math.Max(1, Math.Min(settings.SyncIntervalSeconds, ValiditySeconds(settings) / 2));

    /// <summary>The maximum offline age when none is set in the profile: 7 days, as <c>steward login</c> promises.</summary>
    internal const long DefaultMaxOfflineAgeSeconds = 7L * 24 * 3600;

    /// <summary>
    /// How long a client may go on with a bundle without hearing from the server: the profile's maximum offline age, else
    /// 7 days (or twice the sync interval when that is longer, so that a client always syncs before its bundle expires).
    /// Not tied to the sync interval otherwise: a short interval does not make bundles expire between two syncs.
    /// </summary>
    internal static long ValiditySeconds(ProfileSettings settings) =>
        settings.MaxOfflineAgeSeconds ?? Math.Max(DefaultMaxOfflineAgeSeconds, 2 * settings.SyncIntervalSeconds);

    /// <summary>
    /// The bundle's payload. Its times are aligned to a window (the sync interval, or half the validity when that is
    /// shorter), so that every request and every instance in one window produce the same bytes, hence the same ETag.
    /// <c>exp</c> is the end of that window plus the validity (<see cref="ValiditySeconds"/>), so a bundle fetched at any
    /// moment stays valid offline for at least the maximum offline age, and for at most one window more.
    /// </summary>
    /// <param name="entries">What the registry admits; null for an external registry the server has no good copy of yet (<c>registry</c> is then null).</param>
    internal static byte[] Payload(EffectiveProfile effective, IReadOnlyList<StoredEntry>? entries, DateTimeOffset now, Action<Utf8JsonWriter>? models = null,
        Core.Sandbox.SandboxPolicy? sandbox = null, IReadOnlyList<StoredEntry>? withdrawn = null)
    {
        var settings = effective.Settings;
        var validity = WindowSeconds(settings) + ValiditySeconds(settings);
        var issuedAt = IssuedAt(settings, now);
        return new BundlePayload(
            effective.Account is { } a ? $"{effective.Organisation.Slug}/a/{a.Slug}" : effective.Organisation.Slug,
            issuedAt,
            issuedAt + validity,
            effective.Revision,
            effective.Organisation.Slug,
            effective.Account?.Slug,
            settings.ToBundle(effective.AccountProfile is null ? "organisation" : "account") with
            {
                EmergencyStop = effective.Stop is { } stop ? new BundleEmergencyStop(stop.Reason, stop.Since) : null,
            })
        {
            // Typed as nullable on purpose: a null byte[] would convert to an empty (not absent) memory.
            Registry = settings.RegistryMode is RegistryModes.Hosted or RegistryModes.External && entries is not null ? (ReadOnlyMemory<byte>?)Page(entries) : null,
            Models = ResponseJson.Write(w =>
            {
                w.WriteStartArray();
                models?.Invoke(w);
                w.WriteEndArray();
            }),
            Sandbox = sandbox ?? Core.Sandbox.SandboxPolicy.None,
            Withdrawn = withdrawn is { Count: > 0 } ? (ReadOnlyMemory<byte>?)Page(withdrawn) : null,
        }.ToUtf8();
    }

    /// <summary>A Registry API page of <paramref name="entries"/>, without a cursor (the bundle carries every admitted entry).</summary>
    private static byte[] Page(IReadOnlyList<StoredEntry> entries) => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartArray("servers");
        foreach (var entry in entries)
        {
            RegistryJson.WriteItem(w, entry);
        }

        w.WriteEndArray();
        w.WriteStartObject("metadata");
        w.WriteNumber("count", entries.Count);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    /// <summary><c>GET /api/v1/policy/keys</c>: the JWK Set (active key first) and the endorsements of each successor key by its predecessor.</summary>
    internal static async Task<IResult> KeysAsync(HttpContext context, SigningKeys keys, TimeProvider time, CancellationToken cancellationToken)
    {
        var published = await keys.PublishedAsync(time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        var body = ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("keys");
            foreach (var key in published)
            {
                key.Jwk.WriteTo(w);
            }

            w.WriteEndArray();
            w.WriteStartArray("endorsements");
            foreach (var key in published.Where(k => k.Endorsement is not null))
            {
                w.WriteStringValue(key.Endorsement);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
        context.Response.Headers.CacheControl = "public, max-age=300";
        return ETags.Json(context, body);
    }

    /// <summary>
    /// <c>POST /api/v1/admin/keys/rotate</c> (an admin of the first organisation), optional body <c>{"graceSeconds": n}</c>:
    /// a new active key; the previous one stays in the JWKS for the grace period (default 30 days) and endorses the new one.
    /// </summary>
    internal static async Task<IResult> RotateAsync(HttpContext context, Database database, TimeProvider time, SigningKeys keys, CancellationToken cancellationToken)
    {
        var (caller, refusal) = await ServerAdministrator.CheckAsync(context, database, time, "rotating the server's signing key", cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            return refusal;
        }

        var body = await RequestBodies.ReadAsync(context.Request, MaxRotateBodyBytes, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return RequestBodies.TooLarge(MaxRotateBodyBytes);
        }

        var grace = DefaultGrace;
        if (body.Length > 0)
        {
            var request = RequestRecord.Parse(body, ServerJsonContext.Default.KeyRotationRequest, (rotation, check) => rotation.Validate(check));
            if (!request.Ok)
            {
                return Problems.Of(request.Problem);
            }

            grace = request.Value.Grace();
        }

        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var (previous, next) = await keys.RotateAsync(connection, transaction, now, now + grace, cancellationToken).ConfigureAwait(false);
        var before = JsonSerializer.Serialize(new Dictionary<string, string> { ["activeKid"] = previous.Jwk.Kid }, ServerJsonContext.Default.DictionaryStringString);
        var after = JsonSerializer.Serialize(new Dictionary<string, string> { ["activeKid"] = next.Jwk.Kid, ["previousKid"] = previous.Jwk.Kid, ["previousPublishedUntil"] = previous.PublishedUntil! },
            ServerJsonContext.Default.DictionaryStringString);
        await AuditLog.WriteAsync(connection, transaction, caller!.OrganisationId, now, caller.Actor, "signing-key.rotate", "signing-key:" + next.Jwk.Kid, before, after, null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        var response = ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("kid", next.Jwk.Kid);
            w.WritePropertyName("jwk");
            next.Jwk.WriteTo(w);
            w.WriteString("previousKid", previous.Jwk.Kid);
            w.WriteString("previousPublishedUntil", previous.PublishedUntil);
            w.WriteString("endorsement", next.Endorsement);
            w.WriteEndObject();
        });
        return new JsonBytes(response, StatusCodes.Status201Created);
    }
}

/// <summary>What a bundle's bytes depend on: the organisation and account, the profile revision (which every registry change raises), the window, the signing key and the models.</summary>
/// <summary>The optional body of <c>POST /api/v1/admin/keys/rotate</c>: <c>{"graceSeconds": n}</c>, read by <see cref="RequestRecord"/>.</summary>
internal sealed record KeyRotationRequest(long? GraceSeconds)
{
    /// <summary>How long the previous key stays published: the body's seconds, else 30 days.</summary>
    public TimeSpan Grace() => GraceSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : PolicyApi.DefaultGrace;

    /// <summary>The request, or null with the problem added to <paramref name="check"/>: given, the seconds are from 3,600 (an hour) to 31,536,000 (365 days).</summary>
    public KeyRotationRequest? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        if (!check.Given("graceSeconds") || (GraceSeconds >= PolicyApi.MinimumGrace.TotalSeconds && GraceSeconds <= PolicyApi.MaximumGrace.TotalSeconds))
        {
            return this;
        }

        if (!check.Reported("graceSeconds"))
        {
            check.Add("graceSeconds", $"expected whole seconds from {PolicyApi.MinimumGrace.TotalSeconds:0} to {PolicyApi.MaximumGrace.TotalSeconds:0}",
                GraceSeconds?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null");
        }

        return null;
    }
}

internal sealed record BundleKey(string OrganisationId, string OrganisationSlug, string? AccountId, string? AccountSlug, string Revision, long IssuedAt, string Kid, string ModelsJson);

/// <summary>A signed bundle: its ETag, the compact JWS as sent and the revision it carries; its Brotli and gzip codings made on first use and kept with it.</summary>
internal sealed record SignedBundle(string ETag, byte[] Jws, string Revision = "")
{
    private readonly Lazy<byte[]> _brotli = new(() => Smaller(Jws, BundleEncodings.Encode(Jws, BundleEncodings.Brotli)), LazyThreadSafetyMode.ExecutionAndPublication);
    private readonly Lazy<byte[]> _gzip = new(() => Smaller(Jws, BundleEncodings.Encode(Jws, BundleEncodings.Gzip)), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The bytes in <paramref name="coding"/> (<c>br</c> or <c>gzip</c>), or <see cref="Jws"/> itself when coding does not make them smaller.</summary>
    public byte[] Encoded(string coding) => coding == BundleEncodings.Brotli ? _brotli.Value : _gzip.Value;

    private static byte[] Smaller(byte[] plain, byte[] encoded) => encoded.Length < plain.Length ? encoded : plain;
}

/// <summary>
/// Signed bundles by what they depend on (<see cref="BundleKey"/>): a request for content already signed on this instance,
/// conditional or not, is answered without reading the registry, serialising or signing. Content not yet signed is signed
/// once: requests that arrive meanwhile (every client at the start of a new window) wait for the same signature.
/// </summary>
internal sealed class BundleCache
{
    internal const int MaxEntries = 1_000;
    private readonly ConcurrentDictionary<BundleKey, Lazy<Task<SignedBundle>>> _signed = new();

    public int Count => _signed.Count;

    public bool TryGet(BundleKey key, out SignedBundle? bundle)
    {
        bundle = _signed.TryGetValue(key, out var signing) && signing.Value.IsCompletedSuccessfully ? signing.Value.Result : null;
        return bundle is not null;
    }

    public void Set(BundleKey key, SignedBundle bundle) => Add(key, new Lazy<Task<SignedBundle>>(Task.FromResult(bundle)));

    /// <summary>The bundle for <paramref name="key"/>: the one kept, the one being signed, or the one <paramref name="sign"/> makes now (a failure is not kept).</summary>
    public async Task<SignedBundle> GetOrSignAsync(BundleKey key, Func<Task<SignedBundle>> sign)
    {
        if (!_signed.TryGetValue(key, out var signing))
        {
            var mine = new Lazy<Task<SignedBundle>>(sign, LazyThreadSafetyMode.ExecutionAndPublication);
            signing = Add(key, mine);
        }

        try
        {
            return await signing.Value.ConfigureAwait(false);
        }
        catch
        {
            _signed.TryRemove(KeyValuePair.Create(key, signing));
            throw;
        }
    }

    private Lazy<Task<SignedBundle>> Add(BundleKey key, Lazy<Task<SignedBundle>> signing)
    {
        var kept = _signed.GetOrAdd(key, signing);
        if (!ReferenceEquals(kept, signing))
        {
            if (signing.IsValueCreated)
            {
                _signed[key] = signing;
                return signing;
            }

            return kept;
        }

        // Older revisions and windows of the same caller's bundle are never asked for again: drop them.
        foreach (var stale in _signed.Keys)
        {
            if (stale.OrganisationId == key.OrganisationId && stale.AccountId == key.AccountId && stale.ModelsJson == key.ModelsJson && stale != key)
            {
                _signed.TryRemove(stale, out _);
            }
        }

        if (_signed.Count > MaxEntries)
        {
            _signed.Clear();
            _signed[key] = signing;
        }

        return signing;
    }
}

/// <summary>
/// What each presented token resolved to on this instance, for at most <see cref="LocalChanges.Lifetime"/>: the bundle
/// endpoint answers a token seen that recently from memory, without a SQL read. A change committed through this instance
/// (<see cref="LocalChanges"/>) makes every remembered resolution stale at once — a revoked token, an edited profile, a
/// registry change —; a change made through another instance is seen within the lifetime. A resolution never outlives
/// the token's expiry or the bundle's window.
/// </summary>
internal sealed class BundleResolutions(LocalChanges changes)
{
    internal const int MaxEntries = 10_000;

    private sealed record Resolution(long Generation, DateTimeOffset Until, long WindowSeconds, long IssuedAt, SignedBundle Bundle);

    private readonly ConcurrentDictionary<string, Resolution> _byTokenHash = new(StringComparer.Ordinal);

    public long Generation => changes.Generation;

    public SignedBundle? Find(string tokenHash, DateTimeOffset now) =>
        _byTokenHash.TryGetValue(tokenHash, out var resolution)
        && resolution.Generation == changes.Generation
        && now < resolution.Until
        && PolicyApi.IssuedAt(resolution.WindowSeconds, now) == resolution.IssuedAt
            ? resolution.Bundle
            : null;

    /// <summary>Remembers what <paramref name="tokenHash"/> resolved to, read after <see cref="Generation"/> was <paramref name="generation"/>.</summary>
    public void Remember(string tokenHash, long generation, DateTimeOffset now, DateTimeOffset? tokenExpires, long windowSeconds, long issuedAt, SignedBundle bundle)
    {
        if (_byTokenHash.Count >= MaxEntries)
        {
            _byTokenHash.Clear();
        }

        var until = now + LocalChanges.Lifetime;
        _byTokenHash[tokenHash] = new Resolution(generation, tokenExpires is { } expires && expires < until ? expires : until, windowSeconds, issuedAt, bundle);
    }
}
