namespace Steward.Server.Organisations;

/// <summary>
/// A write to a profile: the fields its body gave (<see cref="ProfileBody"/>, each already valid on its own), to be set
/// over the profile in force — checked against that profile inside the write's transaction, so it is kept as the fields
/// given rather than as settings. <see cref="RegistryUrlGiven"/> and <see cref="MaxOfflineAgeGiven"/> tell a field set
/// to null from one left out.
/// </summary>
internal sealed record ProfileChange(bool? McpEnabled, bool? WebToolsEnabled, string? RegistryMode, bool RegistryUrlGiven, string? RegistryUrl, long? SyncIntervalSeconds,
    bool MaxOfflineAgeGiven, long? MaxOfflineAgeSeconds, bool? ModelControlEnabled, bool? AuditToolArguments, string? ToolRulesJson)
{
    /// <summary>
    /// The change a body the console built asks for, validated as the API validates the same body
    /// (<paramref name="cleared"/>: the fields it sets to null), or one 422 listing every problem.
    /// </summary>
    public static Outcome<ProfileChange> Of(ProfileBody body, IReadOnlyCollection<string>? cleared = null) =>
        RequestRecord.Check(body, ServerJsonContext.Default.ProfileBody, (fields, check) => fields.Validate(check), cleared);

    /// <summary>
    /// The settings this change asks for over <paramref name="defaults"/> (the profile as it is: a field left out keeps
    /// its value), or one 422 listing every problem of the result, each naming the field to change.
    /// </summary>
    public (ProfileSettings? Settings, ProblemBody? Problem) ApplyTo(ProfileSettings defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        var check = new BodyCheck(default);
        var mode = RegistryMode ?? defaults.RegistryMode;

        // Left out, the URL stays with an external registry and goes with any other mode.
        var url = RegistryUrlGiven ? RegistryUrl : mode == RegistryModes.External ? defaults.RegistryUrl : null;
        if (mode == RegistryModes.External && url is null)
        {
            check.Add("registryUrl", "required when registryMode is external: the URL of the registry hosts read");
        }
        else if (mode != RegistryModes.External && url is not null)
        {
            check.Add("registryUrl", $"only allowed when registryMode is external (it is {mode})", BodyCheck.Json(url));
        }

        var sync = SyncIntervalSeconds ?? defaults.SyncIntervalSeconds;
        var offline = MaxOfflineAgeGiven ? MaxOfflineAgeSeconds : defaults.MaxOfflineAgeSeconds;
        if (!MaxOfflineAgeGiven && offline is { } kept && kept < sync)
        {
            check.Add("maxOfflineAgeSeconds",
                $"the profile's maximum offline age ({kept} s) would be shorter than the new sync interval ({sync} s): set maxOfflineAgeSeconds too (null, or at least the sync interval)");
        }
        else if (MaxOfflineAgeGiven && SyncIntervalSeconds is null)
        {
            // With an interval of its own, the body's offline age was checked against it already.
            ProfileBody.CheckOffline(check, offline, sync);
        }

        return check.Problem() is { } problem
            ? (null, problem)
            : (defaults with
            {
                ToolRulesJson = ToolRulesJson ?? defaults.ToolRulesJson,
                McpEnabled = McpEnabled ?? defaults.McpEnabled,
                WebToolsEnabled = WebToolsEnabled ?? defaults.WebToolsEnabled,
                RegistryMode = mode,
                RegistryUrl = url,
                SyncIntervalSeconds = sync,
                MaxOfflineAgeSeconds = offline,
                ModelControlEnabled = ModelControlEnabled ?? defaults.ModelControlEnabled,
                AuditToolArguments = AuditToolArguments ?? defaults.AuditToolArguments,
            }, null);
    }
}
