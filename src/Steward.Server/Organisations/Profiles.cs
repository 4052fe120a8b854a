using Steward.Core.Policy;

namespace Steward.Server.Organisations;

public static class RegistryModes
{
    public const string None = "none";
    public const string Hosted = "hosted";
    public const string External = "external";

    public static readonly IReadOnlyList<string> All = [None, Hosted, External];
}

/// <summary>
/// The shared settings of a profile. Registry mode: <c>none</c> (no allowlist: the profile does not restrict which
/// servers run), <c>hosted</c> (the allowlist is this organisation's registry), <c>external</c> (the allowlist is the
/// registry at <see cref="RegistryUrl"/>).
/// </summary>
public sealed record ProfileSettings(
    bool McpEnabled,
    bool WebToolsEnabled,
    string RegistryMode,
    string? RegistryUrl,
    long SyncIntervalSeconds,
    long? MaxOfflineAgeSeconds,
    bool ModelControlEnabled,
    bool AuditToolArguments = false,
    string ToolRulesJson = "[]")
{
    public const long DefaultSyncIntervalSeconds = 24 * 3600;

    /// <summary>
    /// The profile's tool rules, in order (<c>{pattern, effect, reason?}</c>, deny wins). Kept as their canonical JSON
    /// (<see cref="ToolRulesJson"/>) so that two settings with the same rules are equal and a write that changes nothing is
    /// recognised as such.
    /// </summary>
    public IReadOnlyList<ToolRule> ToolRules => ToolRulesJson == "[]" ? [] : ReadRules(ToolRulesJson);

    /// <summary>The canonical JSON of <paramref name="rules"/> as stored and compared.</summary>
    public static string RulesJson(IReadOnlyList<ToolRule> rules) =>
        System.Text.Encoding.UTF8.GetString(ResponseJson.Write(w => ToolRule.WriteList(w, rules)));

    private static IReadOnlyList<ToolRule> ReadRules(string json)
    {
        using var document = JsonDocument.Parse(json);
        // Stored only after validation; a row edited by hand into something invalid denies nothing rather than failing every bundle.
        return ToolRuleList.Read(document.RootElement).Rules ?? [];
    }

    /// <summary>The settings as the bundle's profile writes them (<paramref name="scope"/>: organisation or account).</summary>
    public BundleProfile ToBundle(string scope) =>
        new(scope, McpEnabled, WebToolsEnabled, RegistryMode, RegistryUrl, SyncIntervalSeconds, MaxOfflineAgeSeconds, ModelControlEnabled, AuditToolArguments)
        {
            ToolRules = ToolRules,
        };

    public static ProfileSettings Default { get; } = new(true, true, RegistryModes.Hosted, null, DefaultSyncIntervalSeconds, null, false);

    public void WriteTo(Utf8JsonWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteBoolean("mcpEnabled", McpEnabled);
        w.WriteBoolean("webToolsEnabled", WebToolsEnabled);
        w.WriteString("registryMode", RegistryMode);
        if (RegistryUrl is null)
        {
            w.WriteNull("registryUrl");
        }
        else
        {
            w.WriteString("registryUrl", RegistryUrl);
        }

        w.WriteNumber("syncIntervalSeconds", SyncIntervalSeconds);
        if (MaxOfflineAgeSeconds is { } max)
        {
            w.WriteNumber("maxOfflineAgeSeconds", max);
        }
        else
        {
            w.WriteNull("maxOfflineAgeSeconds");
        }

        w.WriteBoolean("modelControlEnabled", ModelControlEnabled);
        w.WriteBoolean("auditToolArguments", AuditToolArguments);
        w.WritePropertyName("toolRules");
        w.WriteRawValue(ToolRulesJson, skipInputValidation: true);
    }
}

/// <summary>A stored profile: the organisation's (<see cref="AccountId"/> null) or an account's.</summary>
public sealed record StoredProfile(string Id, string OrganisationId, string? AccountId, ProfileSettings Settings, long Revision, string UpdatedAt)
{
    public const string Columns = "id, organisation_id, account_id, mcp_enabled, web_tools_enabled, registry_mode, registry_url, sync_interval_seconds, max_offline_seconds, model_control_enabled, audit_tool_arguments, revision, updated_at, tool_rules";

    public static StoredProfile Read(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), r.NullableString(2),
        new ProfileSettings(r.Boolean(3), r.Boolean(4), r.GetString(5), r.NullableString(6), r.Int64(7), r.NullableInt64(8), r.Boolean(9), r.Boolean(10), r.GetString(13)),
        r.Int64(11), r.GetString(12));

    /// <summary>The audit's view of a profile: its settings and revision.</summary>
    public string AuditView() => System.Text.Encoding.UTF8.GetString(ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("scope", AccountId is null ? "organisation" : "account");
        Settings.WriteTo(w);
        w.WriteNumber("revision", Revision);
        w.WriteEndObject();
    }));
}

/// <summary>An account (a business unit) of an organisation.</summary>
public sealed record Account(string Id, string OrganisationId, string Slug, string Name, string CreatedAt)
{
    public const string Columns = "id, organisation_id, slug, name, created_at";

