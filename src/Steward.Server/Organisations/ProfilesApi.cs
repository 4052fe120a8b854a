using System.Text.RegularExpressions;
using Steward.Server.Registry;

namespace Steward.Server.Organisations;

/// <summary>
/// The organisation's profile, accounts and account profiles (admin API). Every change is validated (422 naming the
/// field), audited with before and after in its transaction, and raises the profile's revision. What each does is
/// <see cref="ProfileOperations"/> (profiles) and <see cref="AccountOperations"/> (accounts), which the console calls
/// too; this is their HTTP face.
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
        var change = await RequestRecord.ReadAsync(context.Request, MaxBodyBytes, ServerJsonContext.Default.ProfileBody, (fields, check) => fields.Validate(check), cancellationToken)
            .ConfigureAwait(false);
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
                AccountOperations.WriteStart(w, listing.Account);
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
        var request = await RequestRecord.ReadAsync(context.Request, MaxBodyBytes, ServerJsonContext.Default.NewAccount, (body, check) => body.Validate(check), cancellationToken)
            .ConfigureAwait(false);
        if (!request.Ok)
        {
            return Problems.Of(request.Problem);
        }

        var organisation = Authentication.OrganisationOf(context);
        var created = await AccountOperations.CreateAsync(database, Authentication.CallerOf(context), organisation, request.Value, time, cancellationToken).ConfigureAwait(false);
        if (created.Ok)
        {
            context.Response.Headers.Location = $"/api/v1/orgs/{organisation.Slug}/accounts/{created.Value.Slug}/profile";
        }

        return created.ToResult(AccountOperations.View);
    }

    /// <summary>
    /// <c>PATCH …/accounts/{account}</c> with <c>{"name": "Platform team"}</c>: renames the account (its display name;
    /// the slug is its identifier in URLs, tokens and exports, and does not change). 200 with the account; 404 when none.
    /// </summary>
    internal static async Task<IResult> RenameAccountAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var slug = context.GetRouteValue("account") as string ?? "";
        var request = await RequestRecord.ReadAsync(context.Request, MaxBodyBytes, ServerJsonContext.Default.AccountRename, (body, check) => body.Validate(check), cancellationToken)
            .ConfigureAwait(false);
        if (!request.Ok)
        {
            return Problems.Of(request.Problem);
        }

        var renamed = await AccountOperations.RenameAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context), slug, request.Value, time, cancellationToken)
            .ConfigureAwait(false);
        return renamed.ToResult(AccountOperations.View);
    }

    /// <summary>
    /// <c>DELETE …/accounts/{account}</c>: deletes the account, its tokens, its own profile and sandbox default, and keeps
    /// a tombstone (<see cref="AccountOperations.DeleteAsync"/>). 204; 404 when none.
    /// </summary>
    internal static async Task<IResult> DeleteAccountAsync(HttpContext context, Database database, TimeProvider time, CancellationToken cancellationToken)
    {
        var problem = await AccountOperations.DeleteAsync(database, Authentication.CallerOf(context), Authentication.OrganisationOf(context),
            context.GetRouteValue("account") as string ?? "", time, cancellationToken).ConfigureAwait(false);
        return problem is null ? Results.NoContent() : Problems.Of(problem);
    }

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
