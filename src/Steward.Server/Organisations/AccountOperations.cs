using Steward.Server.Identity;
using Steward.Server.Storage;

namespace Steward.Server.Organisations;

/// <summary>
/// An account as it is listed: whether it has a profile of its own, and its anonymous Registry API base and Kiro file
/// (the keyed paths of <see cref="AccountUrls"/>, under the server's origin).
/// </summary>
internal sealed record AccountListing(Account Account, bool HasProfile, string RegistryPath, string KiroPath);

/// <summary>The organisation's accounts, for the admin API (<see cref="ProfilesApi"/>) and the console alike.</summary>
internal static class AccountOperations
{
    /// <summary>Every live account of the organisation, by slug.</summary>
    public static async Task<List<AccountListing>> ListAsync(Database database, Organisation organisation, SecretBox box, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(organisation);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var accounts = await connection.QueryAsync(
            "SELECT a.id, a.organisation_id, a.slug, a.name, a.created_at, p.id FROM accounts a LEFT JOIN profiles p ON p.account_id = a.id WHERE a.organisation_id = @org AND a.deleted_at IS NULL ORDER BY a.slug",
            null, r => (Account: Account.Read(r), HasProfile: !r.IsDBNull(5)), cancellationToken, ("org", organisation.Id)).ConfigureAwait(false);
        return [.. accounts.Select(a =>
        {
            var segment = Uri.EscapeDataString(AccountUrls.Segment(box, a.Account));
            return new AccountListing(a.Account, a.HasProfile, $"/o/{organisation.Slug}/a/{segment}/registry", $"/o/{organisation.Slug}/a/{segment}/kiro/registry.json");
        })];
    }
}
