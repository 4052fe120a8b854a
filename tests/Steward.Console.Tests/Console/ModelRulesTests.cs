using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Steward.Console.Tests.Console;

/// <summary>The models page's residency rule and new-model rule, saved through the form.</summary>
public sealed class ModelRulesTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    [ChromiumFact]
    public async Task An_EU_regional_only_rule_excludes_the_global_models_with_the_reason_shown_and_the_new_model_rule_is_kept()
    {
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GetByRole(AriaRole.Link, new() { Name = "Models", Exact = true }).ClickAsync();
        var table = page.GetByRole(AriaRole.Table);
        ILocator Row(string model) => table.GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByRole(AriaRole.Checkbox, new() { Name = model, Exact = true }) });

        await Expect(Row("Claude Opus 4.6")).ToContainTextAsync("Global");
        await Expect(Row("Claude Opus 4.6")).Not.ToContainTextAsync("Excluded by the residency rule");
        await Expect(page.GetByLabel("New models wait for approval (arrive disabled)")).ToBeCheckedAsync();

        await page.GetByLabel("Apply a residency rule").CheckAsync();
        await page.GetByLabel("Allow regional inference").CheckAsync();
        await page.GetByLabel("Allow global (cross-region) inference").UncheckAsync();
        await page.GetByLabel("Allowed geographies").FillAsync("EU");
        await page.GetByLabel("New GA models with regional inference arrive enabled").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save list" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved the list of models of the organisation Demo");

        foreach (var global in new[] { "Claude Opus 4.6", "DeepSeek v3.2", "MiniMax 2.1", "Qwen3 Coder Next" })
        {
            await Expect(Row(global)).ToContainTextAsync("Excluded by the residency rule");
        }

        await Expect(Row("Claude Sonnet 4.6")).ToContainTextAsync("US / EU Regional");
        await Expect(Row("Claude Sonnet 4.6")).ToContainTextAsync("Available");
        await Expect(page.GetByLabel("Apply a residency rule")).ToBeCheckedAsync();
        await Expect(page.GetByLabel("Allow global (cross-region) inference")).Not.ToBeCheckedAsync();
        await Expect(page.GetByLabel("Allowed geographies")).ToHaveValueAsync("EU");
        await Expect(page.GetByLabel("New GA models with regional inference arrive enabled")).ToBeCheckedAsync();

        // What was saved is what a fresh load of the page shows.
        await page.ReloadAsync();
        await Expect(Row("Qwen3 Coder Next")).ToContainTextAsync("Excluded by the residency rule");
        await Expect(page.GetByLabel("New GA models with regional inference arrive enabled")).ToBeCheckedAsync();
        await Expect(page.GetByLabel("Allowed geographies")).ToHaveValueAsync("EU");
        using (var api = fixture.Api())
        {
            var policy = JsonNode.Parse(await api.GetStringAsync("/api/v1/orgs/demo/models/policy"))!;
            Assert.Equal("autoEnableGaRegional", policy["newModels"]!.GetValue<string>());
            Assert.Equal("[\"regional\"]", policy["residency"]!["scopes"]!.ToJsonString());
            Assert.Equal("[\"EU\"]", policy["residency"]!["geographies"]!.ToJsonString());
        }

        // Lifting the rule makes them available again; back to waiting for approval.
        await page.GetByLabel("Apply a residency rule").UncheckAsync();
        await page.GetByLabel("New models wait for approval (arrive disabled)").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save list" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved the list of models");
        await Expect(Row("Claude Opus 4.6")).Not.ToContainTextAsync("Excluded by the residency rule");
        await Expect(page.GetByLabel("New models wait for approval (arrive disabled)")).ToBeCheckedAsync();
    }
}
