using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Steward.Core.Policy;

/// <summary>
/// An EC P-256 public key as a JWK (RFC 7517/7518): <c>{"kty":"EC","crv":"P-256","x":…,"y":…,"kid":…,"use":"sig","alg":"ES256"}</c>.
/// The <see cref="Kid"/> the server gives a key is its RFC 7638 thumbprint, so a key id cannot be reused for another key.
/// </summary>
public sealed record EcPublicJwk(string Kid, string X, string Y)
{
    public const string KeyType = "EC";
    public const string Curve = "P-256";
    public const string Use = "sig";

    /// <summary>The public part of a P-256 key, with its thumbprint as the key id.</summary>
    public static EcPublicJwk FromKey(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var parameters = key.ExportParameters(includePrivateParameters: false);
        if (parameters.Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value || parameters.Q.X is not { Length: 32 } || parameters.Q.Y is not { Length: 32 })
        {
            throw new ArgumentException("the key is not an EC P-256 key", nameof(key));
        }

        var x = Base64Url.EncodeToString(parameters.Q.X);
        var y = Base64Url.EncodeToString(parameters.Q.Y);
        return new EcPublicJwk(Thumbprint(x, y), x, y);
    }

    /// <summary>The RFC 7638 thumbprint: base64url SHA-256 of <c>{"crv":"P-256","kty":"EC","x":…,"y":…}</c>.</summary>
    public static string Thumbprint(string x, string y) =>
        Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes($"{{\"crv\":\"{Curve}\",\"kty\":\"{KeyType}\",\"x\":\"{x}\",\"y\":\"{y}\"}}")));

    /// <summary>True when <see cref="Kid"/> is the thumbprint of the key's coordinates.</summary>
    public bool KidIsThumbprint => string.Equals(Kid, Thumbprint(X, Y), StringComparison.Ordinal);

    /// <summary>A verifier for this key; throws <see cref="CryptographicException"/> when the point is not on the curve.</summary>
    public ECDsa ToECDsa()
    {
        var parameters = new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64Url.DecodeFromChars(X), Y = Base64Url.DecodeFromChars(Y) },
        };
        parameters.Validate();
        return ECDsa.Create(parameters);
    }

    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("kty", KeyType);
        writer.WriteString("crv", Curve);
        writer.WriteString("x", X);
        writer.WriteString("y", Y);
        writer.WriteString("kid", Kid);
        writer.WriteString("use", Use);
        writer.WriteString("alg", PolicyBundle.Algorithm);
        writer.WriteEndObject();
    }

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteTo(writer);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>One JWK object; null (with the reason) unless it is an EC P-256 signing key with 32-byte coordinates.</summary>
    public static EcPublicJwk? Parse(JsonElement jwk, out string? error)
    {
        error = null;
        if (jwk.ValueKind != JsonValueKind.Object)
        {
            error = "a JWK must be a JSON object";
            return null;
        }

        string? Text(string name) => jwk.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        if (Text("kty") != KeyType || Text("crv") != Curve)
        {
            error = "the key is not kty EC with crv P-256";
            return null;
        }

        if (Text("use") is { } use && use != Use)
        {
            error = $"the key's use is \"{use}\", not \"sig\"";
            return null;
        }

        if (Text("alg") is { } alg && alg != PolicyBundle.Algorithm)
        {
            error = $"the key's alg is \"{alg}\", not ES256";
            return null;
        }

        var x = Text("x");
        var y = Text("y");
        if (x is null || y is null || !IsCoordinate(x) || !IsCoordinate(y))
        {
            error = "the key's x and y must be base64url-encoded 32-byte coordinates";
            return null;
        }

        return new EcPublicJwk(Text("kid") ?? Thumbprint(x, y), x, y);
    }

    /// <summary>A JWK (<c>{"kty":…}</c>) or a JWK Set (<c>{"keys":[…]}</c>) as JSON text: its EC P-256 keys.</summary>
    public static IReadOnlyList<EcPublicJwk> ParseKeys(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("keys", out var keys) && keys.ValueKind == JsonValueKind.Array)
        {
            return [.. keys.EnumerateArray().Select(k => Parse(k, out _)).OfType<EcPublicJwk>()];
        }

        return Parse(root, out _) is { } key ? [key] : [];
    }

    private static bool IsCoordinate(string text) => Base64Url.IsValid(text, out var length) && length == 32;
}

/// <summary>What verifying a bundle gave: the payload and its times, or why it is refused.</summary>
public sealed record PolicyVerification
{
    public bool IsValid => Error is null;

    /// <summary>Why the bundle is refused; null when it is valid.</summary>
    public string? Error { get; init; }

    /// <summary>The key that signed it (from the protected header).</summary>
    public string? Kid { get; init; }

    /// <summary>The payload's JSON bytes, exactly as signed.</summary>
    public byte[]? Payload { get; init; }

