using System.Globalization;
using Steward.Core.Policy;

namespace Steward.Agent.Sources;

/// <summary>The kinds of place policy comes from. Each has its own fetch method in <see cref="PolicyFetcher"/>.</summary>
public enum SourceKind
{
    /// <summary>A Steward server (<c>steward login &lt;url&gt;</c>), with a bearer token.</summary>
    StewardServer,
    /// <summary>One static registry file served over HTTPS, as Kiro clients read it.</summary>
    RegistryFile,
    /// <summary>An official-style Registry API: <c>&lt;base&gt;/v0.1/servers</c>, paged with <c>nextCursor</c>.</summary>
    RegistryApi,
    /// <summary>A registry file on this machine (air-gapped).</summary>
    LocalFile,
}

/// <summary>
/// Where this machine's policy comes from, as <c>steward login</c> stored it. <see cref="Location"/> is an absolute URL
/// (for a Registry API or a Steward server: the base, without <c>/v0.1/servers</c>) or an absolute file path.
/// </summary>
public sealed record PolicySource
{
    public required SourceKind Kind { get; init; }

    public required string Location { get; init; }

    /// <summary>Plain http was allowed at login (only ever for a loopback address).</summary>
    public bool AllowHttp { get; init; }

    /// <summary>
    /// How often a running gateway fetches a registry source again (conditional on its ETag): <c>steward login --registry
    /// … --interval</c>, 24 hours by default. A Steward server's profile sets its own interval in the bundle.
    /// </summary>
    public TimeSpan SyncInterval { get; init; } = DefaultSyncInterval;

    public static TimeSpan DefaultSyncInterval { get; } = TimeSpan.FromHours(24);

    /// <summary>How long the last verified policy stays in force when the source cannot be reached.</summary>
    public TimeSpan MaxOfflineAge { get; init; } = DefaultMaxOfflineAge;

    /// <summary>
    /// The Steward server's public keys this machine trusts for its signed policy bundle: pinned at <c>steward login</c>,
    /// extended only through a key endorsement signed by a key already pinned. Empty for the other kinds of source.
    /// </summary>
    public IReadOnlyList<PinnedKey> PinnedKeys { get; init; } = [];

    /// <summary>
    /// Who this machine logged in as at a Steward server: the organisation, or <c>org/a/account</c>, that the first verified
    /// bundle named as its <c>sub</c>. Every later bundle must name the same subject: one installation key signs every
    /// organisation's bundles, so a bundle signed for another organisation or account is authentic and still not ours.
    /// Null for a login saved before the binding (bound at its next verified sync) and for the other kinds of source.
    /// </summary>
    public string? Subject { get; init; }

    /// <summary>The thumbprint (<c>kid</c>) of the newest pinned key, the one the server signs with; null when none is pinned.</summary>
    public string? PinnedKey => PinnedKeys.LastOrDefault(k => k.TrustedUntil is null)?.Jwk.Kid ?? PinnedKeys.LastOrDefault()?.Jwk.Kid;

    /// <summary>The pinned keys still trusted at <paramref name="now"/>.</summary>
    public IReadOnlyList<EcPublicJwk> TrustedKeys(DateTimeOffset now) =>
        [.. PinnedKeys.Where(k => k.TrustedUntil is not { } until || until > now).Select(k => k.Jwk)];

    public static TimeSpan DefaultMaxOfflineAge { get; } = TimeSpan.FromDays(7);

    public bool IsRemote => Kind != SourceKind.LocalFile;

    /// <summary>How the source is named to the developer.</summary>
    public string Describe() => Kind switch
    {
        SourceKind.StewardServer => $"the Steward server {Location}",
        SourceKind.RegistryFile => $"the registry file {Location}",
        SourceKind.RegistryApi => $"the registry API {Location}",
        _ => $"the local registry file {Location}",
    };

    public static string KindName(SourceKind kind) => kind switch
    {
        SourceKind.StewardServer => "steward-server",
        SourceKind.RegistryFile => "registry-file",
        SourceKind.RegistryApi => "registry-api",
        _ => "local-file",
    };

    public static SourceKind? ParseKind(string? name) => name switch
    {
        "steward-server" => SourceKind.StewardServer,
        "registry-file" => SourceKind.RegistryFile,
        "registry-api" => SourceKind.RegistryApi,
        "local-file" => SourceKind.LocalFile,
        _ => null,
    };
}

/// <summary>
/// A pinned public key of a Steward server. <paramref name="TrustedUntil"/> is null for a key pinned without limit; a key
/// that endorsed its successor stays trusted until that endorsement expires (the end of the server's grace period).
/// </summary>
public sealed record PinnedKey(EcPublicJwk Jwk, DateTimeOffset? TrustedUntil = null);

/// <summary>Durations as people type them: <c>90m</c>, <c>36h</c>, <c>7d</c>, <c>3600s</c>.</summary>
public static class Durations
{
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text) || text.Length < 2)
        {
            return false;
        }

        var unit = text[^1];
        if (!long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number <= 0 || number > 100_000)
        {
            return false;
        }

        switch (unit)
        {
            case 's': value = TimeSpan.FromSeconds(number); return true;
            case 'm': value = TimeSpan.FromMinutes(number); return true;
            case 'h': value = TimeSpan.FromHours(number); return true;
            case 'd': value = TimeSpan.FromDays(number); return true;
            default: return false;
        }
    }

    public static string Format(TimeSpan value)
    {
        if (value.Ticks % TimeSpan.TicksPerDay == 0)
        {
            return ((long)value.TotalDays).ToString(CultureInfo.InvariantCulture) + "d";
        }

        if (value.Ticks % TimeSpan.TicksPerHour == 0)
        {
            return ((long)value.TotalHours).ToString(CultureInfo.InvariantCulture) + "h";
        }

        if (value.Ticks % TimeSpan.TicksPerMinute == 0)
        {
            return ((long)value.TotalMinutes).ToString(CultureInfo.InvariantCulture) + "m";
        }

        return ((long)Math.Ceiling(value.TotalSeconds)).ToString(CultureInfo.InvariantCulture) + "s";
    }
}
