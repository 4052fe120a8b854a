using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Steward.Core.Policy;
using Steward.Server.Audit;
using Steward.Server.Hosting;
using Steward.Server.Http;
using Steward.Server.Identity;
using Steward.Server.Registry;
using Steward.Server.Storage;

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
/// A write to a profile: the fields its body names (a JSON object of the profile's fields only, read strictly), to be
/// set over the profile in force — checked against that profile inside the write's transaction, so it is kept as the
/// fields given rather than as settings.
/// </summary>
internal sealed record ProfileChange(JsonElement Fields)
{
    public static readonly IReadOnlyList<string> Names =
        ["mcpEnabled", "webToolsEnabled", "registryMode", "registryUrl", "syncIntervalSeconds", "maxOfflineAgeSeconds", "modelControlEnabled", "auditToolArguments", "toolRules"];

    /// <summary>The change a body asks for (at most <see cref="ProfilesApi.MaxBodyBytes"/>), or why it is not one: 413, 400, or 422 for an unknown field.</summary>
    public static Outcome<ProfileChange> Read(byte[] body) => Read(JsonForm.Parse(body, ProfilesApi.MaxBodyBytes, [.. Names]));

    public static Outcome<ProfileChange> Read(JsonForm form)
    {
        ArgumentNullException.ThrowIfNull(form);
        return form.Problem is { } problem ? Outcome<ProfileChange>.Refused(Problems.BodyOf(problem)) : Outcome<ProfileChange>.Done(new ProfileChange(form.Root));
    }

    /// <summary>
    /// The settings this change asks for over <paramref name="defaults"/> (the profile as it is: a field left out keeps
    /// its value), or the first problem, naming its field.
    /// </summary>
    public (ProfileSettings? Settings, ProblemBody? Problem) ApplyTo(ProfileSettings defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        var root = Fields;
        ProblemBody? problem = null;
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

            problem = JsonForm.FieldProblem(field, "expected true or false", value.GetRawText());
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
                return (null, JsonForm.FieldProblem("registryMode", "expected one of none, hosted, external", modeElement.GetRawText()));
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
                return (null, JsonForm.FieldProblem("registryUrl", "expected an absolute https URL without user information or fragment, of at most 2048 characters", urlElement.GetRawText()));
            }

            url = urlElement.GetString();
        }

        if (mode == RegistryModes.External && url is null)
        {
            return (null, JsonForm.FieldProblem("registryUrl", "required when registryMode is external: the URL of the registry hosts read", null));
        }

        if (mode != RegistryModes.External && url is not null)
        {
            return (null, JsonForm.FieldProblem("registryUrl", $"only allowed when registryMode is external (it is {mode})", urlElement.GetRawText()));
        }

        var sync = defaults.SyncIntervalSeconds;
        if (root.TryGetProperty("syncIntervalSeconds", out var syncElement))
        {
            if (!JsonForm.TryInteger(syncElement, out sync) || sync < ProfilesApi.MinSyncIntervalSeconds || sync > ProfilesApi.MaxSyncIntervalSeconds)
            {
                return (null, JsonForm.FieldProblem("syncIntervalSeconds", $"expected whole seconds from {ProfilesApi.MinSyncIntervalSeconds} to {ProfilesApi.MaxSyncIntervalSeconds} (30 days)", syncElement.GetRawText()));
            }
        }

        var offlineGiven = root.TryGetProperty("maxOfflineAgeSeconds", out var offlineElement);
        var offline = offlineGiven ? null : defaults.MaxOfflineAgeSeconds;
        if (!offlineGiven && offline is { } kept && kept < sync)
        {
            return (null, JsonForm.FieldProblem("maxOfflineAgeSeconds",
                $"the profile's maximum offline age ({kept} s) would be shorter than the new sync interval ({sync} s): set maxOfflineAgeSeconds too (null, or at least the sync interval)", null));
        }

        if (offlineGiven && offlineElement.ValueKind != JsonValueKind.Null)
        {
            if (!JsonForm.TryInteger(offlineElement, out var value) || value < sync || value > ProfilesApi.MaxOfflineAgeSeconds)
            {
                return (null, JsonForm.FieldProblem("maxOfflineAgeSeconds",
                    $"expected null or whole seconds from the sync interval ({sync}) to {ProfilesApi.MaxOfflineAgeSeconds} (365 days): a client must be able to sync before its policy expires",
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
    private static ProblemBody RuleProblem(ToolRuleProblem problem) =>
        Problems.Body(StatusCodes.Status422UnprocessableEntity, "Unprocessable Entity", problem.ToString(),
            [new ProblemItem { Location = "body." + problem.Path.TrimStart('$', '.'), Message = problem.Message, Value = problem.Value }]);
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
