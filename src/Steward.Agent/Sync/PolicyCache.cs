using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Steward.Agent.Files;
using Steward.Agent.Sources;
using Steward.Core.Json;
using Steward.Core.Registry;

namespace Steward.Agent.Sync;

/// <summary>What the cache holds: the last verified registry document, or signed bundle, and when the source last confirmed it.</summary>
/// <param name="ConfirmedAt">When the source last answered with this document (200 or 304): the offline age counts from here.</param>
/// <param name="Bundle">
/// For a Steward server: the compact JWS exactly as the server signed it (then <paramref name="Document"/> is empty). Its
/// signature is verified again against the pinned keys every time the cache is loaded.
/// </param>
public sealed record CachedPolicy(
    SourceKind SourceKind,
    string SourceLocation,
    string Revision,
    string? ETag,
    DateTimeOffset ConfirmedAt,
    RegistryShape Shape,
    byte[] Document,
    string? Bundle = null);

/// <summary>Reading the cache: the policy, or why there is none usable (both null: no cache yet).</summary>
public sealed record CacheRead(CachedPolicy? Policy, string? Rejected);

/// <summary>
/// <c>policy-cache.json</c>: <c>{"format", "sha256", "content"}</c>, where <c>sha256</c> is the SHA-256 of the bytes of
/// <c>content</c> exactly as they sit in the file. A cache whose hash does not match, or that cannot be read, is rejected
/// whole and treated as no cache. Written atomically, 0600. The hash detects corruption and casual edits, not an
/// attacker who can rewrite the file; for a Steward server the content holds the signed bundle itself (<c>bundle</c>,
/// the compact JWS), whose signature the loader verifies against the pinned keys, which such an attacker cannot forge.
/// </summary>
public static class PolicyCache
{
    public const string Format = "steward-policy-cache/1";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The revision of a registry document: the SHA-256 of its bytes.</summary>
    public static string RevisionOf(ReadOnlySpan<byte> document) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(document));

    public static void Write(StewardPaths paths, CachedPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(policy);
        using var content = new MemoryStream();
        using (var writer = new Utf8JsonWriter(content, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("sourceKind", PolicySource.KindName(policy.SourceKind));
            writer.WriteString("sourceLocation", policy.SourceLocation);
            writer.WriteString("revision", policy.Revision);
            if (policy.ETag is not null)
            {
                writer.WriteString("etag", policy.ETag);
            }

            writer.WriteString("confirmedAt", policy.ConfirmedAt.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
            if (policy.Bundle is { } bundle)
            {
                writer.WriteString("bundle", bundle);
            }
            else
            {
                writer.WriteString("shape", ShapeName(policy.Shape));
                writer.WritePropertyName("document");
                writer.WriteRawValue(Trimmed(policy.Document));
            }

            writer.WriteEndObject();
        }

        var contentBytes = content.ToArray();
        using var file = new MemoryStream();
        file.Write("{\"format\":\""u8);
        file.Write(Encoding.UTF8.GetBytes(Format));
        file.Write("\",\"sha256\":\""u8);
        file.Write(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(contentBytes))));
        file.Write("\",\"content\":"u8);
        file.Write(contentBytes);
        file.Write("}\n"u8);
        PrivateFiles.WriteAtomic(paths.PolicyCache, file.ToArray());
    }

    public static CacheRead Read(StewardPaths paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        byte[]? bytes;
        try
        {
            bytes = PrivateFiles.ReadIfExists(paths.PolicyCache);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new CacheRead(null, $"the policy cache cannot be read ({e.Message})");
        }

        if (bytes is null)
        {
            return new CacheRead(null, null);
        }

        var parsed = StrictJson.Parse(bytes, new JsonLimits { MaxBytes = JsonLimits.DefaultMaxBytes * 2 });
        using var document = parsed.Document;
        if (document is null || parsed.Duplicates.Count > 0)
        {
            return Rejected("it is not valid JSON");
        }

        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object ||
            !root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String || format.GetString() != Format ||
            !root.TryGetProperty("sha256", out var hash) || hash.ValueKind != JsonValueKind.String ||
            !root.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Object)
        {
            return Rejected("it is not a Steward policy cache of this version");
        }

        var expected = Convert.ToHexStringLower(SHA256.HashData(JsonMarshal.GetRawUtf8Value(content)));
        if (!string.Equals(hash.GetString(), expected, StringComparison.Ordinal))
        {
            return Rejected("its integrity hash does not match its content (it was changed or damaged)");
        }

        if (!TryString(content, "sourceKind", out var kindName) || PolicySource.ParseKind(kindName) is not { } kind ||
            !TryString(content, "sourceLocation", out var location) ||
            !TryString(content, "revision", out var revision) ||
            !TryString(content, "confirmedAt", out var confirmedText) ||
            !DateTimeOffset.TryParse(confirmedText, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var confirmedAt))
        {
            return Rejected("a field is missing or malformed");
        }

        var etag = content.TryGetProperty("etag", out var etagElement) && etagElement.ValueKind == JsonValueKind.String ? etagElement.GetString() : null;
        if (TryString(content, "bundle", out var bundle))
        {
            // The signature, not this file, vouches for a bundle: the loader verifies it against the pinned keys.
            return new CacheRead(new CachedPolicy(kind, location!, revision!, etag, confirmedAt, RegistryShape.RegistryApiPage, [], bundle), null);
        }

        if (!TryString(content, "shape", out var shapeName) || ParseShape(shapeName) is not { } shape ||
            !content.TryGetProperty("document", out var registry))
        {
            return Rejected("a field is missing or malformed");
        }

        var registryBytes = JsonMarshal.GetRawUtf8Value(registry).ToArray();
        if (!string.Equals(RevisionOf(registryBytes), revision, StringComparison.Ordinal))
        {
            return Rejected("its registry document does not match its revision");
        }

        return new CacheRead(new CachedPolicy(kind, location!, revision!, etag, confirmedAt, shape, registryBytes), null);

        static CacheRead Rejected(string why) => new(null, $"the policy cache was rejected: {why}");
    }

    private static bool TryString(JsonElement element, string name, out string? value)
    {
        value = element.TryGetProperty(name, out var property) && property.ValueKind == JsonValueKind.String ? property.GetString() : null;
        return !string.IsNullOrEmpty(value);
    }

    /// <summary>The document as cached and hashed: without a byte order mark or surrounding whitespace.</summary>
    internal static byte[] Trimmed(byte[] bytes)
    {
        var span = bytes.AsSpan();
        if (span.StartsWith("\uFEFF"u8))
        {
            span = span[3..];
        }

        span = span.Trim(" \t\r\n"u8);
        return span.Length == bytes.Length ? bytes : span.ToArray();
    }

    private static string ShapeName(RegistryShape shape) => shape switch
    {
        RegistryShape.ServerJson => "server",
        RegistryShape.ServerJsonArray => "array",
        RegistryShape.RegistryApiPage => "page",
        _ => "kiro",
    };

    private static RegistryShape? ParseShape(string? name) => name switch
    {
        "server" => RegistryShape.ServerJson,
        "array" => RegistryShape.ServerJsonArray,
        "page" => RegistryShape.RegistryApiPage,
        "kiro" => RegistryShape.KiroFile,
        _ => null,
    };
}
