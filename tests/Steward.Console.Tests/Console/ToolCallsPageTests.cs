using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Steward.Console.Tests.Console;

/// <summary>The tool calls gateways sent (<c>POST /api/v1/audit/tool-calls</c>), read in the console under Audit.</summary>
public sealed class ToolCallsPageTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    [ChromiumFact]
    public async Task The_tool_calls_a_developers_gateway_sent_are_listed_under_audit_and_filtered_by_decision()
    {
        var developer = await fixture.DeveloperTokenAsync();
        var at = fixture.Clock.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        using (var gateway = fixture.Api(developer))
        {
            using var posted = await gateway.PostAsync("/api/v1/audit/tool-calls", ConsoleFixture.Json($$"""
                [{"id":"{{Guid.NewGuid()}}","time":"{{at}}","server":"everything","tool":"echo","decision":"allow","because":"default","durationMs":4.5,"outcome":"ok"},
                 {"id":"{{Guid.NewGuid()}}","time":"{{at}}","server":"everything","tool":"printEnv","decision":"deny","because":"rule everything/printEnv","durationMs":0.2,"outcome":"refused"}]
                """));
            Assert.True(posted.IsSuccessStatusCode, await posted.Content.ReadAsStringAsync());
        }

        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GetByRole(AriaRole.Link, new() { Name = "Audit", Exact = true }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Tool calls", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Tool calls", Exact = true })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Audit", Exact = true })).ToHaveAttributeAsync("aria-current", "page");
        var table = page.GetByRole(AriaRole.Table, new() { Name = "Tool calls, newest received first" });
        var denied = table.GetByRole(AriaRole.Row).Filter(new() { HasText = "printEnv" });
        await Expect(denied).ToContainTextAsync("a developer (devs)");
        await Expect(denied).ToContainTextAsync("rule everything/printEnv");
        await Expect(denied).ToContainTextAsync("refused");
        await Expect(table.GetByRole(AriaRole.Row).Filter(new() { HasText = "echo" })).ToContainTextAsync("4.5 ms");

        await page.GetByLabel("Decision", new() { Exact = true }).FillAsync("deny");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("1 call shown.");
        await Expect(table).ToContainTextAsync("printEnv");
        await Expect(table).Not.ToContainTextAsync("echo");

        await page.GetByLabel("Tool", new() { Exact = true }).FillAsync("no-such-tool");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("No tool calls match.");
    }
}