    public DateTimeOffset? IssuedAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }

    internal static PolicyVerification Refused(string error, string? kid = null) => new() { Error = error, Kid = kid };
}

/// <summary>
/// The signed policy bundle: a compact JWS (RFC 7515) with ES256 (ECDSA P-256, SHA-256, signature <c>r||s</c>),
/// <c>base64url(header).base64url(payload).base64url(signature)</c>. The header is <c>{"alg":"ES256","kid":…,"typ":…}</c>;
/// the payload is a JSON object with at least <c>iat</c> and <c>exp</c> (seconds since the epoch, as in JWT).
/// Signing and verifying need nothing but System.Security.Cryptography, so the agent verifies without the server.
/// </summary>
public static class PolicyBundle
{
    public const string Algorithm = "ES256";

    /// <summary>The <c>typ</c> of a policy bundle.</summary>
    public const string BundleType = "steward-policy+jws";

    /// <summary>The <c>typ</c> of a key endorsement: a retiring key vouching for its successor.</summary>
    public const string EndorsementType = "steward-key-endorsement+jws";

    /// <summary>The media type of a compact JWS (RFC 7515, section 9.2.1).</summary>
    public const string MediaType = "application/jose";

    /// <summary>Bundles larger than this are refused before any parsing: 16 MiB.</summary>
    public const int MaxLength = 16 * 1024 * 1024;

    /// <summary>How far the two clocks may disagree when checking <c>iat</c> and <c>exp</c>.</summary>
    public static readonly TimeSpan DefaultClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>The signing input <c>base64url(header).base64url(payload)</c> for a payload signed by <paramref name="kid"/>.</summary>
    public static string SigningInput(ReadOnlySpan<byte> payload, string kid, string type = BundleType)
    {
        ArgumentNullException.ThrowIfNull(kid);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("alg", Algorithm);
            writer.WriteString("kid", kid);
            writer.WriteString("typ", type);
            writer.WriteEndObject();
        }

