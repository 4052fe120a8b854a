using System.Text;
using Steward.Core.Models;

namespace Steward.Server.Models;

/// <summary>
/// The availability policy and the group rules as JSON: the admin API's request and response bodies and the stored form.
/// <code>
/// {"controlEnabled": true, "states": {"claude-sonnet-4-6": true, "claude-opus-4-6": false}, "defaultModel": "auto",
///  "newModels": "requireApproval" | "autoEnableGaRegional", "residency": {"scopes": ["regional"], "geographies": ["EU"]} | null}
/// {"rules": [{"group": "contractors", "effect": "deny" | "allowOnly", "models": ["claude-opus-*"]}]}
/// </code>
/// </summary>
internal static class ModelPolicyJson
{
    public const string RequireApproval = "requireApproval";
    public const string AutoEnableGaRegional = "autoEnableGaRegional";

    /// <summary>
    /// Reads a policy. With a <paramref name="catalog"/> (an admin's PUT) every model name must be in it and is stored by
    /// its id; every problem is added to <paramref name="check"/> at its path. Without one (the stored form), names are kept.
    /// </summary>
    public static ModelAvailabilityPolicy Read(ModelPolicyBody body, bool controlEnabled, ModelCatalog? catalog, BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(check);
        var states = new Dictionary<string, bool>(StringComparer.OrdinalIgnoreCase);
        if (body.States is { ValueKind: not JsonValueKind.Null } statesElement)
        {
            if (statesElement.ValueKind != JsonValueKind.Object)
            {
                Problem(check, "states", "expected an object of model id to true (enabled) or false (disabled)", statesElement);
            }
            else
            {
                foreach (var state in statesElement.EnumerateObject())
                {
                    if (state.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    {
                        Problem(check, "states." + state.Name, "expected true (enabled) or false (disabled)", state.Value);
                        continue;
                    }

                    var id = state.Name;
                    if (catalog is not null)
                    {
                        if (catalog.Find(state.Name) is not { } model)
                        {
                            Problem(check, "states." + state.Name, "not a model id or alias in the catalog", null);
                            continue;
                        }

                        id = model.Id;
                    }

                    if (!states.TryAdd(id, state.Value.GetBoolean()) && states[id] != state.Value.GetBoolean())
                    {
                        Problem(check, "states." + state.Name, $"names the model \"{id}\" again with another state", null);
                    }
                }
            }
        }

        string? defaultModel = null;
        if (body.DefaultModel is { } named)
        {
            if (named.Length == 0)
            {
                check.Add("defaultModel", "expected a model id, or null for the deterministic default", BodyCheck.Json(named));
            }
            else if (catalog is not null && catalog.Find(named) is not { } model)
            {
                check.Add("defaultModel", "not a model id or alias in the catalog", Shorten(BodyCheck.Json(named)!));
            }
            else
            {
                defaultModel = catalog?.Find(named)!.Id ?? named;
            }
        }

        var newModels = NewModelRule.RequireApproval;
        switch (body.NewModels)
        {
            case null or RequireApproval:
                break;
            case AutoEnableGaRegional:
                newModels = NewModelRule.AutoEnableGaRegional;
                break;
            default:
                check.Add("newModels", $"expected \"{RequireApproval}\" or \"{AutoEnableGaRegional}\"", Shorten(BodyCheck.Json(body.NewModels)!));
                break;
        }

        ResidencyRule? residency = null;
        if (body.Residency is { ValueKind: not JsonValueKind.Null } residencyElement)
        {
            residency = ReadResidency(residencyElement, check);
        }

        if (catalog is not null && controlEnabled)
        {
            // Control on: every model has an explicit state. A model the body leaves out is disabled, never "all".
            foreach (var model in catalog.Models)
            {
                states.TryAdd(model.Id, false);
            }
        }

        return new ModelAvailabilityPolicy
        {
            ControlEnabled = controlEnabled,
            States = states,
            DefaultModel = defaultModel,
            NewModels = newModels,
            Residency = residency,
        };
    }

    private static ResidencyRule? ReadResidency(JsonElement element, BodyCheck check)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            Problem(check, "residency", "expected null or {\"scopes\": [\"regional\", \"global\"], \"geographies\": [\"US\", \"EU\"]}", element);
            return null;
        }

        foreach (var member in element.EnumerateObject())
        {
            if (member.Name is not ("scopes" or "geographies"))
            {
                Problem(check, "residency." + member.Name, "unknown field; expected scopes, geographies", null);
            }
        }

