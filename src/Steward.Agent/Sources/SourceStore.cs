using System.Text;
using System.Text.Json;
using Steward.Agent.Files;
using Steward.Core.Policy;

namespace Steward.Agent.Sources;

/// <summary>What <c>source.json</c> holds on disk (the token is not in it).</summary>
/// <param name="PinnedKey">The thumbprint of the newest pinned key, for people and scripts comparing it with the server's.</param>
/// <param name="PinnedKeys">Every pinned key as a JWK, with how long it stays trusted (a Steward server only).</param>
/// <param name="Subject">The organisation (or <c>org/a/account</c>) this machine logged in as; every bundle must name it.</param>
public sealed record SourceFileDocument(
    string Kind,
    string Location,
    bool AllowHttp,
    string MaxOfflineAge,
    string? PinnedKey,
    DateTimeOffset SavedAt,
    IReadOnlyList<PinnedKeyDocument>? PinnedKeys = null,
    string? Subject = null,
    string? SyncInterval = null);

/// <summary>A pinned key in <c>source.json</c>: an EC P-256 JWK whose <c>kid</c> is its RFC 7638 thumbprint.</summary>
public sealed record PinnedKeyDocument(string Kty, string Crv, string X, string Y, string Kid, DateTimeOffset? TrustedUntil = null);

/// <summary>The source read from disk, or why it cannot be used (null both: not logged in).</summary>
public sealed record SourceLoad(PolicySource? Source, string? Error)
{
    public bool LoggedIn => Source is not null;
}

/// <summary>
/// <c>source.json</c> (where policy comes from) and the Steward server token, both 0600 in a 0700 directory. The token is
/// kept in its own file so that <c>source.json</c> can be shown without it.
/// </summary>
public static class SourceStore
{
    public static void Save(StewardPaths paths, PolicySource source, string? token, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(time);
        PrivateFiles.EnsureDirectory(paths.ConfigDirectory);
        if (token is not null)
        {
            PrivateFiles.WriteAtomic(paths.TokenFile, Encoding.UTF8.GetBytes(token));
        }
        else
        {
            PrivateFiles.DeleteIfExists(paths.TokenFile);
        }

        SavePins(paths, source, time);
    }

    /// <summary>
    /// Writes <c>source.json</c> alone (atomically, 0600), leaving the token as it is: how a sync re-pins after following
    /// a key endorsement.
    /// </summary>
    public static void SavePins(StewardPaths paths, PolicySource source, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(time);
        PrivateFiles.EnsureDirectory(paths.ConfigDirectory);
        var pins = source.PinnedKeys.Count == 0
            ? null
            : source.PinnedKeys.Select(k => new PinnedKeyDocument(EcPublicJwk.KeyType, EcPublicJwk.Curve, k.Jwk.X, k.Jwk.Y, k.Jwk.Kid, k.TrustedUntil)).ToList();
        var document = new SourceFileDocument(
            PolicySource.KindName(source.Kind), source.Location, source.AllowHttp, Durations.Format(source.MaxOfflineAge), source.PinnedKey, time.GetUtcNow(), pins, source.Subject,
            source.Kind == SourceKind.StewardServer ? null : Durations.Format(source.SyncInterval));
        var bytes = JsonSerializer.SerializeToUtf8Bytes(document, AgentJsonContext.Default.SourceFileDocument);
        PrivateFiles.WriteAtomic(paths.SourceFile, bytes);
    }

    public static SourceLoad Load(StewardPaths paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        byte[]? bytes;
        try
        {
            bytes = PrivateFiles.ReadIfExists(paths.SourceFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new SourceLoad(null, $"{paths.SourceFile} cannot be read ({e.Message}); run `steward login` again");
        }

        if (bytes is null)
        {
            return new SourceLoad(null, null);
        }

        SourceFileDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(bytes, AgentJsonContext.Default.SourceFileDocument);
        }
        catch (JsonException)
        {
            document = null;
        }

        if (document is null || PolicySource.ParseKind(document.Kind) is not { } kind || string.IsNullOrEmpty(document.Location) ||
            !Durations.TryParse(document.MaxOfflineAge, out var maxOfflineAge))
        {
            return new SourceLoad(null, $"{paths.SourceFile} is damaged; run `steward login` again to set the policy source");
        }

        // Absent in files written before the setting (and for a Steward server, whose profile sets it): every 24 hours.
        var syncInterval = PolicySource.DefaultSyncInterval;
        if (document.SyncInterval is not null && !Durations.TryParse(document.SyncInterval, out syncInterval))
        {
            return new SourceLoad(null, $"{paths.SourceFile} is damaged; run `steward login` again to set the policy source");
        }

        var pins = new List<PinnedKey>();
        foreach (var pin in document.PinnedKeys ?? [])
        {
            if (pin is null)
            {
                return new SourceLoad(null, $"{paths.SourceFile} is damaged; run `steward login` again to set the policy source");
            }

            var jwk = new EcPublicJwk(pin.Kid ?? "", pin.X ?? "", pin.Y ?? "");
            if (pin.Kty != EcPublicJwk.KeyType || pin.Crv != EcPublicJwk.Curve || !jwk.KidIsThumbprint)
            {
                return new SourceLoad(null, $"{paths.SourceFile} is damaged (a pinned key is not an EC P-256 key named by its thumbprint); run `steward login` again");
            }

            pins.Add(new PinnedKey(jwk, pin.TrustedUntil));
        }

        if (kind == SourceKind.StewardServer && pins.Count == 0)
        {
            return new SourceLoad(null,
                $"{paths.SourceFile} pins no key of the Steward server {document.Location} (it was written before Steward verified the server's signed policy); run `steward login {document.Location}` again");
        }

        return new SourceLoad(new PolicySource
        {
            Kind = kind,
            Location = document.Location,
            AllowHttp = document.AllowHttp,
            MaxOfflineAge = maxOfflineAge,
            SyncInterval = syncInterval,
            PinnedKeys = pins,
            Subject = document.Subject is { Length: > 0 } subject ? subject : null,
        }, null);
    }

    /// <summary>The Steward server token: the token file, else <c>STEWARD_TOKEN</c>. Never logged or printed.</summary>
    public static string? LoadToken(StewardPaths paths, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(environment);
        try
        {
            if (PrivateFiles.ReadIfExists(paths.TokenFile) is { Length: > 0 } bytes)
            {
                return Encoding.UTF8.GetString(bytes).Trim();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return environment(TokenVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment.Trim() : null;
    }

    public const string TokenVariable = "STEWARD_TOKEN";
}