        return Base64Url.EncodeToString(buffer.ToArray()) + "." + Base64Url.EncodeToString(payload);
    }

    /// <summary>Signs a JSON payload: the compact JWS.</summary>
    public static string Sign(ReadOnlySpan<byte> payload, ECDsa key, string kid, string type = BundleType) =>
        SignInput(SigningInput(payload, kid, type), key);

    /// <summary>Appends the ES256 signature of a signing input made by <see cref="SigningInput"/>.</summary>
    public static string SignInput(string signingInput, ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(signingInput);
        ArgumentNullException.ThrowIfNull(key);
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>
    /// Verifies a policy bundle against the trusted (pinned) keys at <paramref name="now"/>: the header is ES256 with a
    /// <c>kid</c> among <paramref name="trusted"/> and the expected <c>typ</c>, the signature verifies, and the payload
    /// is a JSON object whose <c>iat</c> is not in the future and whose <c>exp</c> has not passed (both within
    /// <paramref name="clockSkew"/>). Never throws on a malformed bundle.
    /// </summary>
    public static PolicyVerification Verify(string compact, IEnumerable<EcPublicJwk> trusted, DateTimeOffset now, TimeSpan? clockSkew = null, string type = BundleType)
    {
        ArgumentNullException.ThrowIfNull(trusted);
        if (string.IsNullOrEmpty(compact))
        {
            return PolicyVerification.Refused("the bundle is empty");
        }

        if (compact.Length > MaxLength)
        {
            return PolicyVerification.Refused($"the bundle is over {MaxLength} characters");
        }

        var parts = compact.Trim().Split('.');
        if (parts.Length != 3)
        {
            return PolicyVerification.Refused($"a compact JWS has 3 dot-separated parts; this has {parts.Length}");
        }

        if (!TryDecode(parts[0], out var headerBytes) || !TryDecode(parts[1], out var payload) || !TryDecode(parts[2], out var signature))
        {
            return PolicyVerification.Refused("a part of the JWS is not base64url");
        }

        if (!System.Text.Unicode.Utf8.IsValid(headerBytes) || !System.Text.Unicode.Utf8.IsValid(payload))
        {
            // JsonDocument checks string contents only when they are read: refuse before anything is read.
            return PolicyVerification.Refused($"the JWS {(System.Text.Unicode.Utf8.IsValid(headerBytes) ? "payload" : "header")} is not valid UTF-8");
        }

        string kid;
        try
        {
            using var header = JsonDocument.Parse(headerBytes);
            var root = header.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return PolicyVerification.Refused("the JWS header is not a JSON object");
            }

            if (!root.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String || alg.GetString() != Algorithm)
            {
                return PolicyVerification.Refused("the JWS header's alg is not ES256");
            }

            if (root.TryGetProperty("crit", out _))
            {
                return PolicyVerification.Refused("the JWS header has critical extensions, which Steward does not understand");
            }

            if (!root.TryGetProperty("kid", out var kidElement) || kidElement.ValueKind != JsonValueKind.String || kidElement.GetString() is not { Length: > 0 } k)
            {
                return PolicyVerification.Refused("the JWS header has no kid");
            }

            kid = k;
            if (!root.TryGetProperty("typ", out var typ) || typ.ValueKind != JsonValueKind.String || typ.GetString() != type)
            {
                return PolicyVerification.Refused($"the JWS header's typ is not \"{type}\"", kid);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string escape that is not valid Unicode (a lone surrogate).
            return PolicyVerification.Refused("the JWS header is not JSON");
        }

        var key = trusted.FirstOrDefault(t => string.Equals(t.Kid, kid, StringComparison.Ordinal));
        if (key is null)
        {
            return PolicyVerification.Refused($"the bundle is signed by key \"{kid}\", which is not a trusted (pinned) key", kid);
        }

        if (signature.Length != 64)
        {
            return PolicyVerification.Refused("an ES256 signature is 64 bytes (r||s)", kid);
        }

        try
        {
            using var verifier = key.ToECDsa();
            var input = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
            if (!verifier.VerifyData(input, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            {
                return PolicyVerification.Refused($"the signature does not verify with key \"{kid}\"", kid);
            }
        }
        catch (CryptographicException)
        {
            return PolicyVerification.Refused($"the trusted key \"{kid}\" is not a valid P-256 public key", kid);
        }

        DateTimeOffset issuedAt;
        DateTimeOffset expiresAt;
        try
        {
            using var document = JsonDocument.Parse(payload);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return PolicyVerification.Refused("the payload is not a JSON object", kid);
            }

            if (!TryReadTime(root, "iat", out issuedAt) || !TryReadTime(root, "exp", out expiresAt))
            {
                return PolicyVerification.Refused("the payload needs iat and exp as whole seconds since 1970-01-01T00:00:00Z", kid);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return PolicyVerification.Refused("the payload is not JSON", kid);
        }

        var skew = clockSkew ?? DefaultClockSkew;
        if (issuedAt > now + skew)
        {
            return PolicyVerification.Refused($"the bundle was issued at {issuedAt:O}, in the future (this clock says {now:O})", kid);
        }

        if (expiresAt <= now - skew)
        {
            return PolicyVerification.Refused($"the bundle expired at {expiresAt:O}", kid);
        }

        return new PolicyVerification { Kid = kid, Payload = payload, IssuedAt = issuedAt, ExpiresAt = expiresAt };
    }

    /// <summary>
    /// A key endorsement: the retiring key signs <c>{"iat","exp","jwk":{…successor…}}</c>, so a client that pinned the
    /// retiring key can verify the successor and pin it without trusting the network.
    /// </summary>
    public static string Endorse(EcPublicJwk successor, ECDsa retiringKey, string retiringKid, DateTimeOffset issuedAt, DateTimeOffset expiresAt)
    {
        ArgumentNullException.ThrowIfNull(successor);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("iat", issuedAt.ToUnixTimeSeconds());
            writer.WriteNumber("exp", expiresAt.ToUnixTimeSeconds());
            writer.WritePropertyName("jwk");
            successor.WriteTo(writer);
            writer.WriteEndObject();
        }

        return Sign(buffer.ToArray(), retiringKey, retiringKid, EndorsementType);
    }

    /// <summary>The successor key an endorsement vouches for, when it is signed by a trusted key and not expired; else null and the reason.</summary>
    public static EcPublicJwk? VerifyEndorsement(string compact, IEnumerable<EcPublicJwk> trusted, DateTimeOffset now, out string? error)
    {
        var result = Verify(compact, trusted, now, null, EndorsementType);
        if (!result.IsValid)
        {
            error = result.Error;
            return null;
        }

        using var document = JsonDocument.Parse(result.Payload);
        if (!document.RootElement.TryGetProperty("jwk", out var jwk))
        {
            error = "the endorsement has no jwk";
            return null;
        }

        if (EcPublicJwk.Parse(jwk, out error) is not { } key)
        {
            return null;
        }

        if (!key.KidIsThumbprint)
        {
            error = "the endorsed key's kid is not its RFC 7638 thumbprint";
            return null;
        }

        error = null;
        return key;
    }

    private static bool TryDecode(string part, out byte[] bytes)
    {
        bytes = [];
        if (part.Length == 0 || !Base64Url.IsValid(part))
        {
            return false;
        }

        bytes = Base64Url.DecodeFromChars(part);
        return true;
    }

    private static bool TryReadTime(JsonElement root, string name, out DateTimeOffset value)
    {
        value = default;
        if (!root.TryGetProperty(name, out var element) || element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var seconds) ||
            seconds < 0 || seconds > 253402300799)
        {
            return false;
        }

        value = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }
}
