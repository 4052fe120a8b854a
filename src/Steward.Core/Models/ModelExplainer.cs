namespace Steward.Core.Models;

/// <summary>One candidate of Auto and why it was or was not chosen.</summary>
public sealed record AutoCandidate(string ModelId, bool Available, string? Reason);

/// <summary>
/// Which rule decided a request for a model, for <c>steward policy explain model</c>: the decision of
/// <see cref="ModelEvaluator.Decide"/> and the facts behind it (how the name resolved, the residency rule and the
/// model's places, the group rule that excluded it, Auto's candidates). It names rules and places, never the list of
/// models that are allowed.
/// </summary>
public sealed record ModelExplanation
{
    public required string Requested { get; init; }
    public required bool Allowed { get; init; }

    /// <summary>The rule that decided: <c>allowed</c> or a <see cref="ModelReasons"/> code.</summary>
    public required string Rule { get; init; }

    /// <summary>How the requested name resolved: <c>id</c>, <c>alias</c>, <c>provider-id</c>; null when not in the catalog.</summary>
    public string? ResolvedBy { get; init; }

    /// <summary>The catalog model the name resolved to (Auto itself when Auto was asked for).</summary>
    public string? ModelId { get; init; }

    /// <summary>For Auto: the concrete model chosen.</summary>
    public string? ResolvedTo { get; init; }

    public string? Placement { get; init; }
    public string? ProviderModelId { get; init; }
    public string? Notice { get; init; }
    public string? Status { get; init; }
    public string? Scope { get; init; }
    public IReadOnlyList<string> ModelGeographies { get; init; } = [];

    /// <summary>For <c>not_in_region</c>: the place a provider id named, when the request named one.</summary>
    public string? RequestedPlacement { get; init; }

    /// <summary>For <c>not_in_region</c>: the scopes and geographies the residency rule allows.</summary>
    public IReadOnlyList<string>? AllowedScopes { get; init; }
    public IReadOnlyList<string>? AllowedGeographies { get; init; }

    /// <summary>For <c>denied_for_group</c>: the group whose rule excluded the model, and that rule's effect.</summary>
    public string? Group { get; init; }
    public GroupRuleEffect? GroupEffect { get; init; }

    /// <summary>For <c>awaiting_approval</c> and <c>preview_not_allowed</c>: the new-model rule in force.</summary>
    public NewModelRule? NewModels { get; init; }

    /// <summary>For <c>retired</c>: the successor, when the catalog names one.</summary>
    public string? Successor { get; init; }

    /// <summary>For Auto: every candidate in order with its availability.</summary>
    public IReadOnlyList<AutoCandidate>? Candidates { get; init; }
}

public static class ModelExplainer
{
    public static ModelExplanation Explain(ModelCatalog catalog, EffectiveModelPolicy effective, string requested)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(effective);
        ArgumentNullException.ThrowIfNull(requested);
        var evaluator = new ModelEvaluator(catalog, effective);
        var decision = evaluator.Decide(requested);
        var model = catalog.Find(requested);
        string? resolvedBy = model is null ? null : string.Equals(model.Id, requested, StringComparison.OrdinalIgnoreCase) ? "id" : "alias";
        string? forcedPlacement = null;
        if (model is null && catalog.FindProviderId(requested) is { } byProviderId)
        {
            (model, forcedPlacement) = byProviderId;
            resolvedBy = "provider-id";
        }

        var explanation = new ModelExplanation
        {
            Requested = requested,
            Allowed = decision is ModelDecision.Allowed,
            Rule = decision is ModelDecision.Denied denied ? denied.Reason : "allowed",
            ResolvedBy = resolvedBy,
            ModelId = model?.Id,
            Status = model is null ? null : StatusName(model.Status),
            Scope = model is null || model.IsAuto ? null : ScopeName(model.Scope),
            ModelGeographies = model?.Geographies ?? [],
            RequestedPlacement = forcedPlacement,
        };

        if (model is { IsAuto: true })
        {
            explanation = explanation with
            {
                Candidates = [.. model.ResolvesTo!.Select(id => Candidate(catalog, evaluator, id))],
            };
        }

        var policy = effective.Policy;
        switch (decision)
        {
            case ModelDecision.Allowed allowed:
                return explanation with
                {
                    ResolvedTo = allowed.ViaAuto ? allowed.Model.Id : null,
                    Placement = allowed.Placement,
                    ProviderModelId = allowed.ProviderModelId,
                    Notice = allowed.Notice,
                };
            case ModelDecision.Denied { Reason: ModelReasons.NotInRegion }:
                return explanation with
                {
                    AllowedScopes = policy.Residency is { } residency ? [.. residency.AllowedScopes.Order().Select(ScopeName)] : [ScopeName(InferenceScope.Regional), ScopeName(InferenceScope.Global)],
                    AllowedGeographies = policy.Residency?.AllowedGeographies ?? [],
                };
            case ModelDecision.Denied { Reason: ModelReasons.DeniedForGroup } when model is not null:
                foreach (var rule in effective.GroupRules)
                {
                    var alone = new ModelEvaluator(catalog, effective with { GroupRules = [rule] });
                    if (alone.Availability(model) is { Available: false, Reason: ModelReasons.DeniedForGroup })
                    {
                        return explanation with { Group = rule.Group, GroupEffect = rule.Effect };
                    }
                }

                return explanation;
            case ModelDecision.Denied { Reason: ModelReasons.AwaitingApproval or ModelReasons.PreviewNotAllowed }:
                return explanation with { NewModels = policy.NewModels };
            case ModelDecision.Denied { Reason: ModelReasons.Retired }:
                return explanation with { Successor = model?.SuccessorId };
            default:
                return explanation;
        }
    }

    private static AutoCandidate Candidate(ModelCatalog catalog, ModelEvaluator evaluator, string id)
    {
        if (catalog.Find(id) is not { } candidate)
        {
            return new AutoCandidate(id, false, ModelReasons.NotInCatalog);
        }

        var availability = evaluator.Availability(candidate);
        return new AutoCandidate(candidate.Id, availability.Available, availability.Reason);
    }

    public static string StatusName(ModelStatus status) => status switch
    {
        ModelStatus.GA => "ga",
        ModelStatus.Preview => "preview",
        ModelStatus.Experimental => "experimental",
        ModelStatus.Deprecated => "deprecated",
        _ => "retired",
    };

    public static string ScopeName(InferenceScope scope) => scope == InferenceScope.Global ? "global" : "regional";
}
