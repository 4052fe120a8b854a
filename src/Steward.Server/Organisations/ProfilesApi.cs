using System.Data.Common;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Steward.Server.Audit;
using Steward.Server.Hosting;
using Steward.Server.Http;
using Steward.Server.Identity;
using Steward.Server.Registry;
using Steward.Server.Storage;

namespace Steward.Server.Organisations;

/// <summary>
/// The organisation's profile, accounts and account profiles (admin API). Every change is validated (422 naming the
/// field), audited with before and after in its transaction, and raises the profile's revision; profile reads and
/// writes are <see cref="ProfileOperations"/>, which the console calls too.
/// </summary>
internal static partial class ProfilesApi
{
    public const int MaxBodyBytes = 16 * 1024;
    public const long MinSyncIntervalSeconds = 60;
    public const long MaxSyncIntervalSeconds = 30L * 24 * 3600;
    public const long MaxOfflineAgeSeconds = 365L * 24 * 3600;

    public static void Map(RouteGroupBuilder organisation)
    {
        organisation.MapGet("/profile", GetOrganisationProfileAsync);
        organisation.MapPut("/profile", PutOrganisationProfileAsync);
        organisation.MapPatch("/profile", PutOrganisationProfileAsync);
        organisation.MapGet("/accounts", ListAccountsAsync);
        organisation.MapPost("/accounts", CreateAccountAsync);
        organisation.MapPatch("/accounts/{account}", RenameAccountAsync);
        organisation.MapDelete("/accounts/{account}", DeleteAccountAsync);
        organisation.MapGet("/accounts/{account}/profile", GetAccountProfileAsync);
        organisation.MapPut("/accounts/{account}/profile", PutAccountProfileAsync);
        organisation.MapPatch("/accounts/{account}/profile", PutAccountProfileAsync);
        organisation.MapDelete("/accounts/{account}/profile", DeleteAccountProfileAsync);
    }

    internal static async Task<IResult> GetOrganisationProfileAsync(HttpContext context, Database database, CancellationToken cancellationToken) =>
        await GetAsync(context, database, null, cancellationToken).ConfigureAwait(false);

    internal static async Task<IResult> GetAccountProfileAsync(HttpContext context, Database database, CancellationToken cancellationToken) =>
        await GetAsync(context, database, context.GetRouteValue("account") as string ?? "", cancellationToken).ConfigureAwait(false);

    private static async Task<IResult> GetAsync(HttpContext context, Database database, string? accountSlug, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var outcome = await ProfileOperations.GetAsync(connection, organisation, accountSlug, cancellationToken).ConfigureAwait(false);
        return outcome.ToResult(view => view.ToJson());
    }

