using System.Globalization;
using Steward.Core.Policy;

namespace Steward.Server.Organisations;

/// <summary>
/// The body of <c>PUT</c>/<c>PATCH …/profile</c> as it arrives: any of the profile's fields, read by
/// <see cref="RequestRecord"/> (a field of the wrong type is reported there and is null here). A field left out keeps
/// its value, so what the body gives matters as much as what it says; <see cref="Validate"/> keeps both.
/// </summary>
internal sealed record ProfileBody(bool? McpEnabled, bool? WebToolsEnabled, string? RegistryMode, string? RegistryUrl, long? SyncIntervalSeconds,
    long? MaxOfflineAgeSeconds, bool? ModelControlEnabled, bool? AuditToolArguments, JsonElement? ToolRules)
{
    private static readonly JsonElement Null = JsonDocument.Parse("null").RootElement.Clone();

    /// <summary>
    /// The change this body asks for, or null with every problem added to <paramref name="check"/>, each at its path.
    /// What depends on the profile in force (a URL an external registry needs, a kept offline age against a new
    /// interval) is checked by <see cref="ProfileChange.ApplyTo"/>, inside the write's transaction.
    /// </summary>
    public ProfileChange? Validate(BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        var mcp = check.Flag("mcpEnabled", McpEnabled);
        var web = check.Flag("webToolsEnabled", WebToolsEnabled);
        var mode = Mode(check);
        if (RegistryUrl is not null && !IsRegistryUrl(RegistryUrl))
        {
            check.Add("registryUrl", "expected an absolute https URL without user information or fragment, of at most 2048 characters", BodyCheck.Json(RegistryUrl));
        }

        var sync = check.Whole("syncIntervalSeconds", SyncIntervalSeconds, ProfilesApi.MinSyncIntervalSeconds, ProfilesApi.MaxSyncIntervalSeconds,
            $"expected whole seconds from {ProfilesApi.MinSyncIntervalSeconds} to {ProfilesApi.MaxSyncIntervalSeconds} (30 days)");
        if (sync is { } interval)
        {
            // The interval is the body's own: the offline age is checked against it now, not against the profile in force.
            CheckOffline(check, MaxOfflineAgeSeconds, interval);
        }

        var models = check.Flag("modelControlEnabled", ModelControlEnabled);
        var auditArguments = check.Flag("auditToolArguments", AuditToolArguments);
        var rules = Rules(check);
        return check.Count > 0
            ? null
            : new ProfileChange(mcp, web, mode, check.Given("registryUrl"), RegistryUrl, sync, check.Given("maxOfflineAgeSeconds"), MaxOfflineAgeSeconds, models,
                auditArguments, rules);
    }

    /// <summary>
    /// Reports <paramref name="offline"/> (given, not null) when it is shorter than <paramref name="sync"/> or longer than
    /// a year: a client must be able to sync before its policy expires.
    /// </summary>
    internal static void CheckOffline(BodyCheck check, long? offline, long sync)
    {
        if (offline is { } value && (value < sync || value > ProfilesApi.MaxOfflineAgeSeconds) && !check.Reported("maxOfflineAgeSeconds"))
        {
            check.Add("maxOfflineAgeSeconds",
                $"expected null or whole seconds from the sync interval ({sync}) to {ProfilesApi.MaxOfflineAgeSeconds} (365 days): a client must be able to sync before its policy expires",
                value.ToString(CultureInfo.InvariantCulture));
        }
    }

    private string? Mode(BodyCheck check)
    {
        if (!check.Given("registryMode") || check.Reported("registryMode"))
        {
            return null;
        }

        if (RegistryMode is null || !RegistryModes.All.Contains(RegistryMode, StringComparer.Ordinal))
        {
            check.Add("registryMode", "expected one of none, hosted, external", BodyCheck.Json(RegistryMode) ?? "null");
            return null;
        }

        return RegistryMode;
    }

    // Not UrlRules' "https, or http to loopback": this server fetches the URL for every developer, and a loopback registry
    // would be the server's own machine, not one an admin publishes; so https only, loopback included.
    private static bool IsRegistryUrl(string url) =>
        url.Length <= 2048 && Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps && uri.UserInfo.Length == 0 && uri.Fragment.Length == 0;

    /// <summary>The rules' canonical JSON, or null when the body leaves them out (or with the first rule's problem at its path, <c>$.toolRules[2].pattern</c>).</summary>
    private string? Rules(BodyCheck check)
    {
        if (!check.Given("toolRules"))
        {
            return null;
        }

        var (rules, problem) = ToolRuleList.Read(ToolRules ?? Null);
        if (rules is null)
        {
            check.Add(problem!.Path, problem.Message, problem.Value);
            return null;
        }

        return ProfileSettings.RulesJson(rules);
    }
}
