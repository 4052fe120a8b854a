using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Steward.Server.Models;

/// <summary>Where the requests for one provider's models in one placement go, and the key to present there.</summary>
internal sealed record ModelUpstream(string Provider, string Placement, Uri BaseUrl, string? ApiKey);

/// <summary>An upstream's row: its key still sealed.</summary>
internal sealed record StoredUpstream(string Provider, string Placement, string BaseUrl, string? SealedKey);

/// <summary>A stored upstream as the admin API shows it: never the key, only whether one is set.</summary>
internal sealed record UpstreamView(string Provider, string Placement, string BaseUrl, bool ApiKeySet, string UpdatedAt);

/// <summary>
/// The upstreams of the model endpoint, per provider and placement (<c>*</c> matches any). Their API keys are sealed at
/// rest with AES-256-GCM under a key kept outside the database (the file <c>model-upstreams.key</c>, 0600, in the
/// data directory, or <c>STEWARD_UPSTREAM_KEY</c>); the provider and placement are the associated data, so a sealed key
/// cannot be moved to another upstream's row.
/// </summary>
internal sealed class ModelUpstreams(byte[] sealingKey)
{
    public const string Any = "*";
    public const string KeyFileName = "model-upstreams.key";
    public const string KeyVariable = "STEWARD_UPSTREAM_KEY";
    private const string SealedPrefix = "v1:";

    private readonly ConcurrentDictionary<string, string> _opened = new(StringComparer.Ordinal);

    /// <summary>The upstream for a model's provider and placement: exact, then any placement, then any provider, then any.</summary>
    public ModelUpstream? Find(IReadOnlyList<StoredUpstream> stored, string provider, string placement)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var best = stored
            .Where(r => (r.Provider == Any || string.Equals(r.Provider, provider, StringComparison.OrdinalIgnoreCase))
                && (r.Placement == Any || string.Equals(r.Placement, placement, StringComparison.OrdinalIgnoreCase)))
            .OrderBy(r => (r.Provider == Any ? 2 : 0) + (r.Placement == Any ? 1 : 0))
            .FirstOrDefault();
        if (best is null)
        {
            return null;
        }

        var key = best.SealedKey is null ? null : _opened.GetOrAdd(best.SealedKey, s => Open(s, best.Provider, best.Placement));
        return new ModelUpstream(best.Provider, best.Placement, new Uri(best.BaseUrl), key);
    }

    public string Seal(string apiKey, string provider, string placement)
    {
        var nonce = RandomNumberGenerator.GetBytes(12);
        var plain = Encoding.UTF8.GetBytes(apiKey);
        var cipher = new byte[plain.Length];
        var tag = new byte[16];
        using var aes = new AesGcm(sealingKey, 16);
        aes.Encrypt(nonce, plain, cipher, tag, AssociatedData(provider, placement));
        return SealedPrefix + Convert.ToBase64String([.. nonce, .. tag, .. cipher]);
    }

    private string Open(string stored, string provider, string placement)
    {
        if (!stored.StartsWith(SealedPrefix, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"the key of the upstream {provider}/{placement} is not in a known sealed form");
        }

        var bytes = Convert.FromBase64String(stored[SealedPrefix.Length..]);
        var plain = new byte[bytes.Length - 28];
        using var aes = new AesGcm(sealingKey, 16);
        try
        {
            aes.Decrypt(bytes.AsSpan(0, 12), bytes.AsSpan(28), bytes.AsSpan(12, 16), plain, AssociatedData(provider, placement));
        }
        catch (AuthenticationTagMismatchException e)
        {
            throw new InvalidOperationException($"the key of the upstream {provider}/{placement} cannot be opened with this server's {KeyFileName}; set the key again", e);
        }

        return Encoding.UTF8.GetString(plain);
    }

    private static byte[] AssociatedData(string provider, string placement) => Encoding.UTF8.GetBytes($"steward-model-upstream\n{provider}\n{placement}");

    /// <summary><c>STEWARD_UPSTREAM_KEY</c> (base64 of 32 bytes) when set, else the key file in the data directory, created 0600 on first use.</summary>
    public static byte[] LoadSealingKey(string dataDir, Func<string, string?> environment) =>
        SealingKeyFile.Load(dataDir, KeyFileName, KeyVariable, "the model upstreams' API keys", environment);
}