    internal static async Task<IResult> PutOrganisationProfileAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken) =>
        await PutAsync(context, database, time, null, cancellationToken).ConfigureAwait(false);

    internal static async Task<IResult> PutAccountProfileAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken) =>
        await PutAsync(context, database, time, context.GetRouteValue("account") as string ?? "", cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// <c>PUT</c> (or <c>PATCH</c>) sets the fields the body names and leaves every other field as it is — never a
    /// silent reset to a default. An account profile is created by its first write, starting from what the account had
    /// until then: the organisation's settings. <c>registryUrl</c> left out is kept while the mode stays external and
    /// dropped when the body moves the mode away from it.
    /// </summary>
    private static async Task<IResult> PutAsync(HttpContext context, Database database, TimeProvider time, string? accountSlug, CancellationToken cancellationToken)
    {
        var change = ProfileChange.Read(await JsonForm.ReadAsync(context.Request, MaxBodyBytes, ProfileChange.Names, cancellationToken).ConfigureAwait(false));
        if (!change.Ok)
        {
            return Problems.Of(change.Problem);
        }

        var outcome = await ProfileOperations.UpdateAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), accountSlug, change.Value,
            time, context.RequestServices.GetService(typeof(ExternalRegistrySync)) as ExternalRegistrySync, cancellationToken).ConfigureAwait(false);
        return outcome.ToResult(view => view.ToJson());
    }

    /// <summary><c>DELETE …/accounts/{account}/profile</c>: the account goes back to the organisation's profile. 204; 404 when it had none.</summary>
    internal static async Task<IResult> DeleteAccountProfileAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var slug = context.GetRouteValue("account") as string ?? "";
        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var account = await Profiles.FindAccountAsync(connection, transaction, organisation.Id, slug, cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            return AccountNotFound(slug);
        }

        var before = await Profiles.FindAsync(connection, transaction, organisation.Id, account.Id, cancellationToken).ConfigureAwait(false);
        if (before is null)
        {
            return Problems.Result(StatusCodes.Status404NotFound, "Not Found", $"the account \"{slug}\" has no profile of its own");
        }

        await connection.ExecuteAsync("DELETE FROM profiles WHERE id = @id", transaction, cancellationToken, ("id", before.Id)).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "profile.delete", "profile:account/" + account.Slug,
            before.AuditView(), null, before.Revision + 1, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Results.NoContent();
    }

    /// <summary>
    /// <c>GET …/accounts</c>: each account with whether it has its own profile and its anonymous URLs (the keyed ones of
    /// <see cref="AccountUrls"/>, as paths under the server's origin).
    /// </summary>
    internal static async Task<IResult> ListAccountsAsync(HttpContext context, Database database, Identity.SecretBox box, CancellationToken cancellationToken)
    {
        var accounts = await AccountOperations.ListAsync(database, Authentication.OrganisationOf(context), box, cancellationToken).ConfigureAwait(false);
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("accounts");
            foreach (var listing in accounts)
            {
                WriteAccount(w, listing.Account);
                w.WriteBoolean("hasProfile", listing.HasProfile);
                w.WriteStartObject("urls");
                w.WriteString("registry", listing.RegistryPath);
                w.WriteString("kiro", listing.KiroPath);
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }), StatusCodes.Status200OK);
    }

    /// <summary><c>POST …/accounts</c> with <c>{"slug": "platform", "name": "Platform team"}</c>: 201; 409 when the slug is taken.</summary>
    internal static async Task<IResult> CreateAccountAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var form = await JsonForm.ReadAsync(context.Request, MaxBodyBytes, ["slug", "name"], cancellationToken).ConfigureAwait(false);
        if (form.Problem is { } problem)
        {
            return problem;
        }

        if (!form.Root.TryGetProperty("slug", out var slugElement) || slugElement.ValueKind != JsonValueKind.String || !Slug().IsMatch(slugElement.GetString()!))
        {
            return JsonForm.Invalid("slug", "expected 1 to 63 lowercase letters, digits and '-', starting with a letter or digit", slugElement.ValueKind == JsonValueKind.Undefined ? null : slugElement.GetRawText());
        }

        var slug = slugElement.GetString()!;
        var name = slug;
        if (form.Root.TryGetProperty("name", out var nameElement))
        {
            if (nameElement.ValueKind != JsonValueKind.String || nameElement.GetString()!.Trim() is not { Length: > 0 and <= 200 } trimmed)
            {
                return JsonForm.Invalid("name", "expected a string of 1 to 200 characters", nameElement.GetRawText());
            }

            name = trimmed;
        }

        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        var account = new Account(Tokens.NewId("acc"), organisation.Id, slug, name, Timestamps.ToText(now));
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        if (await Profiles.FindAccountAsync(connection, transaction, organisation.Id, slug, cancellationToken).ConfigureAwait(false) is not null)
        {
            return AccountExists(slug);
        }

        await connection.ExecuteAsync("INSERT INTO accounts (id, organisation_id, slug, name, created_at) VALUES (@id, @org, @slug, @name, @at)", transaction, cancellationToken,
            ("id", account.Id), ("org", organisation.Id), ("slug", slug), ("name", name), ("at", account.CreatedAt)).ConfigureAwait(false);
        var view = ResponseJson.Write(w =>
        {
            WriteAccount(w, account);
            w.WriteEndObject();
        });
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "account.create", "account:" + slug, null,
            System.Text.Encoding.UTF8.GetString(view), null, cancellationToken).ConfigureAwait(false);
        try
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbException)
        {
            // Another instance made the same account between our check and our commit.
            if (await AccountExistsAsync(database, organisation.Id, slug, cancellationToken).ConfigureAwait(false))
            {
                return AccountExists(slug);
            }

            throw;
        }

        context.Response.Headers.Location = $"/api/v1/orgs/{organisation.Slug}/accounts/{slug}/profile";
        return new JsonBytes(view, StatusCodes.Status201Created);
    }

    /// <summary>
    /// <c>PATCH …/accounts/{account}</c> with <c>{"name": "Platform team"}</c>: renames the account (its display name;
    /// the slug is its identifier in URLs, tokens and exports, and does not change). 200 with the account; 404 when none.
    /// </summary>
    internal static async Task<IResult> RenameAccountAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var slug = context.GetRouteValue("account") as string ?? "";
        var form = await JsonForm.ReadAsync(context.Request, MaxBodyBytes, ["name"], cancellationToken).ConfigureAwait(false);
        if (form.Problem is { } problem)
        {
            return problem;
        }

        if (!form.Root.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String || nameElement.GetString()!.Trim() is not { Length: > 0 and <= 200 } name)
        {
            return JsonForm.Invalid("name", "expected a string of 1 to 200 characters: the account's new name (its slug stays)", nameElement.ValueKind == JsonValueKind.Undefined ? null : nameElement.GetRawText());
        }

        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var before = await Profiles.FindAccountAsync(connection, transaction, organisation.Id, slug, cancellationToken).ConfigureAwait(false);
        if (before is null)
        {
            return AccountNotFound(slug);
        }

        var after = before with { Name = name };
        var view = AccountView(after);
        if (before.Name == name)
        {
            return new JsonBytes(view, StatusCodes.Status200OK);
        }

        await connection.ExecuteAsync("UPDATE accounts SET name = @name WHERE id = @id", transaction, cancellationToken, ("name", name), ("id", before.Id)).ConfigureAwait(false);
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "account.rename", "account:" + slug,
            System.Text.Encoding.UTF8.GetString(AccountView(before)), System.Text.Encoding.UTF8.GetString(view), null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new JsonBytes(view, StatusCodes.Status200OK);
    }

    /// <summary>
    /// <c>DELETE …/accounts/{account}</c>: deletes the account in one transaction — revokes its tokens (its developers
    /// get 401 from their next request), removes its own profile and sandbox default (each audited as it would be on its
    /// own), and keeps the account as a tombstone (<c>deleted_at</c>, its slug moved aside) so its tool calls and audit
    /// rows keep saying whose they were and the slug can be given to a new account. 204; 404 when none.
    /// </summary>
    internal static async Task<IResult> DeleteAccountAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var slug = context.GetRouteValue("account") as string ?? "";
        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        var at = Timestamps.ToText(now);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var account = await Profiles.FindAccountAsync(connection, transaction, organisation.Id, slug, cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            return AccountNotFound(slug);
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
            WriteAccount(w, account);
            w.WriteNumber("tokensRevoked", revoked);
            w.WriteEndObject();
        });
        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, "account.delete", "account:" + account.Slug,
            System.Text.Encoding.UTF8.GetString(before), null, null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Results.NoContent();
    }

    private static byte[] AccountView(Account account) => ResponseJson.Write(w =>
    {
        WriteAccount(w, account);
        w.WriteEndObject();
    });

    private static async Task<bool> AccountExistsAsync(Database database, string organisationId, string slug, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await Profiles.FindAccountAsync(connection, null, organisationId, slug, cancellationToken).ConfigureAwait(false) is not null;
    }

    private static IResult AccountExists(string slug) =>
        Problems.Result(StatusCodes.Status409Conflict, "Account exists", $"the organisation already has an account \"{slug}\"");

    internal static IResult AccountNotFound(string slug) =>
        Problems.Result(StatusCodes.Status404NotFound, "Account not found", $"there is no account \"{slug}\" in this organisation");

    /// <summary>
    /// The account a route is scoped to: none for the organisation's own scope (<paramref name="slug"/> null), else the
    /// organisation's account of that slug, or the 404 that names it when there is none.
    /// </summary>
    internal static async Task<(Account? Account, IResult? NotFound)> ScopeAccountAsync(DbConnection connection, DbTransaction? transaction, string organisationId, string? slug, CancellationToken cancellationToken)
    {
        if (slug is null)
        {
            return (null, null);
        }

        var account = await Profiles.FindAccountAsync(connection, transaction, organisationId, slug, cancellationToken).ConfigureAwait(false);
        return account is null ? (null, AccountNotFound(slug)) : (account, null);
    }

    private static void WriteAccount(Utf8JsonWriter w, Account account)
    {
        w.WriteStartObject();
        w.WriteString("slug", account.Slug);
        w.WriteString("name", account.Name);
        w.WriteString("createdAt", account.CreatedAt);
    }

    /// <summary>
    /// Whose settings a view shows: <c>scope</c> (<c>organisation</c> or <c>account</c>), the organisation's slug, and
    /// the account's (null for the organisation's own). The profile and its model policy are shown alike.
    /// </summary>
    internal static void WriteScope(Utf8JsonWriter w, Organisation organisation, Account? account)
    {
        w.WriteString("scope", account is null ? "organisation" : "account");
        w.WriteString("organisation", organisation.Slug);
        if (account is null)
        {
            w.WriteNull("account");
        }
        else
        {
            w.WriteString("account", account.Slug);
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$", RegexOptions.CultureInvariant)]
    internal static partial Regex Slug();
}
