using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Steward.Core.Policy;
using Steward.Server.Audit;
using Steward.Server.Hosting;
using Steward.Server.Http;
using Steward.Server.Identity;
using Steward.Server.Registry;
using Steward.Server.Storage;

namespace Steward.Server.Organisations;

/// <summary>
/// The organisation's profile, accounts and account profiles (admin API). Every change is validated (422 naming the
/// field), audited with before and after in its transaction, and raises the profile's revision.
/// </summary>
internal static partial class ProfilesApi
{
    public const int MaxBodyBytes = 16 * 1024;
    public const long MinSyncIntervalSeconds = 60;
    public const long MaxSyncIntervalSeconds = 30L * 24 * 3600;
    public const long MaxOfflineAgeSeconds = 365L * 24 * 3600;

    private static readonly string[] ProfileFields =
        ["mcpEnabled", "webToolsEnabled", "registryMode", "registryUrl", "syncIntervalSeconds", "maxOfflineAgeSeconds", "modelControlEnabled", "auditToolArguments", "toolRules"];

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

    internal static async Task<IResult> GetOrganisationProfileAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var profile = await Profiles.FindAsync(connection, null, organisation.Id, null, cancellationToken).ConfigureAwait(false);
        return profile is null
            ? Problems.Result(StatusCodes.Status404NotFound, "Not Found", "the organisation has no profile")
            : new JsonBytes(View(organisation, null, profile), StatusCodes.Status200OK);
    }

    internal static async Task<IResult> GetAccountProfileAsync(HttpContext context, Database database, CancellationToken cancellationToken)
    {
        var organisation = Authentication.OrganisationOf(context);
        var slug = context.GetRouteValue("account") as string ?? "";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var account = await Profiles.FindAccountAsync(connection, null, organisation.Id, slug, cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            return AccountNotFound(slug);
        }

        var profile = await Profiles.FindAsync(connection, null, organisation.Id, account.Id, cancellationToken).ConfigureAwait(false);
        return profile is null
            ? Problems.Result(StatusCodes.Status404NotFound, "Not Found", $"the account \"{slug}\" has no profile of its own; the organisation's profile applies to it")
            : new JsonBytes(View(organisation, account, profile), StatusCodes.Status200OK);
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
        var form = await JsonForm.ReadAsync(context.Request, MaxBodyBytes, ProfileFields, cancellationToken).ConfigureAwait(false);
        if (form.Problem is { } problem)
        {
            return problem;
        }

        var caller = Authentication.CallerOf(context);
        var organisation = Authentication.OrganisationOf(context);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var (account, accountNotFound) = await ScopeAccountAsync(connection, transaction, organisation.Id, accountSlug, cancellationToken).ConfigureAwait(false);
        if (accountNotFound is not null)
        {
            return accountNotFound;
        }

        var subject = account is null ? "profile:organisation" : "profile:account/" + account.Slug;
        var before = await Profiles.FindAsync(connection, transaction, organisation.Id, account?.Id, cancellationToken).ConfigureAwait(false);
        var baseline = before?.Settings
            ?? (await Profiles.FindAsync(connection, transaction, organisation.Id, null, cancellationToken).ConfigureAwait(false))?.Settings
            ?? ProfileSettings.Default;
        var parsed = ParseSettings(form.Root, baseline);
        if (parsed.Problem is { } invalid)
        {
            return invalid;
        }

        var settings = parsed.Settings!;
        if (before is not null && before.Settings == settings)
        {
            return new JsonBytes(View(organisation, account, before), StatusCodes.Status200OK);
        }

        StoredProfile after;
        if (before is null)
        {
            // A profile made again after a delete continues the revisions it had, so a revision id is never reused.
            var last = await connection.ScalarAsync("SELECT MAX(revision) FROM audit WHERE organisation_id = @org AND object = @object", transaction, cancellationToken,
                ("org", organisation.Id), ("object", subject)).ConfigureAwait(false);
            var revision = (last is null ? 0 : Convert.ToInt64(last, CultureInfo.InvariantCulture)) + 1;
            after = new StoredProfile(Tokens.NewId("prf"), organisation.Id, account?.Id, settings, revision, Timestamps.ToText(now));
            await connection.ExecuteAsync(
                $"INSERT INTO profiles ({StoredProfile.Columns}) VALUES (@id, @org, @account, @mcp, @web, @mode, @url, @sync, @offline, @models, @auditArguments, @revision, @at, @toolRules)",
                transaction, cancellationToken, [.. Parameters(after)]).ConfigureAwait(false);
        }
        else
        {
            after = before with { Settings = settings, Revision = before.Revision + 1, UpdatedAt = Timestamps.ToText(now) };
            await connection.ExecuteAsync(
                "UPDATE profiles SET mcp_enabled = @mcp, web_tools_enabled = @web, registry_mode = @mode, registry_url = @url, sync_interval_seconds = @sync, max_offline_seconds = @offline, model_control_enabled = @models, audit_tool_arguments = @auditArguments, tool_rules = @toolRules, revision = @revision, updated_at = @at WHERE id = @id",
                transaction, cancellationToken, [.. Parameters(after)]).ConfigureAwait(false);
        }

        // A copy of another URL (or of a registry no longer external) is never served: it goes with the change.
        var externalChanged = before is not null && (before.Settings.RegistryMode != settings.RegistryMode || before.Settings.RegistryUrl != settings.RegistryUrl);
        if (externalChanged)
        {
            await ExternalRegistries.ForgetAsync(connection, transaction, before!.Id, cancellationToken).ConfigureAwait(false);
        }

        await AuditLog.WriteAsync(connection, transaction, organisation.Id, now, caller.Actor, before is null ? "profile.create" : "profile.update", subject,
            before?.AuditView(), after.AuditView(), after.Revision, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        if (settings.RegistryMode == RegistryModes.External && (before is null || externalChanged))
        {
            // Fetched now rather than at the next tick; the admin sees the outcome at GET …/profile/registry-sync.
            (context.RequestServices.GetService(typeof(ExternalRegistrySync)) as ExternalRegistrySync)?.Kick();
        }

        return new JsonBytes(View(organisation, account, after), before is null ? StatusCodes.Status201Created : StatusCodes.Status200OK);
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
        var organisation = Authentication.OrganisationOf(context);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var accounts = await connection.QueryAsync(
            "SELECT a.id, a.organisation_id, a.slug, a.name, a.created_at, p.id FROM accounts a LEFT JOIN profiles p ON p.account_id = a.id WHERE a.organisation_id = @org AND a.deleted_at IS NULL ORDER BY a.slug",
            null, r => (Account: Account.Read(r), HasProfile: !r.IsDBNull(5)), cancellationToken, ("org", organisation.Id)).ConfigureAwait(false);
        return new JsonBytes(ResponseJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("accounts");
            foreach (var (account, hasProfile) in accounts)
            {
                WriteAccount(w, account);
                w.WriteBoolean("hasProfile", hasProfile);
                var segment = Uri.EscapeDataString(AccountUrls.Segment(box, account));
                w.WriteStartObject("urls");
                w.WriteString("registry", $"/o/{organisation.Slug}/a/{segment}/registry");
                w.WriteString("kiro", $"/o/{organisation.Slug}/a/{segment}/kiro/registry.json");
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

        var revoked = await TokensApi.RevokeAccountTokensAsync(connection, transaction, organisation.Id, account.Id, caller.Actor, now, cancellationToken).ConfigureAwait(false);
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

    private static byte[] View(Organisation organisation, Account? account, StoredProfile profile) => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        WriteScope(w, organisation, account);

        profile.Settings.WriteTo(w);
        w.WriteNumber("revision", profile.Revision);
        w.WriteString("updatedAt", profile.UpdatedAt);
        w.WriteEndObject();
    });

    private static IEnumerable<(string, object?)> Parameters(StoredProfile p)
    {
        yield return ("id", p.Id);
        yield return ("org", p.OrganisationId);
        yield return ("account", p.AccountId);
        yield return ("mcp", p.Settings.McpEnabled);
        yield return ("web", p.Settings.WebToolsEnabled);
        yield return ("mode", p.Settings.RegistryMode);
        yield return ("url", p.Settings.RegistryUrl);
        yield return ("sync", p.Settings.SyncIntervalSeconds);
        yield return ("offline", p.Settings.MaxOfflineAgeSeconds);
        yield return ("models", p.Settings.ModelControlEnabled);
        yield return ("auditArguments", p.Settings.AuditToolArguments);
        yield return ("revision", p.Revision);
        yield return ("at", p.UpdatedAt);
        yield return ("toolRules", p.Settings.ToolRulesJson);
    }

    /// <summary>
    /// The settings a body asks for over <paramref name="defaults"/> (the profile as it is: a field left out keeps
    /// its value), or the first problem, naming its field.
    /// </summary>
    internal static (ProfileSettings? Settings, IResult? Problem) ParseSettings(JsonElement root, ProfileSettings defaults)
    {
        IResult? problem = null;
        bool Bool(string field, bool fallback)
        {
            if (problem is not null || !root.TryGetProperty(field, out var value))
            {
                return fallback;
            }

            if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return value.GetBoolean();
            }

            problem = JsonForm.Invalid(field, "expected true or false", value.GetRawText());
            return fallback;
        }

        var mcp = Bool("mcpEnabled", defaults.McpEnabled);
        var web = Bool("webToolsEnabled", defaults.WebToolsEnabled);
        var models = Bool("modelControlEnabled", defaults.ModelControlEnabled);
        var auditArguments = Bool("auditToolArguments", defaults.AuditToolArguments);
        if (problem is not null)
        {
            return (null, problem);
        }

        var mode = defaults.RegistryMode;
        if (root.TryGetProperty("registryMode", out var modeElement))
        {
            if (modeElement.ValueKind != JsonValueKind.String || !RegistryModes.All.Contains(modeElement.GetString()!, StringComparer.Ordinal))
            {
                return (null, JsonForm.Invalid("registryMode", "expected one of none, hosted, external", modeElement.GetRawText()));
            }

            mode = modeElement.GetString()!;
        }

        // Left out, the URL stays with an external registry and goes with any other mode.
        var urlGiven = root.TryGetProperty("registryUrl", out var urlElement);
        var url = !urlGiven && mode == RegistryModes.External ? defaults.RegistryUrl : null;
        if (urlGiven && urlElement.ValueKind != JsonValueKind.Null)
        {
            if (urlElement.ValueKind != JsonValueKind.String || urlElement.GetString()!.Length > 2048 ||
                !Uri.TryCreate(urlElement.GetString(), UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
            {
                return (null, JsonForm.Invalid("registryUrl", "expected an absolute https URL without user information or fragment, of at most 2048 characters", urlElement.GetRawText()));
            }

            url = urlElement.GetString();
        }

        if (mode == RegistryModes.External && url is null)
        {
            return (null, JsonForm.Invalid("registryUrl", "required when registryMode is external: the URL of the registry hosts read", null));
        }

        if (mode != RegistryModes.External && url is not null)
        {
            return (null, JsonForm.Invalid("registryUrl", $"only allowed when registryMode is external (it is {mode})", urlElement.GetRawText()));
        }

        var sync = defaults.SyncIntervalSeconds;
        if (root.TryGetProperty("syncIntervalSeconds", out var syncElement))
        {
            if (!JsonForm.TryInteger(syncElement, out sync) || sync < MinSyncIntervalSeconds || sync > MaxSyncIntervalSeconds)
            {
                return (null, JsonForm.Invalid("syncIntervalSeconds", $"expected whole seconds from {MinSyncIntervalSeconds} to {MaxSyncIntervalSeconds} (30 days)", syncElement.GetRawText()));
            }
        }

        var offlineGiven = root.TryGetProperty("maxOfflineAgeSeconds", out var offlineElement);
        var offline = offlineGiven ? null : defaults.MaxOfflineAgeSeconds;
        if (!offlineGiven && offline is { } kept && kept < sync)
        {
            return (null, JsonForm.Invalid("maxOfflineAgeSeconds",
                $"the profile's maximum offline age ({kept} s) would be shorter than the new sync interval ({sync} s): set maxOfflineAgeSeconds too (null, or at least the sync interval)", null));
        }

        if (offlineGiven && offlineElement.ValueKind != JsonValueKind.Null)
        {
            if (!JsonForm.TryInteger(offlineElement, out var value) || value < sync || value > MaxOfflineAgeSeconds)
            {
                return (null, JsonForm.Invalid("maxOfflineAgeSeconds",
                    $"expected null or whole seconds from the sync interval ({sync}) to {MaxOfflineAgeSeconds} (365 days): a client must be able to sync before its policy expires",
                    offlineElement.GetRawText()));
            }

            offline = value;
        }

        var toolRules = defaults.ToolRulesJson;
        if (root.TryGetProperty("toolRules", out var rulesElement))
        {
            var (rules, ruleProblem) = ToolRuleList.Read(rulesElement);
            if (rules is null)
            {
                return (null, RuleProblem(ruleProblem!));
            }

            toolRules = ProfileSettings.RulesJson(rules);
        }

        return (defaults with
        {
            ToolRulesJson = toolRules,
            McpEnabled = mcp, WebToolsEnabled = web, RegistryMode = mode, RegistryUrl = url, SyncIntervalSeconds = sync,
            MaxOfflineAgeSeconds = offline, ModelControlEnabled = models, AuditToolArguments = auditArguments,
        }, null);
    }

    /// <summary>A 422 naming the rule's field as a JSON path (<c>$.toolRules[2].pattern: …</c>).</summary>
    internal static IResult RuleProblem(ToolRuleProblem problem) =>
        Problems.Result(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", problem.ToString(),
            [new ProblemItem { Location = "body." + problem.Path.TrimStart('$', '.'), Message = problem.Message, Value = problem.Value }]);

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$", RegexOptions.CultureInvariant)]
    internal static partial Regex Slug();
}
