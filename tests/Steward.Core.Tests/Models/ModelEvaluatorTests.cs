using System.Text;
using Steward.Core.Models;

namespace Steward.Core.Tests.Models;

public class ModelEvaluatorTests
{
    private static readonly ModelCatalog Catalog = ModelCatalogReader.Default;

    private static readonly ResidencyRule EuRegionalOnly = new(new HashSet<InferenceScope> { InferenceScope.Regional }, ["EU"]);

    /// <summary>The seed's EU organisation: control on, every GA model enabled, experimental (global) models disabled.</summary>
    private static ModelAvailabilityPolicy SeedPolicy(ResidencyRule? residency = null, string? defaultModel = "claude-sonnet-4-6") => new()
    {
        ControlEnabled = true,
        States = Catalog.Models.ToDictionary(m => m.Id, m => m.Status is ModelStatus.GA or ModelStatus.Deprecated, StringComparer.OrdinalIgnoreCase),
        DefaultModel = defaultModel,
        Residency = residency,
    };

    private static ModelEvaluator Evaluator(ModelAvailabilityPolicy policy, params GroupModelRule[] groups) =>
        new(Catalog, new EffectiveModelPolicy(policy, groups));

    private static string? Reason(ModelEvaluator evaluator, string model) =>
        evaluator.Decide(model) is ModelDecision.Denied denied ? denied.Reason : null;

    [Fact]
    public void The_default_catalog_holds_the_models_of_the_seed_with_status_and_scope()
    {
        Assert.Equal(ModelStatus.Experimental, Catalog.Find("claude-opus-4-6")!.Status);
        Assert.Equal(InferenceScope.Global, Catalog.Find("deepseek-v3-2")!.Scope);
        Assert.True(Catalog.Find("qwen3-coder-next")!.OpenWeights);
        Assert.Equal(["US", "EU"], Catalog.Find("claude-sonnet-4-5")!.Geographies);
        Assert.True(Catalog.Find("auto")!.IsAuto);
        Assert.Equal(10, Catalog.Models.Count);
    }

    [Fact]
    public void With_control_off_every_catalog_model_is_available()
    {
        var evaluator = Evaluator(ModelAvailabilityPolicy.Uncontrolled);
        Assert.All(evaluator.List().Models, m => Assert.True(m.Available, m.Model.Id));
    }

    [Theory]
    [InlineData("claude-sonnet-4-5", null)]
    [InlineData("claude-opus-4-6", ModelReasons.DisabledByPolicy)]
    [InlineData("deepseek-v3-2", ModelReasons.DisabledByPolicy)]
    [InlineData("sonnet-4.5", null)]
    [InlineData("opus-4.6", ModelReasons.DisabledByPolicy)]
    [InlineData("gpt-9", ModelReasons.NotInCatalog)]
    public void With_control_on_each_model_has_its_explicit_state(string model, string? reason)
    {
        Assert.Equal(reason, Reason(Evaluator(SeedPolicy()), model));
    }

    [Fact]
    public void An_empty_state_list_never_means_all()
    {
        var evaluator = Evaluator(new ModelAvailabilityPolicy { ControlEnabled = true });
        Assert.DoesNotContain(evaluator.List().Models, m => m.Available);
    }

    [Theory]
    [InlineData(NewModelRule.RequireApproval, "claude-sonnet-4-6", ModelReasons.AwaitingApproval)]
    [InlineData(NewModelRule.AutoEnableGaRegional, "claude-sonnet-4-6", null)]
    [InlineData(NewModelRule.AutoEnableGaRegional, "claude-opus-4-6", ModelReasons.PreviewNotAllowed)]
    [InlineData(NewModelRule.AutoEnableGaRegional, "qwen3-coder-next", ModelReasons.PreviewNotAllowed)]
    [InlineData(NewModelRule.RequireApproval, "deepseek-v3-2", ModelReasons.PreviewNotAllowed)]
    public void A_model_that_arrives_after_the_list_was_saved_follows_the_new_model_rule(NewModelRule rule, string model, string? reason)
    {
        // The list was saved before the model arrived: it has no explicit state.
        var states = Catalog.Models.Where(m => m.Id != model).ToDictionary(m => m.Id, _ => true, StringComparer.OrdinalIgnoreCase);
        var evaluator = Evaluator(new ModelAvailabilityPolicy { ControlEnabled = true, States = states, NewModels = rule });
        Assert.Equal(reason, Reason(evaluator, model));
    }

