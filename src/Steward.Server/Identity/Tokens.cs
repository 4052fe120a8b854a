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

    public static string Generate() => Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    /// <summary>The stored form: lowercase hex SHA-256 of the token's UTF-8 bytes.</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>Compares a presented token's hash with a stored hash in time that does not depend on where they differ.</summary>
    public static bool Matches(string presentedHash, string storedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(presentedHash), Encoding.ASCII.GetBytes(storedHash));

    public static string NewId(string kind) => kind + "_" + Guid.CreateVersion7().ToString("N");
}
