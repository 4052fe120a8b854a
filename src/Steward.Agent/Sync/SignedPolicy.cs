using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Steward.Agent.Policy;
using Steward.Agent.Sources;
using Steward.Core.Json;
using Steward.Core.Policy;
using Steward.Core.Registry;
using Steward.Core.Validation;

namespace Steward.Agent.Sync;

/// <summary>
/// The settings and lists a Steward server's bundle payload carries (see docs/policy-bundle.md), as the agent uses them:
/// read by Core's <see cref="BundlePayload"/>, the one definition of the payload the server writes too.
/// </summary>
public sealed record BundleContent(
    string Revision,
    string? Subject,
    bool McpEnabled,
    bool WebToolsEnabled,
    string RegistryMode,
    string? RegistryUrl,
    TimeSpan SyncInterval,
    TimeSpan? MaxOfflineAge,
    byte[]? Registry,
    PolicyModels Models,
    bool AuditToolArguments = false,
    Core.Sandbox.SandboxPolicy? Sandbox = null,
    string? EmergencyStop = null,
    byte[]? Withdrawn = null)
{
    /// <summary>Which profile decided the settings (<c>profile.scope</c>: <c>organisation</c> or <c>account</c>).</summary>
    public string? ProfileScope { get; init; }

    /// <summary>The profile's tool rules, in order (deny wins); none in bundles from servers older than them.</summary>
    public IReadOnlyList<ToolRule> ToolRules { get; init; } = [];

    /// <summary>The registry as loaded and validated from the payload's own document (parsed once); null without a registry.</summary>
    public LoadResult? LoadedRegistry { get; init; }

    /// <summary>The withdrawn list, loaded likewise; null when absent.</summary>
    public LoadResult? LoadedWithdrawn { get; init; }

    /// <summary>The payload's content, or null and why it is not a Steward policy payload.</summary>
    public static BundleContent? Parse(byte[] payload, out string? error)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var reading = BundlePayload.Read(payload);
        if (reading.Payload is not { } read)
        {
            error = reading.Error;
            return null;
        }

        var models = ReadModels(read.Models, out error);
        if (models is null)
        {
            return null;
        }

        var profile = read.Profile;
        var emergencyStop = profile.EmergencyStop is { } stop ? stop.Reason + (stop.Since is { } since ? " (since " + since + ")" : "") : null;
        return new BundleContent(
            read.Revision,
            read.Subject,
            profile.McpEnabled,
            profile.WebToolsEnabled,
            profile.RegistryMode,
            profile.RegistryUrl,
            TimeSpan.FromSeconds(profile.SyncIntervalSeconds),
            profile.MaxOfflineAgeSeconds is { } max ? TimeSpan.FromSeconds(max) : null,
            read.Registry?.ToArray(),
            models,
            profile.AuditToolArguments,
            read.Sandbox,
            emergencyStop,
            read.Withdrawn?.ToArray())
        {
            ProfileScope = profile.Scope,
            ToolRules = profile.ToolRules,
            LoadedRegistry = reading.Registry,
            LoadedWithdrawn = reading.Withdrawn,
        };
    }

    private static PolicyModels? ReadModels(ReadOnlyMemory<byte> listing, out string? error)
    {
        error = null;
        using var document = JsonDocument.Parse(listing);
        var models = document.RootElement;
        var available = new List<AvailableModel>();
        string? defaultModel = null;
        foreach (var model in models.EnumerateArray())
        {
            if (model.ValueKind != JsonValueKind.Object || !model.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String || id.GetString() is not { Length: > 0 } idText)
            {
                error = "a model of its models list has no id";
                return null;
            }

            if (model.TryGetProperty("available", out var isAvailable) && isAvailable.ValueKind == JsonValueKind.False)
            {
                continue;
            }

            available.Add(new AvailableModel(idText, Text(model, "displayName"), Text(model, "provider")));
            if (model.TryGetProperty("default", out var isDefault) && isDefault.ValueKind == JsonValueKind.True)
            {
                defaultModel ??= idText;
            }
        }

        return new PolicyModels(available, defaultModel);
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>A bundle that verified: the compact JWS, its times and key, its content and its admitted entries.</summary>
/// <param name="Expired">The signature verifies but <c>exp</c> has passed: authentic, and no longer in force.</param>
public sealed record VerifiedBundle(string Compact, PolicyVerification Verification, BundleContent Content, IReadOnlyList<RegistryEntry> Entries, int Warnings, bool Expired)
{
    /// <summary>The versions the admin deprecated or deleted, with their status message (never admitted; for messages).</summary>
    public IReadOnlyList<RegistryEntry> Withdrawn { get; init; } = [];
}

/// <summary>Opening a bundle: verified, or refused with why (and the problems of an invalid registry), or signed by a key that is not pinned.</summary>
public sealed record BundleCheck(VerifiedBundle? Bundle, string? Error, IReadOnlyList<Problem> Problems, string? UnknownKid)
{
    public static BundleCheck Refused(string error, IReadOnlyList<Problem>? problems = null, string? unknownKid = null) => new(null, error, problems ?? [], unknownKid);
}

/// <summary>
/// The signed policy bundle of a Steward server on the agent's side: verified with <see cref="PolicyBundle"/> against
/// the pinned keys (following the server's key endorsements when it signs with a key not pinned yet), then read into
/// a <see cref="PolicySnapshot"/>. The registry it carries is validated whole, as any other source's.
/// </summary>
public static class SignedPolicy
{
    /// <summary>
    /// Verifies <paramref name="compact"/> against the keys <paramref name="source"/> trusts at <paramref name="now"/>,
    /// without the network. A bundle whose signature verifies but whose <c>exp</c> has passed comes back with
    /// <see cref="VerifiedBundle.Expired"/> when <paramref name="allowExpired"/> (a cache that aged), else refused.
    /// </summary>
    public static BundleCheck Open(string compact, PolicySource source, DateTimeOffset now, bool allowExpired = false)
    {
        ArgumentNullException.ThrowIfNull(compact);
        ArgumentNullException.ThrowIfNull(source);
        var trusted = source.TrustedKeys(now);
        var verification = PolicyBundle.Verify(compact, trusted, now);
        var expired = false;
        if (!verification.IsValid)
        {
            if (verification.Kid is { } kid && trusted.All(k => k.Kid != kid))
            {
                return BundleCheck.Refused(verification.Error!, unknownKid: kid);
            }

            // Authentic but past its exp: verified as of just before it expired, to tell expiry from forgery.
            if (UnverifiedExpiry(compact) is { } expiresAt && expiresAt <= now &&
                PolicyBundle.Verify(compact, trusted, expiresAt - TimeSpan.FromSeconds(1), TimeSpan.Zero) is { IsValid: true } authentic)
            {
                if (!allowExpired)
                {
                    return BundleCheck.Refused($"it expired at {Time(expiresAt)} (check this machine's clock)");
                }

                verification = authentic;
                expired = true;
            }
            else
            {
                return BundleCheck.Refused(verification.Error!);
            }
        }

        if (BundleContent.Parse(verification.Payload!, out var error) is not { } content)
        {
            return BundleCheck.Refused(error!);
        }

        // One installation key signs every organisation's bundles: the signature says who signed, the subject whose policy it is.
        if (source.Subject is { } bound && !string.Equals(content.Subject, bound, StringComparison.Ordinal))
        {
            return BundleCheck.Refused(
                $"it is the policy of {(content.Subject is { } other ? $"\"{other}\"" : "no named organisation")}, but this machine is logged in as \"{bound}\" " +
                "(a bundle for another organisation or account is never applied; run `steward login` again to change accounts)");
        }

        IReadOnlyList<RegistryEntry> entries = [];
        var warnings = 0;
        if (content.LoadedRegistry is { } loaded)
        {
            if (!loaded.IsValid)
            {
                var problems = loaded.Problems.Where(p => p.IsError).ToList();
                var why = loaded.Failure is { } failure
                    ? failure.ToString()
                    : $"{problems.Count} error{(problems.Count == 1 ? "" : "s")}, first: {problems[0]}";
                return BundleCheck.Refused($"its registry is not valid: {why}", problems);
            }

            entries = loaded.Document!.Entries;
            warnings = loaded.Problems.Count(p => !p.IsError);
        }

        // Only ever used for messages: a withdrawn list that does not load is left out rather than refusing the policy.
        IReadOnlyList<RegistryEntry> withdrawn = [];
        if (content.LoadedWithdrawn is { IsValid: true } loadedWithdrawn)
        {
            withdrawn = loadedWithdrawn.Document!.Entries;
        }

        return new BundleCheck(new VerifiedBundle(compact, verification, content, entries, warnings, expired) { Withdrawn = withdrawn }, null, [], null);
    }

    /// <summary>
    /// <see cref="Open"/>, and when the bundle is signed by a key that is not pinned: fetches the server's keys and follows
    /// their endorsements from a pinned key. On success <paramref name="repinned"/> is the source with its new pins (for the
    /// caller to save); a key reached by no endorsement chain is refused. <paramref name="unreachable"/> tells a failure
    /// to fetch the keys from a refusal.
    /// </summary>
    public static async Task<(BundleCheck Check, PolicySource? Repinned, bool Unreachable)> OpenFollowingRotationAsync(
        string compact, PolicySource source, PolicyFetcher fetcher, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(fetcher);
        var check = Open(compact, source, now);
        if (check.UnknownKid is not { } kid)
        {
            return (check, null, false);
        }

        var (keys, failure) = await fetcher.FetchKeysAsync(source, cancellationToken).ConfigureAwait(false);
        if (keys is null)
        {
            return (BundleCheck.Refused($"it is signed by key \"{kid}\", which is not pinned, and the server's keys could not be read to follow a rotation: {failure!.Message}"),
                null, failure.Kind == FetchFailureKind.Unreachable);
        }

        if (KeyPinning.Follow(source.PinnedKeys, keys, kid, now, out var error) is not { } pins)
        {
            return (BundleCheck.Refused(error!), null, false);
        }

        var repinned = source with { PinnedKeys = pins };
        check = Open(compact, repinned, now);
        return check.Bundle is null ? (check, null, false) : (check, repinned, false);
    }

    /// <summary>The snapshot a verified bundle puts in force, confirmed by the server at <paramref name="confirmedAt"/>.</summary>
    public static PolicySnapshot Snapshot(PolicySource source, VerifiedBundle bundle, DateTimeOffset confirmedAt)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(bundle);
        var content = bundle.Content;
        // The profile's maximum offline age and the one chosen at login: the shorter applies.
        var maxOfflineAge = content.MaxOfflineAge is { } fromProfile && fromProfile < source.MaxOfflineAge ? fromProfile : source.MaxOfflineAge;
        return new PolicySnapshot
        {
            Source = source.Location,
            Revision = content.Revision,
            FetchedAt = confirmedAt,
            Registry = bundle.Entries,
            McpEnabled = content.McpEnabled,
            WebToolsEnabled = content.WebToolsEnabled,
            SyncInterval = content.SyncInterval,
            MaxOfflineAge = maxOfflineAge,
            ExpiresAt = bundle.Verification.ExpiresAt,
            Models = content.Models,
            Subject = content.Subject,
            ProfileScope = content.ProfileScope,
            AuditArguments = content.AuditToolArguments,
            Sandbox = content.Sandbox ?? Core.Sandbox.SandboxPolicy.None,
            EmergencyStop = content.EmergencyStop,
            Withdrawn = bundle.Withdrawn,
            ToolRules = content.ToolRules,
        };
    }

    /// <summary>A note for the developer when the bundle admits no server because of its registry mode (no allowlist applied, or an external registry not fetched yet).</summary>
    public static string? RegistryModeNote(BundleContent content)
    {
        ArgumentNullException.ThrowIfNull(content);
        return content.RegistryMode switch
        {
            "hosted" => null,
            // The server fetches the external registry and signs its last good copy into the bundle, as a hosted one.
            "external" when content.Registry is not null => null,
            "external" => $"the profile's registry is the external registry {content.RegistryUrl}, which the Steward server has not fetched successfully yet; no server is admitted until it has (your administrator sees why on the console's Settings page)",
            _ => $"the profile's registry mode is \"{content.RegistryMode}\" (no allowlist), which this version of steward does not apply yet; no server is admitted",
        };
    }

    internal static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) + " UTC";

    private static DateTimeOffset? UnverifiedExpiry(string compact)
    {
        var parts = compact.Split('.');
        if (parts.Length != 3 || !Base64Url.IsValid(parts[1]))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("exp", out var exp) &&
                   exp.ValueKind == JsonValueKind.Number && exp.TryGetInt64(out var seconds) && seconds is >= 0 and <= 253402300799
                ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
