using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Steward.Core.Policy;

namespace Steward.Server.Policy;

/// <summary>A signing key as published: its JWK, and until when it stays in the JWKS once retired (null: active).</summary>
internal sealed record PublishedKey(EcPublicJwk Jwk, string CreatedAt, string? RetiredAt, string? PublishedUntil, string? Endorsement)
{
    public bool Active => RetiredAt is null;
}

/// <summary>
/// The server's ES256 signing keys. One is active (signs every bundle); retired keys stay in the JWKS until their
/// <c>published_until</c>. Private keys are stored in the database as PKCS#8 sealed with AES-256-GCM under the key
/// encryption key (<see cref="KeyEncryptionKey"/>), the key id as associated data, so a database dump alone does not
/// give the signing key, and a row cannot be swapped for another's.
/// </summary>
internal sealed class SigningKeys(Database database, TimeProvider time, byte[] keyEncryptionKey) : IDisposable
{
    private const string SealedPrefix = "v1.";
    private readonly ConcurrentDictionary<string, ECDsa> _private = new(StringComparer.Ordinal);

    /// <summary>Creates the first key when there is none (first start; several instances starting at once make one).</summary>
    public async Task<bool> EnsureAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await Database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        if (database.Dialect == Dialect.Postgres)
        {
            await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(5480003)", transaction, cancellationToken).ConfigureAwait(false);
        }

        var active = await connection.QueryAsync("SELECT kid, private_key FROM signing_keys WHERE retired_at IS NULL", transaction,
            r => (Kid: r.GetString(0), Sealed: r.GetString(1)), cancellationToken).ConfigureAwait(false);
        if (active.Count > 0)
        {
            // Fails the start when this instance's key encryption key is not the one the keys were sealed with.
            _ = Unseal(active[0].Kid, active[0].Sealed);
            return false;
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await InsertAsync(connection, transaction, key, Timestamps.Now(time), null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>The active key: its id and a signer (cached per key id; rotation on another instance is seen at the next request).</summary>
    public async Task<(string Kid, ECDsa Key)> ActiveAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync("SELECT kid, private_key FROM signing_keys WHERE retired_at IS NULL", null,
            r => (Kid: r.GetString(0), Sealed: r.GetString(1)), cancellationToken).ConfigureAwait(false);
        if (rows.Count != 1)
        {
            throw new InvalidOperationException($"expected one active signing key, found {rows.Count}");
        }

        var (kid, sealedKey) = rows[0];
        return (kid, _private.GetOrAdd(kid, _ => Unseal(kid, sealedKey)));
    }

    /// <summary>The keys to publish at <paramref name="now"/>: the active one first, then retired ones still in their grace period, newest first.</summary>
    public async Task<IReadOnlyList<PublishedKey>> PublishedAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QueryAsync(
            "SELECT public_jwk, created_at, retired_at, published_until, endorsement FROM signing_keys WHERE retired_at IS NULL OR published_until > @now ORDER BY (retired_at IS NULL) DESC, created_at DESC, kid",
            null, r => new PublishedKey(EcPublicJwk.ParseKeys(r.GetString(0))[0], r.GetString(1), r.NullableString(2), r.NullableString(3), r.NullableString(4)),
            cancellationToken, ("now", Timestamps.ToText(now))).ConfigureAwait(false);
    }

    /// <summary>
    /// Makes a new active key inside the caller's transaction; the previous one is retired, stays published until
    /// <paramref name="publishedUntil"/>, and endorses its successor (a JWS the previous key signs over the new JWK).
    /// </summary>
    public async Task<(PublishedKey Previous, PublishedKey Next)> RotateAsync(DbConnection connection, DbTransaction transaction, DateTimeOffset now, DateTimeOffset publishedUntil, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (database.Dialect == Dialect.Postgres)
        {
            await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(5480003)", transaction, cancellationToken).ConfigureAwait(false);
        }

        var rows = await connection.QueryAsync("SELECT kid, private_key, public_jwk, created_at FROM signing_keys WHERE retired_at IS NULL", transaction,
            r => (Kid: r.GetString(0), Sealed: r.GetString(1), Jwk: r.GetString(2), CreatedAt: r.GetString(3)), cancellationToken).ConfigureAwait(false);
        if (rows.Count != 1)
        {
            throw new InvalidOperationException($"expected one active signing key, found {rows.Count}");
        }

        var previous = rows[0];
        var at = Timestamps.ToText(now);
        var until = Timestamps.ToText(publishedUntil);
        await connection.ExecuteAsync("UPDATE signing_keys SET retired_at = @at, published_until = @until WHERE kid = @kid", transaction, cancellationToken,
            ("at", at), ("until", until), ("kid", previous.Kid)).ConfigureAwait(false);
        using var retiring = Unseal(previous.Kid, previous.Sealed);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var jwk = EcPublicJwk.FromKey(key);
        var endorsement = PolicyBundle.Endorse(jwk, retiring, previous.Kid, now, publishedUntil);
        await InsertAsync(connection, transaction, key, now, endorsement, cancellationToken).ConfigureAwait(false);
        return (new PublishedKey(EcPublicJwk.ParseKeys(previous.Jwk)[0], previous.CreatedAt, at, until, null), new PublishedKey(jwk, at, null, null, endorsement));
    }

