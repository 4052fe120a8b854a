using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Steward.Server.Identity;

public static class Roles
{
    public const string Admin = "admin";
    public const string Developer = "developer";
}

/// <summary>
/// API tokens: 256 random bits, shown once, stored only as their SHA-256. The <c>stw_</c> prefix lets secret scanners
/// recognise a leaked token.
/// </summary>
public static class Tokens
{
    public const string Prefix = "stw_";

    /// <summary>A token given through <c>STEWARD_ADMIN_TOKEN</c> must be at least this long.</summary>
    public const int MinimumLength = 24;

    /// <summary>Fewest distinct characters a chosen token may have (a generated one has about 40).</summary>
    public const int MinimumDistinctCharacters = 10;

    /// <summary>
    /// Why a token an administrator chose (<c>STEWARD_ADMIN_TOKEN</c>) is too easy to guess, or null: shorter than
    /// <see cref="MinimumLength"/>, with spaces, with fewer than <see cref="MinimumDistinctCharacters"/> distinct characters
    /// (24 × <c>a</c>, <c>abcabc…</c>), or one short piece repeated.
    /// </summary>
    public static string? Weakness(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (token.Length < MinimumLength || token.Any(char.IsWhiteSpace))
        {
            return $"the token must be at least {MinimumLength} characters without spaces";
        }

        var distinct = token.Distinct().Count();
        if (distinct < MinimumDistinctCharacters)
        {
            return $"the token is too easy to guess: it has {distinct} distinct character{(distinct == 1 ? "" : "s")}, and at least {MinimumDistinctCharacters} are needed";
        }

        for (var period = 1; period <= token.Length / 2; period++)
        {
            if (token.Length % period == 0 && Enumerable.Range(period, token.Length - period).All(i => token[i] == token[i - period]))
            {
                return $"the token is too easy to guess: it repeats \"{token[..Math.Min(period, 4)]}…\" ({period} characters)";
            }
        }

        return null;
    }

    public static string Generate() => Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    /// <summary>The stored form: lowercase hex SHA-256 of the token's UTF-8 bytes.</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>Compares a presented token's hash with a stored hash in time that does not depend on where they differ.</summary>
    public static bool Matches(string presentedHash, string storedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(presentedHash), Encoding.ASCII.GetBytes(storedHash));

    public static string NewId(string kind) => kind + "_" + Guid.CreateVersion7().ToString("N");
}
