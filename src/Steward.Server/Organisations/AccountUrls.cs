using System.Security.Cryptography;
using System.Text;

namespace Steward.Server.Organisations;

/// <summary>
/// The anonymous per-account URLs (the account's Registry API base <c>/o/{org}/a/{segment}/registry</c> and its Kiro file
/// <c>/o/{org}/a/{segment}/kiro/registry.json</c>) name the account as <c>{slug}~{key}</c>: the slug for people, and a
/// key only this server can make (an HMAC of the organisation and account ids under the key encryption key, 128 bits),
/// so that these URLs, which hosts read without credentials, do not tell whether an account exists. A bare slug, a wrong
/// key and an account that does not exist get the same 404. The key is stable (it is derived, not stored) and changes
/// only with the key encryption key or when the account is deleted and made again.
/// </summary>
internal static class AccountUrls
{
    public const char Separator = '~';

    private const string Purpose = "steward-account-url";

    /// <summary>The path segment that names <paramref name="account"/> in its anonymous URLs.</summary>
    public static string Segment(SecretBox box, Account account)
    {
        ArgumentNullException.ThrowIfNull(box);
        ArgumentNullException.ThrowIfNull(account);
        return account.Slug + Separator + box.Tag(Purpose, account.OrganisationId + "\n" + account.Id);
    }

    /// <summary>The account a path segment names, when its key is right; null otherwise (whatever was wrong).</summary>
    public static async Task<Account?> ResolveAsync(DbConnection connection, SecretBox box, string organisationId, string segment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(box);
        ArgumentNullException.ThrowIfNull(segment);
        var at = segment.LastIndexOf(Separator);
        if (at <= 0 || at == segment.Length - 1)
        {
            return null;
        }

        var account = await Profiles.FindAccountAsync(connection, null, organisationId, segment[..at], cancellationToken).ConfigureAwait(false);
        var expected = account is null ? "" : box.Tag(Purpose, account.OrganisationId + "\n" + account.Id);
        var presented = segment[(at + 1)..];
        return account is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(presented), Encoding.ASCII.GetBytes(expected))
            ? account
            : null;
    }
}
