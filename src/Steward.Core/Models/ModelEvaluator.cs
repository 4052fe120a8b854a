namespace Steward.Core.Models;

/// <summary>Whether one catalog model is available to a developer, why not, and where its inference would run.</summary>
public sealed record ModelAvailability(ModelEntry Model, bool Available, string? Reason, string? Placement)
{
    /// <summary>For Auto: the concrete model it resolves to now.</summary>
    public ModelEntry? ResolvedTo { get; init; }
}

/// <summary>The default was unavailable, so another model stands in; clients tell the developer.</summary>
public sealed record DefaultFallback(string? Requested, string? Actual, string Reason);

/// <summary>Every catalog model with its availability, and the default (after fallback).</summary>
public sealed record ModelListing(IReadOnlyList<ModelAvailability> Models, string? DefaultModel, DefaultFallback? Fallback)
{
    public IEnumerable<ModelAvailability> Available => Models.Where(m => m.Available);
}

/// <summary>The answer to "may this request use model X".</summary>
public abstract record ModelDecision(string Requested)
{
    /// <summary>Allowed: the concrete model (after alias and Auto resolution), where it runs, and the provider's id for it there.</summary>
    public sealed record Allowed(string Requested, ModelEntry Model, string Placement, string? ProviderModelId, bool ViaAuto, string? Notice)
        : ModelDecision(Requested);

    /// <summary>Refused with a stable reason code; the message never lists what is allowed.</summary>
    public sealed record Denied(string Requested, string Reason, string Message) : ModelDecision(Requested);
}

/// <summary>
/// The one evaluator behind every surface — the policy bundle, <c>steward models list</c>, the model endpoint — so what is
/// listed is exactly what can be used. Checks, in order: in the catalog (by id, alias or provider model id); not retired;
/// inside the residency rule (whatever the toggle); enabled (explicit state, or the new-model rule for models that
/// arrived after the list was saved); not excluded by a group rule (groups only narrow, deny wins). Aliases, provider ids
/// and Auto resolve before the check; Auto resolves to its first available candidate.
/// </summary>
public sealed class ModelEvaluator(ModelCatalog catalog, EffectiveModelPolicy effective)
{
    private readonly ModelAvailabilityPolicy _policy = effective.Policy;

    public ModelAvailability Availability(ModelEntry model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Status == ModelStatus.Retired)
        {
            return Unavailable(model, ModelReasons.Retired);
        }

        string? placement = null;
        if (!model.IsAuto)
        {
            placement = Placement(model);
            if (placement is null)
            {
                return Unavailable(model, ModelReasons.NotInRegion);
            }
        }

        if (StateReason(model) is { } refused)
        {
            return Unavailable(model, refused);
        }

        if (!GroupsAllow(model))
        {
            return Unavailable(model, ModelReasons.DeniedForGroup);
        }

        if (!model.IsAuto)
        {
            return new ModelAvailability(model, true, null, placement);
        }

        foreach (var candidateId in model.ResolvesTo!)
        {
            if (catalog.Find(candidateId) is { IsAuto: false } candidate && Availability(candidate) is { Available: true } available)
            {
                return new ModelAvailability(model, true, null, available.Placement) { ResolvedTo = candidate };
            }
        }

