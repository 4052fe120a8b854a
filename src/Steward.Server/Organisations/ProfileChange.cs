using Steward.Core.Policy;

namespace Steward.Server.Organisations;

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
