using Steward.Server.Registry;

namespace Steward.Server.Organisations;

/// <summary>
/// An account as it is listed: whether it has a profile of its own, and its anonymous Registry API base and Kiro file
/// (the keyed paths of <see cref="AccountUrls"/>, under the server's origin).
/// </summary>
internal sealed record AccountListing(Account Account, bool HasProfile, string RegistryPath, string KiroPath);

/// <summary>
/// The organisation's accounts, for the admin API (<see cref="ProfilesApi"/>) and the console alike: list, create,
/// rename, delete — each write audited in its transaction. The caller was authorised by whoever calls: the API's admin
/// filter, or the console's session gate.
/// </summary>
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

    /// <summary>Creates the account: 201 with it; 409 when the organisation already has an account of that slug.</summary>
    public static async Task<Outcome<Account>> CreateAsync(Database database, Caller caller, Organisation organisation, AccountRequest request, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentNullException.ThrowIfNull(request);
        var now = Timestamps.Now(time);
        var account = new Account(Tokens.NewId("acc"), organisation.Id, request.Slug, request.Name, Timestamps.ToText(now));
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        if (await Profiles.FindAccountAsync(connection, transaction, organisation.Id, request.Slug, cancellationToken).ConfigureAwait(false) is not null)
        {
            return Outcome<Account>.Refused(AccountExists(request.Slug));
        }

        await connection.ExecuteAsync("INSERT INTO accounts (id, organisation_id, slug, name, created_at) VALUES (@id, @org, @slug, @name, @at)", transaction, cancellationToken,
            ("id", account.Id), ("org", organisation.Id), ("slug", account.Slug), ("name", account.Name), ("at", account.CreatedAt)).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "account.create", "account:" + account.Slug, null,
            System.Text.Encoding.UTF8.GetString(View(account)), null, cancellationToken).ConfigureAwait(false);
        try
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbException)
        {
            // Another instance made the same account between our check and our commit.
            if (await ExistsAsync(database, organisation.Id, account.Slug, cancellationToken).ConfigureAwait(false))
            {
                return Outcome<Account>.Refused(AccountExists(account.Slug));
            }

            throw;
        }

        return Outcome<Account>.Done(account, StatusCodes.Status201Created);
    }

    /// <summary>
    /// Renames the account (its display name; the slug is its identifier in URLs, tokens and exports, and does not
    /// change): the account as it now is; 404 when none. The same name again changes and audits nothing.
    /// </summary>
    public static async Task<Outcome<Account>> RenameAsync(Database database, Caller caller, Organisation organisation, string slug, string name, TimeProvider time,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentNullException.ThrowIfNull(name);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var before = await Profiles.FindAccountAsync(connection, transaction, organisation.Id, slug, cancellationToken).ConfigureAwait(false);
        if (before is null)
        {
            return Outcome<Account>.Refused(Problems.BodyOf(ProfilesApi.AccountNotFound(slug)));
        }

        var after = before with { Name = name };
        if (before.Name == name)
        {
            return Outcome<Account>.Done(after);
        }

        await connection.ExecuteAsync("UPDATE accounts SET name = @name WHERE id = @id", transaction, cancellationToken, ("name", name), ("id", before.Id)).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "account.rename", "account:" + slug,
            System.Text.Encoding.UTF8.GetString(View(before)), System.Text.Encoding.UTF8.GetString(View(after)), null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Outcome<Account>.Done(after);
    }

    /// <summary>
    /// Deletes the account in one transaction — revokes its tokens (its developers get 401 from their next request),
    /// removes its own profile and sandbox default (each audited as it would be on its own), and keeps the account as a
    /// tombstone (<c>deleted_at</c>, its slug moved aside) so its tool calls and audit rows keep saying whose they were
    /// and the slug can be given to a new account. Null when done, else the 404 naming the account.
    /// </summary>
    public static async Task<ProblemBody?> DeleteAsync(Database database, Caller caller, Organisation organisation, string slug, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        var now = Timestamps.Now(time);
        var at = Timestamps.ToText(now);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var account = await Profiles.FindAccountAsync(connection, transaction, organisation.Id, slug, cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            return Problems.BodyOf(ProfilesApi.AccountNotFound(slug));
        }

        var revoked = await TokenOperations.RevokeAccountTokensAsync(connection, transaction, organisation.Id, account.Id, caller.Actor, now, cancellationToken).ConfigureAwait(false);
        if (await Profiles.FindAsync(connection, transaction, organisation.Id, account.Id, cancellationToken).ConfigureAwait(false) is { } profile)
        {
            await ExternalRegistries.ForgetAsync(connection, transaction, profile.Id, cancellationToken).ConfigureAwait(false);
            await connection.ExecuteAsync("DELETE FROM profiles WHERE id = @id", transaction, cancellationToken, ("id", profile.Id)).ConfigureAwait(false);
            await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "profile.delete", "profile:account/" + account.Slug,
                profile.AuditView(), null, profile.Revision + 1, cancellationToken).ConfigureAwait(false);
        }

        await connection.ExecuteAsync("DELETE FROM sandbox_profiles WHERE organisation_id = @org AND account_id = @account", transaction, cancellationToken,
            ("org", organisation.Id), ("account", account.Id)).ConfigureAwait(false);

        // '_' is never in a slug, so the tombstone's slug cannot meet a live one, and the old slug is free again.
        await connection.ExecuteAsync("UPDATE accounts SET slug = @tombstone, deleted_at = @at WHERE id = @id", transaction, cancellationToken,
            ("tombstone", account.Slug + "_deleted_" + account.Id), ("at", at), ("id", account.Id)).ConfigureAwait(false);
        var before = ResponseJson.Write(w =>
        {
            WriteStart(w, account);
            w.WriteNumber("tokensRevoked", revoked);
            w.WriteEndObject();
        });
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "account.delete", "account:" + account.Slug,
            System.Text.Encoding.UTF8.GetString(before), null, null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>The account as the admin API answers it and the audit records it: slug, name, when it was created.</summary>
    public static byte[] View(Account account) => ResponseJson.Write(w =>
    {
        WriteStart(w, account);
        w.WriteEndObject();
    });

    /// <summary>Starts the account's object (slug, name, createdAt), for the writer to add to and end.</summary>
    public static void WriteStart(Utf8JsonWriter w, Account account)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(account);
        w.WriteStartObject();
        w.WriteString("slug", account.Slug);
        w.WriteString("name", account.Name);
        w.WriteString("createdAt", account.CreatedAt);
    }

    private static async Task<bool> ExistsAsync(Database database, string organisationId, string slug, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await Profiles.FindAccountAsync(connection, null, organisationId, slug, cancellationToken).ConfigureAwait(false) is not null;
    }

    private static ProblemBody AccountExists(string slug) =>
        Problems.Body(StatusCodes.Status409Conflict, "Account exists", $"the organisation already has an account \"{slug}\"");
}