        var scopes = new HashSet<InferenceScope>();
        if (!element.TryGetProperty("scopes", out var scopesElement) || scopesElement.ValueKind != JsonValueKind.Array)
        {
            Problem(check, "residency.scopes", "expected an array of \"regional\" and \"global\"", scopesElement.ValueKind == JsonValueKind.Undefined ? null : scopesElement);
        }
        else
        {
            var index = 0;
            foreach (var scope in scopesElement.EnumerateArray())
            {
                switch (scope.ValueKind == JsonValueKind.String ? scope.GetString() : null)
                {
                    case "regional":
                        scopes.Add(InferenceScope.Regional);
                        break;
                    case "global":
                        scopes.Add(InferenceScope.Global);
                        break;
                    default:
                        Problem(check, $"residency.scopes[{index}]", "expected \"regional\" or \"global\"", scope);
                        break;
                }

                index++;
            }
        }

        var geographies = new List<string>();
        if (element.TryGetProperty("geographies", out var geographiesElement) && geographiesElement.ValueKind != JsonValueKind.Null)
        {
            if (geographiesElement.ValueKind != JsonValueKind.Array)
            {
                Problem(check, "residency.geographies", "expected an array of geographies such as [\"EU\"], in order of preference", geographiesElement);
            }
            else
            {
                var index = 0;
                foreach (var geography in geographiesElement.EnumerateArray())
                {
                    if (geography.ValueKind != JsonValueKind.String || geography.GetString() is not { Length: > 0 and <= 32 } text || text.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '-'))
                    {
                        Problem(check, $"residency.geographies[{index}]", "expected a geography code such as \"US\" or \"EU\" (letters, digits and '-')", geography);
                    }
                    else if (!geographies.Contains(text, StringComparer.OrdinalIgnoreCase))
                    {
                        geographies.Add(text);
                    }

                    index++;
                }
            }
        }

        if (scopes.Contains(InferenceScope.Regional) && geographies.Count == 0)
        {
            Problem(check, "residency.geographies", "the regional scope needs at least one geography (an empty list never means \"all\")", null);
        }

        return new ResidencyRule(scopes, geographies);
    }

    /// <summary>The stored form: everything but the control switch, which is the profile's <c>model_control_enabled</c>.</summary>
    public static string Stored(ModelAvailabilityPolicy policy) => Encoding.UTF8.GetString(ResponseJson.Write(w =>
    {
        w.WriteStartObject();
        WriteFields(w, policy);
        w.WriteEndObject();
    }));

    public static ModelAvailabilityPolicy FromStored(string? json, bool controlEnabled)
    {
        if (json is null)
        {
            return new ModelAvailabilityPolicy { ControlEnabled = controlEnabled };
        }

        // Stored only after validation: read as the body it was, without a catalog, so the names are kept.
        var stored = JsonSerializer.Deserialize(json, ServerJsonContext.Default.ModelPolicyBody) ?? throw new InvalidDataException("a stored model policy read as null");
        return Read(stored, controlEnabled, null, new BodyCheck(default));
    }

    public static void WriteFields(Utf8JsonWriter w, ModelAvailabilityPolicy policy)
    {
        w.WriteStartObject("states");
        foreach (var (id, enabled) in policy.States.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            w.WriteBoolean(id, enabled);
        }

        w.WriteEndObject();
        if (policy.DefaultModel is null)
        {
            w.WriteNull("defaultModel");
        }
        else
        {
            w.WriteString("defaultModel", policy.DefaultModel);
        }

        w.WriteString("newModels", policy.NewModels == NewModelRule.AutoEnableGaRegional ? AutoEnableGaRegional : RequireApproval);
        if (policy.Residency is not { } residency)
        {
            w.WriteNull("residency");
        }
        else
        {
            w.WriteStartObject("residency");
            w.WriteStartArray("scopes");
            foreach (var scope in residency.AllowedScopes.Order())
            {
                w.WriteStringValue(ModelExplainer.ScopeName(scope));
            }

            w.WriteEndArray();
            w.WriteStartArray("geographies");
            foreach (var geography in residency.AllowedGeographies)
            {
                w.WriteStringValue(geography);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }
    }

    /// <summary>
    /// Reads group rules (<paramref name="rulesElement"/>, the <c>rules</c> array; null when left out), every problem added
    /// to <paramref name="check"/> at its path; with a catalog, every name must be a model (or a glob matching at least
    /// one): a rule that silently matches nothing is refused.
    /// </summary>
    public static List<GroupModelRule> ReadGroups(JsonElement? rulesElement, ModelCatalog? catalog, BodyCheck check)
    {
        ArgumentNullException.ThrowIfNull(check);
        var rules = new List<GroupModelRule>();
        if (rulesElement is not { ValueKind: JsonValueKind.Array })
        {
            Problem(check, "rules", "expected an array of {\"group\", \"effect\", \"models\"}", rulesElement);
            return rules;
        }

        var index = 0;
        foreach (var rule in rulesElement.Value.EnumerateArray())
        {
            var at = $"rules[{index++}]";
            if (rule.ValueKind != JsonValueKind.Object)
            {
                Problem(check, at, "expected {\"group\", \"effect\", \"models\"}", rule);
                continue;
            }

            foreach (var member in rule.EnumerateObject())
            {
                if (member.Name is not ("group" or "effect" or "models"))
                {
                    Problem(check, $"{at}.{member.Name}", "unknown field; expected group, effect, models", null);
                }
            }

            string? group = null;
            if (!rule.TryGetProperty("group", out var groupElement) || groupElement.ValueKind != JsonValueKind.String || groupElement.GetString()!.Trim() is not { Length: > 0 and <= 200 })
            {
                Problem(check, at + ".group", "expected the group's name (1 to 200 characters)", groupElement.ValueKind == JsonValueKind.Undefined ? null : groupElement);
            }
            else
            {
                group = groupElement.GetString()!.Trim();
            }

            GroupRuleEffect? effect = null;
            switch (rule.TryGetProperty("effect", out var effectElement) && effectElement.ValueKind == JsonValueKind.String ? effectElement.GetString() : null)
            {
                case "deny":
                    effect = GroupRuleEffect.Deny;
                    break;
                case "allowOnly":
                    effect = GroupRuleEffect.AllowOnly;
                    break;
                default:
                    Problem(check, at + ".effect", "expected \"deny\" or \"allowOnly\"", effectElement.ValueKind == JsonValueKind.Undefined ? null : effectElement);
                    break;
            }

            var models = new List<string>();
            if (!rule.TryGetProperty("models", out var modelsElement) || modelsElement.ValueKind != JsonValueKind.Array)
            {
                Problem(check, at + ".models", "expected an array of model ids, aliases or globs such as \"claude-opus-*\"", modelsElement.ValueKind == JsonValueKind.Undefined ? null : modelsElement);
            }
            else
            {
                var m = 0;
                foreach (var model in modelsElement.EnumerateArray())
                {
                    var modelAt = $"{at}.models[{m++}]";
                    if (model.ValueKind != JsonValueKind.String || model.GetString() is not { Length: > 0 and <= 200 } pattern)
                    {
                        Problem(check, modelAt, "expected a model id, alias or glob", model);
                        continue;
                    }

                    if (catalog is not null && !catalog.Models.Any(entry => ModelEvaluator.PatternMatches(pattern, entry)))
                    {
                        Problem(check, modelAt, "matches no model in the catalog", model);
                        continue;
                    }

                    models.Add(pattern);
                }
            }

            if (group is not null && effect is { } e)
            {
                rules.Add(new GroupModelRule(group, e, models));
            }
        }

        return rules;
    }

    public static string StoredGroups(IReadOnlyList<GroupModelRule> rules) => Encoding.UTF8.GetString(ResponseJson.Write(w => WriteGroups(w, rules)));

    public static void WriteGroups(Utf8JsonWriter w, IReadOnlyList<GroupModelRule> rules)
    {
        w.WriteStartObject();
        w.WriteStartArray("rules");
        foreach (var rule in rules)
        {
            w.WriteStartObject();
            w.WriteString("group", rule.Group);
            w.WriteString("effect", rule.Effect == GroupRuleEffect.Deny ? "deny" : "allowOnly");
            w.WriteStartArray("models");
            foreach (var model in rule.Models)
            {
                w.WriteStringValue(model);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static List<GroupModelRule> FromStoredGroups(string? json)
    {
        if (json is null)
        {
            return [];
        }

        using var document = JsonDocument.Parse(json);
        return ReadGroups(document.RootElement.TryGetProperty("rules", out var stored) ? stored : null, null, new BodyCheck(default));
    }

    private static void Problem(BodyCheck check, string field, string message, JsonElement? value) =>
        check.Add(field, message, value is { ValueKind: not JsonValueKind.Undefined } v ? Shorten(v.GetRawText()) : null);

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";
}
