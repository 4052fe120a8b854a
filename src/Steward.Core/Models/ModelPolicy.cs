namespace Steward.Core.Models;

/// <summary>What happens to a model that arrives in the catalog after the administrator saved the list.</summary>
public enum NewModelRule
{
    /// <summary>New models wait until an administrator enables them.</summary>
    RequireApproval,

    /// <summary>New GA regional models arrive enabled. Non-GA, global and open-weights models never do.</summary>
    AutoEnableGaRegional,
}

/// <summary>Where inference may run: the allowed scopes and, for regional models, the allowed geographies in order of preference.</summary>
public sealed record ResidencyRule(IReadOnlySet<InferenceScope> AllowedScopes, IReadOnlyList<string> AllowedGeographies);

/// <summary>
/// The model availability of one profile. With control off every catalog model is available (the residency rule, when
/// set, still applies). With control on every model has an explicit state: a model missing from <see cref="States"/> is
/// a model that arrived after the list was saved, and <see cref="NewModels"/> decides it — an empty list never means "all".
/// </summary>
public sealed record ModelAvailabilityPolicy
{
    public bool ControlEnabled { get; init; }
    public IReadOnlyDictionary<string, bool> States { get; init; } = new Dictionary<string, bool>(StringComparer.OrdinalIgnoreCase);
    public string? DefaultModel { get; init; }
    public NewModelRule NewModels { get; init; } = NewModelRule.RequireApproval;
    public ResidencyRule? Residency { get; init; }

    public static ModelAvailabilityPolicy Uncontrolled { get; } = new();
}

public enum GroupRuleEffect
{
    /// <summary>Members may use only the listed models (of those the profile allows).</summary>
    AllowOnly,

    /// <summary>Members may not use the listed models.</summary>
    Deny,
}

/// <summary>A restriction for members of an identity-provider group. Groups only narrow; deny wins.</summary>
public sealed record GroupModelRule(string Group, GroupRuleEffect Effect, IReadOnlyList<string> Models);

/// <summary>
/// The policy that applies to one developer: the account's profile policy when the account has one (it supersedes the
/// organisation's), otherwise the organisation's; and the group rules of the groups the developer belongs to.
/// </summary>
public sealed record EffectiveModelPolicy(ModelAvailabilityPolicy Policy, IReadOnlyList<GroupModelRule> GroupRules)
{
    public static EffectiveModelPolicy For(
        ModelAvailabilityPolicy organisation,
        ModelAvailabilityPolicy? account,
        IEnumerable<GroupModelRule> groupRules,
        IEnumerable<string> userGroups)
    {
        ArgumentNullException.ThrowIfNull(organisation);
        var groups = userGroups.ToHashSet(StringComparer.OrdinalIgnoreCase);
        return new EffectiveModelPolicy(account ?? organisation, [.. groupRules.Where(r => groups.Contains(r.Group))]);
    }
}