        return Unavailable(model, ModelReasons.NoAvailableTarget);
    }

    public ModelDecision Decide(string requested)
    {
        ArgumentNullException.ThrowIfNull(requested);
        var model = catalog.Find(requested);
        string? forcedPlacement = null;
        if (model is null && catalog.FindProviderId(requested) is { } byProviderId)
        {
            (model, forcedPlacement) = byProviderId;
        }

        if (model is null)
        {
            return Deny(requested, ModelReasons.NotInCatalog);
        }

        var availability = Availability(model);
        if (!availability.Available)
        {
            return Deny(requested, availability.Reason!);
        }

        if (forcedPlacement is not null && !PlacementAllowed(forcedPlacement))
        {
            return Deny(requested, ModelReasons.NotInRegion);
        }

        var concrete = availability.ResolvedTo ?? model;
        var placement = forcedPlacement ?? availability.Placement!;
        return new ModelDecision.Allowed(requested, concrete, placement, concrete.ProviderModelIds.GetValueOrDefault(placement), model.IsAuto, Notice(concrete));
    }

    public ModelListing List()
    {
        var models = catalog.Models.Select(Availability).ToList();
        var requested = _policy.DefaultModel;
        if (requested is null)
        {
            return new ModelListing(models, FallbackDefault(models)?.Model.Id, null);
        }

        var wanted = catalog.Find(requested) is { } entry ? models.FirstOrDefault(m => m.Model == entry) : null;
        if (wanted is { Available: true })
        {
            return new ModelListing(models, wanted.Model.Id, null);
        }

        var actual = FallbackDefault(models)?.Model.Id;
        return new ModelListing(models, actual, new DefaultFallback(requested, actual, wanted?.Reason ?? ModelReasons.NotInCatalog));
    }

    /// <summary>Deterministic: Auto when available, else the first available GA model in catalog order, else the first available.</summary>
    private static ModelAvailability? FallbackDefault(List<ModelAvailability> models) =>
        models.FirstOrDefault(m => m.Available && m.Model.IsAuto)
        ?? models.FirstOrDefault(m => m.Available && m.Model.Status == ModelStatus.GA)
        ?? models.FirstOrDefault(m => m.Available);

    private string? StateReason(ModelEntry model)
    {
        if (!_policy.ControlEnabled)
        {
            return null;
        }

        if (_policy.States.TryGetValue(model.Id, out var enabled))
        {
            return enabled ? null : ModelReasons.DisabledByPolicy;
        }

        // Arrived after the list was saved: the new-model rule decides.
        if (model.Status is not (ModelStatus.GA or ModelStatus.Deprecated))
        {
            return ModelReasons.PreviewNotAllowed;
        }

        var autoEnabled = _policy.NewModels == NewModelRule.AutoEnableGaRegional && model.Status == ModelStatus.GA
            && model.Scope == InferenceScope.Regional && !model.OpenWeights && !model.IsAuto;
        return autoEnabled ? null : ModelReasons.AwaitingApproval;
    }

    private bool GroupsAllow(ModelEntry model)
    {
        foreach (var rule in effective.GroupRules)
        {
            var listed = rule.Models.Any(pattern => Matches(pattern, model));
            if (rule.Effect == GroupRuleEffect.Deny ? listed : !listed)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether a group rule's entry (an id, an alias or a glob with <c>*</c>, case-insensitive) names the model.</summary>
    public static bool PatternMatches(string pattern, ModelEntry model)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(model);
        return Matches(pattern, model);
    }

    private static bool Matches(string pattern, ModelEntry model) =>
        Glob(pattern, model.Id) || model.Aliases.Any(alias => Glob(pattern, alias));

    private static bool Glob(string pattern, string value)
    {
        if (!pattern.Contains('*', StringComparison.Ordinal))
        {
            return string.Equals(pattern, value, StringComparison.OrdinalIgnoreCase);
        }

        var parts = pattern.Split('*');
        var at = 0;
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            if (i == 0)
            {
                if (!value.StartsWith(part, StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }

                at = part.Length;
                continue;
            }

            if (i == parts.Length - 1)
            {
                return value.Length - at >= part.Length && value.EndsWith(part, StringComparison.OrdinalIgnoreCase);
            }

            var found = value.IndexOf(part, at, StringComparison.OrdinalIgnoreCase);
            if (found < 0)
            {
                return false;
            }

            at = found + part.Length;
        }

        return true;
    }

    /// <summary>Where the model's inference runs for this profile: the first allowed geography it supports, or global; null when nowhere allowed.</summary>
    private string? Placement(ModelEntry model)
    {
        var residency = _policy.Residency;
        if (model.Scope == InferenceScope.Global)
        {
            return residency is null || residency.AllowedScopes.Contains(InferenceScope.Global) ? ModelEntry.GlobalKey : null;
        }

        if (residency is null)
        {
            return model.Geographies.Count > 0 ? model.Geographies[0] : "";
        }

        if (!residency.AllowedScopes.Contains(InferenceScope.Regional))
        {
            return null;
        }

        return residency.AllowedGeographies.FirstOrDefault(g => model.Geographies.Contains(g, StringComparer.OrdinalIgnoreCase));
    }

    private bool PlacementAllowed(string placement)
    {
        var residency = _policy.Residency;
        if (residency is null)
        {
            return true;
        }

        return string.Equals(placement, ModelEntry.GlobalKey, StringComparison.OrdinalIgnoreCase)
            ? residency.AllowedScopes.Contains(InferenceScope.Global)
            : residency.AllowedScopes.Contains(InferenceScope.Regional) && residency.AllowedGeographies.Contains(placement, StringComparer.OrdinalIgnoreCase);
    }

    private static string? Notice(ModelEntry model) => model.Status == ModelStatus.Deprecated
        ? $"{model.DisplayName} is deprecated{(model.RetiresOn is { } d ? $" and retires on {d:yyyy-MM-dd}" : "")}{(model.SuccessorId is { } s ? $"; its successor is {s}" : "")}"
        : null;

    private static ModelAvailability Unavailable(ModelEntry model, string reason) => new(model, false, reason, null);

    private static ModelDecision.Denied Deny(string requested, string reason) =>
        new(requested, reason, $"The requested model '{Printable(requested)}' is not available for your account ({reason}).");

    /// <summary>The requested name as it may appear in a message: printable characters only, at most 100.</summary>
    private static string Printable(string text)
    {
        var clean = new string([.. text.Where(c => !char.IsControl(c)).Take(100)]);
        return clean.Length < text.Length ? clean + "…" : clean;
    }
}