    private async Task InsertAsync(DbConnection connection, DbTransaction transaction, ECDsa key, DateTimeOffset now, string? endorsement, CancellationToken cancellationToken)
    {
        var jwk = EcPublicJwk.FromKey(key);
        await connection.ExecuteAsync(
            "INSERT INTO signing_keys (kid, public_jwk, private_key, created_at, retired_at, published_until, endorsement) VALUES (@kid, @jwk, @key, @at, NULL, NULL, @endorsement)",
            transaction, cancellationToken, ("kid", jwk.Kid), ("jwk", jwk.ToJson()), ("key", Seal(jwk.Kid, key.ExportPkcs8PrivateKey())), ("at", Timestamps.ToText(now)),
            ("endorsement", endorsement)).ConfigureAwait(false);
    }

    private string Seal(string kid, byte[] pkcs8)
    {
        try
        {
            var nonce = RandomNumberGenerator.GetBytes(AesGcm.NonceByteSizes.MaxSize);
            var sealedBytes = new byte[nonce.Length + pkcs8.Length + AesGcm.TagByteSizes.MaxSize];
            nonce.CopyTo(sealedBytes, 0);
            using var aes = new AesGcm(keyEncryptionKey, AesGcm.TagByteSizes.MaxSize);
            aes.Encrypt(nonce, pkcs8, sealedBytes.AsSpan(nonce.Length, pkcs8.Length), sealedBytes.AsSpan(nonce.Length + pkcs8.Length), Encoding.UTF8.GetBytes(kid));
            return SealedPrefix + Base64Url.EncodeToString(sealedBytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    private ECDsa Unseal(string kid, string sealedText)
    {
        if (!sealedText.StartsWith(SealedPrefix, StringComparison.Ordinal))
        {
            throw new KeyEncryptionKeyException($"the signing key {kid} is stored in a form this steward does not know");
        }

        var sealedBytes = Base64Url.DecodeFromChars(sealedText.AsSpan(SealedPrefix.Length));
        var nonceSize = AesGcm.NonceByteSizes.MaxSize;
        var tagSize = AesGcm.TagByteSizes.MaxSize;
        var pkcs8 = new byte[sealedBytes.Length - nonceSize - tagSize];
        try
        {
            using var aes = new AesGcm(keyEncryptionKey, tagSize);
            aes.Decrypt(sealedBytes.AsSpan(0, nonceSize), sealedBytes.AsSpan(nonceSize, pkcs8.Length), sealedBytes.AsSpan(nonceSize + pkcs8.Length), pkcs8, Encoding.UTF8.GetBytes(kid));
            var key = ECDsa.Create();
            key.ImportPkcs8PrivateKey(pkcs8, out _);
            return key;
        }
        catch (AuthenticationTagMismatchException e)
        {
            throw new KeyEncryptionKeyException(
                $"the policy signing key {kid} cannot be decrypted with this instance's key encryption key; every instance on one database needs the same {KeyEncryptionKey.FileName} (or {KeyEncryptionKey.Variable})", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    public void Dispose()
    {
        foreach (var key in _private.Values)
        {
            key.Dispose();
        }

        _private.Clear();
        CryptographicOperations.ZeroMemory(keyEncryptionKey);
    }
}

public sealed class KeyEncryptionKeyException(string message, Exception? inner = null) : Exception(message, inner);
