using System.Text.Json;
using Steward.Core.Json;
using Steward.Core.Policy;

namespace Steward.Agent.Sources;

/// <summary>
/// What a Steward server publishes at <c>/api/v1/policy/keys</c>: its keys (the active one first, then retired keys
/// in their grace period) and the endorsements of each successor by its predecessor. Keys whose <c>kid</c> is not
/// their RFC 7638 thumbprint are left out.
/// </summary>
public sealed record ServerKeySet(IReadOnlyList<EcPublicJwk> Keys, IReadOnlyList<string> Endorsements)
{
    /// <summary>The key set, or null when <paramref name="json"/> is not a JWK Set.</summary>
    public static ServerKeySet? Parse(byte[] json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var parsed = StrictJson.Parse(json);
        using var document = parsed.Document;
        if (document is null || document.RootElement.ValueKind != JsonValueKind.Object ||
            !document.RootElement.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var parsedKeys = keys.EnumerateArray()
            .Select(k => EcPublicJwk.Parse(k, out _))
            .OfType<EcPublicJwk>()
            .Where(k => k.KidIsThumbprint)
            .ToList();
        var endorsements = document.RootElement.TryGetProperty("endorsements", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToList()
            : [];
        return new ServerKeySet(parsedKeys, endorsements);
    }
}

/// <summary>
/// Key continuity for a Steward server: a key is trusted when it is pinned, or when an endorsement signed by a trusted
/// key vouches for it (a chain of rotations is followed link by link). Nothing the network says is trusted otherwise.
/// </summary>
public static class KeyPinning
{
    /// <summary>
    /// Follows the endorsements of <paramref name="published"/> from the keys pinned in <paramref name="pins"/> until
    /// <paramref name="wantedKid"/> is reached. On success, the new pins: every key reached, the endorsing keys kept only
    /// until their endorsement expires, pins that expired before <paramref name="now"/> dropped. Otherwise null and why.
    /// </summary>
    public static IReadOnlyList<PinnedKey>? Follow(IReadOnlyList<PinnedKey> pins, ServerKeySet published, string wantedKid, DateTimeOffset now, out string? error)
    {
        ArgumentNullException.ThrowIfNull(pins);
        ArgumentNullException.ThrowIfNull(published);
        ArgumentNullException.ThrowIfNull(wantedKid);
        var trusted = pins.Where(p => p.TrustedUntil is not { } until || until > now).ToList();
        var pinnedNames = string.Join(", ", pins.Select(p => p.Jwk.Kid));
        bool extended;
        do
        {
            extended = false;
            foreach (var endorsement in published.Endorsements)
            {
                var keys = trusted.Select(p => p.Jwk).ToList();
                if (PolicyBundle.VerifyEndorsement(endorsement, keys, now, out _) is not { } successor ||
                    trusted.Any(p => p.Jwk.Kid == successor.Kid))
                {
                    continue;
                }

                var signed = PolicyBundle.Verify(endorsement, keys, now, null, PolicyBundle.EndorsementType);
                var endorser = trusted.FindIndex(p => p.Jwk.Kid == signed.Kid);
                if (endorser >= 0 && signed.ExpiresAt is { } expires)
                {
                    var until = trusted[endorser].TrustedUntil is { } earlier && earlier < expires ? earlier : expires;
                    trusted[endorser] = trusted[endorser] with { TrustedUntil = until };
                }

                trusted.Add(new PinnedKey(successor));
                extended = true;
            }
        }
        while (extended && trusted.All(p => p.Jwk.Kid != wantedKid));

        if (trusted.All(p => p.Jwk.Kid != wantedKid))
        {
            error = $"it is signed by key \"{wantedKid}\", which is neither pinned (pinned: {pinnedNames}) nor endorsed by a pinned key";
            return null;
        }

        error = null;
        return trusted;
    }
}