    [Fact]
    public void A_new_global_ga_model_never_arrives_enabled()
    {
        var catalog = new ModelCatalog([new ModelEntry { Id = "global-ga", DisplayName = "Global GA", Status = ModelStatus.GA, Scope = InferenceScope.Global }]);
        var evaluator = new ModelEvaluator(catalog, new EffectiveModelPolicy(new ModelAvailabilityPolicy { ControlEnabled = true, NewModels = NewModelRule.AutoEnableGaRegional }, []));
        Assert.Equal(ModelReasons.AwaitingApproval, Reason(evaluator, "global-ga"));
    }

    [Theory]
    [InlineData("claude-sonnet-4-5", null, "EU")]
    [InlineData("claude-opus-4-6", ModelReasons.NotInRegion, null)]
    [InlineData("us.anthropic.claude-sonnet-4-5-20250929-v1:0", ModelReasons.NotInRegion, null)]
    [InlineData("global.anthropic.claude-sonnet-4-5-20250929-v1:0", ModelReasons.NotInRegion, null)]
    [InlineData("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", null, "EU")]
    public void Residency_refuses_models_and_provider_ids_outside_the_allowed_places_whatever_the_toggle(string model, string? reason, string? placement)
    {
        // Every model enabled, so only residency can refuse.
        var policy = new ModelAvailabilityPolicy
        {
            ControlEnabled = true,
            States = Catalog.Models.ToDictionary(m => m.Id, _ => true, StringComparer.OrdinalIgnoreCase),
            Residency = EuRegionalOnly,
        };
        var decision = Evaluator(policy).Decide(model);
        Assert.Equal(reason, (decision as ModelDecision.Denied)?.Reason);
        Assert.Equal(placement, (decision as ModelDecision.Allowed)?.Placement);
    }

    [Fact]
    public void An_allowed_request_is_routed_to_the_provider_id_of_the_allowed_geography()
    {
        var decision = Assert.IsType<ModelDecision.Allowed>(Evaluator(SeedPolicy(EuRegionalOnly)).Decide("sonnet-4.5"));
        Assert.Equal("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", decision.ProviderModelId);
        Assert.Equal("claude-sonnet-4-5", decision.Model.Id);
    }

