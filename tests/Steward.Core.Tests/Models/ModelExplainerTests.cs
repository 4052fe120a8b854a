using Steward.Core.Models;

namespace Steward.Core.Tests.Models;

public class ModelExplainerTests
{
    private static readonly ModelCatalog Catalog = ModelCatalogReader.Default;

    private static readonly ResidencyRule EuRegionalOnly = new(new HashSet<InferenceScope> { InferenceScope.Regional }, ["EU"]);

    private static ModelExplanation Explain(ModelAvailabilityPolicy policy, string requested, params GroupModelRule[] groups) =>
        ModelExplainer.Explain(Catalog, new EffectiveModelPolicy(policy, groups), requested);

    private static ModelAvailabilityPolicy Controlled(NewModelRule newModels = NewModelRule.RequireApproval, params string[] enabled) => new()
    {
        ControlEnabled = true,
        States = enabled.ToDictionary(id => id, _ => true, StringComparer.OrdinalIgnoreCase),
        NewModels = newModels,
        Residency = EuRegionalOnly,
    };

    [Fact]
    public void An_allowed_alias_explains_its_model_placement_and_provider_id()
    {
        var e = Explain(Controlled(NewModelRule.RequireApproval, "claude-sonnet-4-6"), "sonnet-4.6");
        Assert.Equal((true, "allowed", "alias", "claude-sonnet-4-6", "EU", "eu.anthropic.claude-sonnet-4-6"), (e.Allowed, e.Rule, e.ResolvedBy, e.ModelId, e.Placement, e.ProviderModelId));
    }

    [Fact]
    public void A_provider_id_outside_the_residency_rule_names_the_place_asked_for_and_the_places_allowed()
    {
        var e = Explain(Controlled(NewModelRule.RequireApproval, "claude-sonnet-4-6"), "global.anthropic.claude-sonnet-4-6");
        Assert.Equal((ModelReasons.NotInRegion, "provider-id", "global"), (e.Rule, e.ResolvedBy, e.RequestedPlacement));
        Assert.Equal(["regional"], e.AllowedScopes);
        Assert.Equal(["EU"], e.AllowedGeographies);
    }

    [Fact]
    public void A_group_denial_names_the_group_whose_rule_excluded_the_model()
    {
        var e = Explain(Controlled(NewModelRule.RequireApproval, "claude-opus-4-5"), "claude-opus-4-5",
            new GroupModelRule("everyone", GroupRuleEffect.Deny, ["claude-haiku-*"]),
            new GroupModelRule("contractors", GroupRuleEffect.Deny, ["claude-opus-*"]));
        Assert.Equal((ModelReasons.DeniedForGroup, "contractors", GroupRuleEffect.Deny), (e.Rule, e.Group, e.GroupEffect));
    }

    [Theory]
    [InlineData("claude-haiku-4-5", NewModelRule.RequireApproval, ModelReasons.AwaitingApproval)]
    [InlineData("claude-opus-4-6", NewModelRule.AutoEnableGaRegional, ModelReasons.NotInRegion)]
    public void A_model_that_arrived_after_the_save_is_explained_with_the_new_model_rule(string model, NewModelRule rule, string reason)
    {
        var e = Explain(Controlled(rule), model);
        Assert.Equal(reason, e.Rule);
        Assert.Equal(reason == ModelReasons.AwaitingApproval ? rule : null, e.NewModels);
    }

    [Fact]
    public void Auto_lists_its_candidates_with_their_reasons_and_the_one_it_resolves_to()
    {
        var e = Explain(Controlled(NewModelRule.RequireApproval, "auto", "claude-haiku-4-5"), "auto");
        Assert.Equal((true, "claude-haiku-4-5", "EU"), (e.Allowed, e.ResolvedTo, e.Placement));
        Assert.Equal(
            [("claude-sonnet-4-5", false, ModelReasons.AwaitingApproval), ("claude-sonnet-4", false, ModelReasons.AwaitingApproval), ("claude-haiku-4-5", true, null)],
            e.Candidates!.Select(c => (c.ModelId, c.Available, c.Reason)));
    }

    [Fact]
    public void A_name_not_in_the_catalog_resolves_to_nothing()
    {
        var e = Explain(ModelAvailabilityPolicy.Uncontrolled, "gpt-4o");
        Assert.Equal((false, ModelReasons.NotInCatalog, null, null), (e.Allowed, e.Rule, e.ResolvedBy, e.ModelId));
    }
}
