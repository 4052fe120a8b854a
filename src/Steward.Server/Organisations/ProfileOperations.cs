using System.Globalization;
using Steward.Server.Registry;

namespace Steward.Server.Organisations;

/// <summary>A profile as it is shown: whose it is (the organisation's, or an account's own) and what it says.</summary>
internal sealed record ProfileView(Organisation Organisation, Account? Account, StoredProfile Profile)
{
    /// <summary>The view as the admin API answers it: scope, the settings, revision and when it was last changed.</summary>
    public byte[] ToJson() => ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        ProfilesApi.WriteScope(w, Organisation, Account);

        Profile.Settings.WriteTo(w);
        w.WriteNumber("revision", Profile.Revision);
        w.WriteString("updatedAt", Profile.UpdatedAt);
        w.WriteEndObject();
    });
}

/// <summary>
/// Reading and writing profiles, for the admin API (<see cref="ProfilesApi"/>) and the console alike: every write is
/// validated (422 naming the field), audited with before and after in its transaction, and raises the profile's revision.
/// The caller was authorised by whoever calls: the API's admin filter, or the console's session gate.
/// </summary>
internal static class ProfileOperations
{
    /// <summary>The organisation's profile (<paramref name="accountSlug"/> null) or the account's own; 404 naming what is missing.</summary>
    public static async Task<Outcome<ProfileView>> GetAsync(DbConnection connection, Organisation organisation, string? accountSlug, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(organisation);
        Account? account = null;
        if (accountSlug is not null)
        {
            account = await Profiles.FindAccountAsync(connection, null, organisation.Id, accountSlug, cancellationToken).ConfigureAwait(false);
            if (account is null)
            {
                return Outcome<ProfileView>.Refused(Problems.BodyOf(ProfilesApi.AccountNotFound(accountSlug)));
            }
        }

        var profile = await Profiles.FindAsync(connection, null, organisation.Id, account?.Id, cancellationToken).ConfigureAwait(false);
        if (profile is not null)
        {
            return Outcome<ProfileView>.Done(new ProfileView(organisation, account, profile));
        }

        return Outcome<ProfileView>.Refused(Problems.Body(StatusCodes.Status404NotFound, "Not Found", account is null
            ? "the organisation has no profile"
            : $"the account \"{accountSlug}\" has no profile of its own; the organisation's profile applies to it"));
    }

    /// <summary>
    /// What the console's tool-rule editor shows: the profile in force (the account's own when
    /// <paramref name="accountSlug"/> names one that has it, else the organisation's), the approved servers' names and
    /// the tools gateways have reported calling, which the rules are previewed against.
    /// </summary>
    public static async Task<ToolRulesView> ToolRulesAsync(Database database, Organisation organisation, string? accountSlug, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(organisation);
        await using var connection = await database.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        var profile = (await GetAsync(connection, organisation, null, cancellationToken).ConfigureAwait(false)).Value?.Profile;
        if (accountSlug is not null && (await GetAsync(connection, organisation, accountSlug, cancellationToken).ConfigureAwait(false)).Value is { } own)
        {
            profile = own.Profile;
        }

        var servers = (await Policy.AdmittedEntries.LoadAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false)).Select(e => e.Name).Distinct(StringComparer.Ordinal);
        var tools = await ToolCallOperations.KnownToolsAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        return new ToolRulesView(profile, [.. servers], tools);
    }

    /// <summary>
    /// <c>PUT</c> (or <c>PATCH</c>) sets the fields the body names and leaves every other field as it is — never a
    /// silent reset to a default. An account profile is created by its first write, starting from what the account had
    /// until then: the organisation's settings. <c>registryUrl</c> left out is kept while the mode stays external and
    /// dropped when the body moves the mode away from it.
    /// </summary>
    public static async Task<Outcome<ProfileView>> UpdateAsync(Database database, Caller caller, Organisation organisation, string? accountSlug, ProfileChange change,
        TimeProvider time, ExternalRegistrySync? sync, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(organisation);
        ArgumentNullException.ThrowIfNull(change);
        var now = Timestamps.Now(time);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await database.BeginOrganisationWriteAsync(connection, organisation.Id, cancellationToken).ConfigureAwait(false);
        var (account, accountNotFound) = await ProfilesApi.ScopeAccountAsync(connection, transaction, organisation.Id, accountSlug, cancellationToken).ConfigureAwait(false);
        if (accountNotFound is not null)
        {
            return Outcome<ProfileView>.Refused(Problems.BodyOf(accountNotFound));
        }

        var subject = account is null ? "profile:organisation" : "profile:account/" + account.Slug;
        var before = await Profiles.FindAsync(connection, transaction, organisation.Id, account?.Id, cancellationToken).ConfigureAwait(false);
        var baseline = before?.Settings
            ?? (await Profiles.FindAsync(connection, transaction, organisation.Id, null, cancellationToken).ConfigureAwait(false))?.Settings
            ?? ProfileSettings.Default;
        var parsed = change.ApplyTo(baseline);
        if (parsed.Problem is { } invalid)
        {
            return Outcome<ProfileView>.Refused(invalid);
        }

        var settings = parsed.Settings!;
        if (before is not null && before.Settings == settings)
        {
            return Outcome<ProfileView>.Done(new ProfileView(organisation, account, before));
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
            sync?.Kick();
        }

        return Outcome<ProfileView>.Done(new ProfileView(organisation, account, after), before is null ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

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
}