    public static Account Read(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4));
}

/// <summary>The profile in force for a developer: the account's when it has one, else the organisation's.</summary>
public sealed record EffectiveProfile(Organisation Organisation, Account? Account, StoredProfile OrganisationProfile, StoredProfile? AccountProfile)
{
    public StoredProfile Profile => AccountProfile ?? OrganisationProfile;

    /// <summary>The organisation's emergency stop, when one is in force: MCP is then off whatever the profile says.</summary>
    public EmergencyStop? Stop { get; init; }

    public ProfileSettings Settings => Stop is null ? Profile.Settings : Profile.Settings with { McpEnabled = false };

    /// <summary>
    /// A revision id that changes whenever what a client receives may change: the organisation profile's revision (which
    /// every registry change raises) and the account profile's, when there is one.
    /// </summary>
    public string Revision => AccountProfile is { } account ? $"{OrganisationProfile.Revision}.{account.Revision}" : $"{OrganisationProfile.Revision}";
}

internal static class Profiles
{
    public static async Task<StoredProfile?> FindAsync(DbConnection connection, DbTransaction? transaction, string organisationId, string? accountId, CancellationToken cancellationToken)
    {
        var rows = accountId is null
            ? await connection.QueryAsync($"SELECT {StoredProfile.Columns} FROM profiles WHERE organisation_id = @org AND account_id IS NULL", transaction,
                StoredProfile.Read, cancellationToken, ("org", organisationId)).ConfigureAwait(false)
            : await connection.QueryAsync($"SELECT {StoredProfile.Columns} FROM profiles WHERE organisation_id = @org AND account_id = @account", transaction,
                StoredProfile.Read, cancellationToken, ("org", organisationId), ("account", accountId)).ConfigureAwait(false);
        return rows.Count == 1 ? rows[0] : null;
    }

    public static async Task<Account?> FindAccountAsync(DbConnection connection, DbTransaction? transaction, string organisationId, string slug, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync($"SELECT {Account.Columns} FROM accounts WHERE organisation_id = @org AND slug = @slug AND deleted_at IS NULL", transaction,
            Account.Read, cancellationToken, ("org", organisationId), ("slug", slug)).ConfigureAwait(false);
        return rows.Count == 1 ? rows[0] : null;
    }

    public static async Task<Account?> FindAccountByIdAsync(DbConnection connection, string accountId, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync($"SELECT {Account.Columns} FROM accounts WHERE id = @id", null,
            Account.Read, cancellationToken, ("id", accountId)).ConfigureAwait(false);
        return rows.Count == 1 ? rows[0] : null;
    }

    /// <summary>The effective profile of a token's holder: its account's when it has one, else its organisation's; null when the organisation is gone.</summary>
    public static async Task<EffectiveProfile?> EffectiveOfAsync(DbConnection connection, Identity.Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (await FindOrganisationByIdAsync(connection, caller.OrganisationId, cancellationToken).ConfigureAwait(false) is not { } organisation)
        {
            return null;
        }

        var account = caller.AccountId is { } accountId ? await FindAccountByIdAsync(connection, accountId, cancellationToken).ConfigureAwait(false) : null;
        return await EffectiveAsync(connection, organisation, account, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The effective profile of an organisation, or of one of its accounts. An organisation without a profile row gets the defaults.</summary>
    public static async Task<EffectiveProfile> EffectiveAsync(DbConnection connection, Organisation organisation, Account? account, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(organisation);
        var organisationProfile = await FindAsync(connection, null, organisation.Id, null, cancellationToken).ConfigureAwait(false)
            ?? new StoredProfile("", organisation.Id, null, ProfileSettings.Default, 0, "");
        var accountProfile = account is null ? null : await FindAsync(connection, null, organisation.Id, account.Id, cancellationToken).ConfigureAwait(false);
        return new EffectiveProfile(organisation, account, organisationProfile, accountProfile)
        {
            Stop = await EmergencyStops.FindAsync(connection, null, organisation.Id, cancellationToken).ConfigureAwait(false),
        };
    }

    /// <summary>The slugs of the organisation's accounts that have a profile of their own (it supersedes the organisation's for them).</summary>
    public static async Task<IReadOnlyList<string>> AccountsWithOwnProfileAsync(DbConnection connection, string organisationId, CancellationToken cancellationToken) =>
        await connection.QueryAsync(
            "SELECT a.slug FROM profiles p JOIN accounts a ON a.id = p.account_id WHERE p.organisation_id = @org AND p.account_id IS NOT NULL ORDER BY a.slug",
            null, r => r.GetString(0), cancellationToken, ("org", organisationId)).ConfigureAwait(false);

    public static async Task<Organisation?> FindOrganisationByIdAsync(DbConnection connection, string id, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync("SELECT id, slug, name FROM organisations WHERE id = @id", null,
            r => new Organisation(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken, ("id", id)).ConfigureAwait(false);
        return rows.Count == 1 ? rows[0] : null;
    }
}