    [Fact]
    public void Auto_resolves_to_its_first_available_candidate_before_the_check()
    {
        var states = Catalog.Models.ToDictionary(m => m.Id, m => m.Id != "claude-sonnet-4-5", StringComparer.OrdinalIgnoreCase);
        var decision = Assert.IsType<ModelDecision.Allowed>(Evaluator(new ModelAvailabilityPolicy { ControlEnabled = true, States = states }).Decide("auto"));
        Assert.True(decision.ViaAuto);
        Assert.Equal("claude-sonnet-4", decision.Model.Id);
        Assert.Contains("successor is claude-sonnet-4-5", decision.Notice, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_with_every_candidate_disabled_is_refused_and_never_falls_through_to_a_disabled_model()
    {
        var states = Catalog.Models.ToDictionary(m => m.Id, m => m.IsAuto || m.Id == "claude-opus-4-6", StringComparer.OrdinalIgnoreCase);
        var evaluator = Evaluator(new ModelAvailabilityPolicy { ControlEnabled = true, States = states });
        Assert.Equal(ModelReasons.NoAvailableTarget, Reason(evaluator, "auto"));
    }

    [Fact]
    public void Auto_itself_disabled_is_refused_even_when_its_candidates_are_enabled()
    {
        var states = Catalog.Models.ToDictionary(m => m.Id, m => !m.IsAuto, StringComparer.OrdinalIgnoreCase);
        Assert.Equal(ModelReasons.DisabledByPolicy, Reason(Evaluator(new ModelAvailabilityPolicy { ControlEnabled = true, States = states }), "auto"));
    }

    [Fact]
    public void An_alias_of_a_disabled_model_is_refused_like_the_model()
    {
        Assert.Equal(ModelReasons.DisabledByPolicy, Reason(Evaluator(SeedPolicy()), "OPUS-4.6"));
        Assert.Equal(ModelReasons.DisabledByPolicy, Reason(Evaluator(SeedPolicy()), "global.anthropic.claude-opus-4-6-v1"));
    }

    [Fact]
    public void The_account_profile_supersedes_the_organisation_profile()
    {
        var organisation = SeedPolicy();
        var account = organisation with { States = new Dictionary<string, bool>(organisation.States, StringComparer.OrdinalIgnoreCase) { ["claude-opus-4-6"] = true } };
        var effective = EffectiveModelPolicy.For(organisation, account, [], []);
        Assert.Null(Reason(new ModelEvaluator(Catalog, effective), "claude-opus-4-6"));
        Assert.Equal(ModelReasons.DisabledByPolicy, Reason(new ModelEvaluator(Catalog, EffectiveModelPolicy.For(organisation, null, [], [])), "claude-opus-4-6"));
    }

    [Fact]
    public void Groups_only_narrow_and_deny_wins()
    {
        GroupModelRule[] rules =
        [
            new("contractors", GroupRuleEffect.AllowOnly, ["claude-haiku-*"]),
            new("eu-legal", GroupRuleEffect.Deny, ["claude-opus-*"]),
            new("opus-fans", GroupRuleEffect.AllowOnly, ["claude-opus-4-6", "claude-opus-4-5"]),
        ];
        ModelEvaluator For(params string[] groups) => new(Catalog, EffectiveModelPolicy.For(SeedPolicy(), null, rules, groups));

        Assert.Equal(ModelReasons.DeniedForGroup, Reason(For("contractors"), "claude-sonnet-4-5"));
        Assert.Null(Reason(For("contractors"), "claude-haiku-4-5"));
        Assert.Equal(ModelReasons.DeniedForGroup, Reason(For("eu-legal", "opus-fans"), "claude-opus-4-5"));
        // A group grant cannot widen the profile: Opus 4.6 is disabled by the profile.
        Assert.Equal(ModelReasons.DisabledByPolicy, Reason(For("opus-fans"), "claude-opus-4-6"));
        Assert.Null(Reason(For("someone-else"), "claude-sonnet-4-5"));
    }

    [Fact]
    public void The_default_must_be_available_or_falls_back_deterministically_and_says_so()
    {
        var listing = Evaluator(SeedPolicy(defaultModel: "claude-opus-4-6")).List();
        Assert.Equal("auto", listing.DefaultModel);
        Assert.Equal(new DefaultFallback("claude-opus-4-6", "auto", ModelReasons.DisabledByPolicy), listing.Fallback);

        var noAuto = SeedPolicy(defaultModel: "claude-opus-4-6");
        noAuto = noAuto with { States = new Dictionary<string, bool>(noAuto.States, StringComparer.OrdinalIgnoreCase) { ["auto"] = false } };
        var second = Evaluator(noAuto).List();
        Assert.Equal("claude-sonnet-4-6", second.DefaultModel);

        var fine = Evaluator(SeedPolicy()).List();
        Assert.Equal("claude-sonnet-4-6", fine.DefaultModel);
        Assert.Null(fine.Fallback);
    }

    [Fact]
    public void The_listing_and_the_decision_never_disagree()
    {
        foreach (var policy in new[] { SeedPolicy(), SeedPolicy(EuRegionalOnly), ModelAvailabilityPolicy.Uncontrolled })
        {
            var evaluator = Evaluator(policy, new GroupModelRule("g", GroupRuleEffect.Deny, ["claude-haiku-4-5"]));
            foreach (var availability in evaluator.List().Models)
            {
                Assert.Equal(availability.Available, evaluator.Decide(availability.Model.Id) is ModelDecision.Allowed);
            }
        }
    }

    [Fact]
    public void A_refusal_names_the_reason_but_never_what_is_allowed_and_strips_control_characters()
    {
        var denied = Assert.IsType<ModelDecision.Denied>(Evaluator(SeedPolicy()).Decide("evil\r\nX-Injected: 1"));
        Assert.DoesNotContain("\n", denied.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("sonnet", denied.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(ModelReasons.NotInCatalog, denied.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_retired_model_is_never_available()
    {
        var catalog = new ModelCatalog([new ModelEntry { Id = "old", DisplayName = "Old", Status = ModelStatus.Retired, Geographies = ["US"] }]);
        Assert.Equal(ModelReasons.Retired, (new ModelEvaluator(catalog, new EffectiveModelPolicy(ModelAvailabilityPolicy.Uncontrolled, [])).Decide("old") as ModelDecision.Denied)?.Reason);
    }

    [Fact]
    public void A_catalog_import_reports_every_problem_with_its_path()
    {
        var json = """
            {"models":[
              {"id":"a","displayName":"A","status":"beta","inference":{"scope":"regional","geographies":[]}},
              {"id":"a","displayName":"B","successor":"zzz","releasedOn":"yesterday"},
              {"id":"auto","displayName":"Auto","resolvesTo":["nope"]}
            ]}
            """;
        var result = ModelCatalogReader.Read(Encoding.UTF8.GetBytes(json));
        Assert.False(result.IsValid);
        var rules = result.Problems.Select(p => (p.Path, p.Rule)).ToList();
        Assert.Contains(("models[0].status", "model.status"), rules);
        Assert.Contains(("models[0].inference.geographies", "model.geographies"), rules);
        Assert.Contains(("models[1]", "model.duplicate-name"), rules);
        Assert.Contains(("models[1].successor", "model.unknown-successor"), rules);
        Assert.Contains(("models[1].releasedOn", "model.date"), rules);
        Assert.Contains(("models[2].resolvesTo", "model.unknown-candidate"), rules);
    }
}
