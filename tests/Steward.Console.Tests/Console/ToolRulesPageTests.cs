using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Steward.Console.Tests.Console;

/// <summary>
/// The Tool rules page: add a rule, see which known tools of which servers it matches, review before saving, reorder,
/// edit and remove; a bad pattern is refused beside its field and nothing is saved.
/// </summary>
public sealed class ToolRulesPageTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    private const string Everything = "io.github.modelcontextprotocol/server-everything";

    [ChromiumFact]
    public async Task An_admin_adds_reviews_saves_reorders_and_removes_tool_rules_and_sees_the_tools_they_match()
    {
        var developer = await fixture.DeveloperTokenAsync();
        var at = fixture.Clock.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        using (var gateway = fixture.Api(developer))
        {
            // What developers' gateways reported calling: the page's source of tool names (registry entries do not list tools).
            using var posted = await gateway.PostAsync("/api/v1/audit/tool-calls", ConsoleFixture.Json($$"""
                [{"id":"{{Guid.NewGuid()}}","time":"{{at}}","server":"{{Everything}}","tool":"get-env","decision":"allow","because":"default","durationMs":1,"outcome":"ok"},
                 {"id":"{{Guid.NewGuid()}}","time":"{{at}}","server":"{{Everything}}","tool":"echo","decision":"allow","because":"default","durationMs":1,"outcome":"ok"},
                 {"id":"{{Guid.NewGuid()}}","time":"{{at}}","server":"{{Everything}}","tool":"get-sum","decision":"allow","because":"default","durationMs":1,"outcome":"ok"}]
                """));
            Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync());
        }

        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GetByRole(AriaRole.Link, new() { Name = "Tool rules", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Tool rules", Exact = true })).ToBeVisibleAsync();

        // A pattern without server/tool is refused beside its field; nothing is reviewed or saved.
        await page.GetByLabel("Pattern of rule 1", new() { Exact = true }).FillAsync("get-env");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("$.toolRules[0].pattern");
        await Expect(page.GetByLabel("Pattern of rule 1", new() { Exact = true })).ToHaveAttributeAsync("aria-invalid", "true");

        await page.GetByLabel("Pattern of rule 1", new() { Exact = true }).FillAsync(Everything + "/get-*");
        await page.GetByLabel("Effect of rule 1", new() { Exact = true }).SelectOptionAsync("deny");
        await page.GetByLabel("Reason of rule 1", new() { Exact = true }).FillAsync("environment variables may hold secrets");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add another row" }).ClickAsync();
        await page.GetByLabel("Pattern of rule 2", new() { Exact = true }).FillAsync("*/echo");
        await page.GetByLabel("Effect of rule 2", new() { Exact = true }).SelectOptionAsync("ask");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }).ClickAsync();

        var review = page.GetByRole(AriaRole.Region, new() { Name = "Review: what this change does to developers" });
        await Expect(review).ToContainTextAsync($"Added: deny {Everything}/get-* (\"environment variables may hold secrets\")");
        await Expect(review).ToContainTextAsync("2 known tools");
        await Expect(review).ToContainTextAsync($"{Everything}/get-env");
        await Expect(review).ToContainTextAsync($"{Everything}/get-sum");
        await Expect(review).ToContainTextAsync("running gateways ask the developer before each call");
        await ConsoleFixture.ScreenshotAsync(page, "console-tool-rules-review");
        await review.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved: the tool rules of the organisation");

        var table = page.GetByRole(AriaRole.Table);
        await Expect(table.GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByLabel("Pattern of rule 2", new() { Exact = true }) })).ToContainTextAsync($"1 known tool: {Everything}/echo");
        await ConsoleFixture.ScreenshotAsync(page, "console-tool-rules");

        // Move the ask rule first and change the deny's reason: the API shows the new order and text.
        await page.GetByRole(AriaRole.Button, new() { Name = "Move rule 2 up" }).ClickAsync();
        await Expect(page.GetByLabel("Pattern of rule 1", new() { Exact = true })).ToHaveValueAsync("*/echo");
        await page.GetByLabel("Reason of rule 2", new() { Exact = true }).FillAsync("ticket SEC-12");
        await page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }).ClickAsync();
        await Expect(review).ToContainTextAsync("Changed: deny");
        await Expect(review).ToContainTextAsync("Reordered");
        await review.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved");
        using (var api = fixture.Api())
        {
            var rules = JsonNode.Parse(await api.GetStringAsync("/api/v1/orgs/demo/profile"))!["toolRules"]!.AsArray();
            Assert.Equal(["*/echo", Everything + "/get-*"], rules.Select(r => (string)r!["pattern"]!));
            Assert.Equal("ticket SEC-12", (string)rules[1]!["reason"]!);
            var audit = await api.GetStringAsync("/api/v1/orgs/demo/audit?object=profile:organisation");
            Assert.Contains("ticket SEC-12", audit, StringComparison.Ordinal);
        }

        // Remove both: back to no rules.
        await page.GetByRole(AriaRole.Button, new() { Name = "Remove rule 1" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Remove rule 1" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Review changes" }).ClickAsync();
        await Expect(review).ToContainTextAsync("Removed: ask */echo");
        await review.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved");
        using (var api = fixture.Api())
        {
            Assert.Empty(JsonNode.Parse(await api.GetStringAsync("/api/v1/orgs/demo/profile"))!["toolRules"]!.AsArray());
        }
    }
}
