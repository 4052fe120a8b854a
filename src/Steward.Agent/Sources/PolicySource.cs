using System.Globalization;

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

    /// <summary>How long the last verified policy stays in force when the source cannot be reached.</summary>
    public TimeSpan MaxOfflineAge { get; init; } = DefaultMaxOfflineAge;

    /// <summary>The key the Steward server's signed bundle is verified with, once the server publishes one; null until then.</summary>
    public string? PinnedKey { get; init; }

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
