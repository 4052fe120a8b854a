using System.Text.RegularExpressions;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Steward.Console.Tests.Console;

public sealed class ModelsAuditExportsTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    [ChromiumFact]
    public async Task The_model_list_is_saved_with_a_model_unchecked_and_a_new_default_and_each_reason_is_visible()
    {
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GetByRole(AriaRole.Link, new() { Name = "Models", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "List of available models" })).ToBeVisibleAsync();
        var table = page.GetByRole(AriaRole.Table);
        await Expect(table).ToContainTextAsync("Claude Opus 4.6");
        await Expect(table.GetByRole(AriaRole.Row).Filter(new() { HasText = "Claude Opus 4.6" })).ToContainTextAsync("Global");

        await page.GetByLabel("Control which models are available to users").CheckAsync();
        foreach (var experimental in new[] { "Claude Opus 4.6", "DeepSeek v3.2", "MiniMax 2.1", "Qwen3 Coder Next" })
        {
            await page.GetByRole(AriaRole.Checkbox, new() { Name = experimental, Exact = true }).UncheckAsync();
        }

        await page.GetByRole(AriaRole.Checkbox, new() { Name = "Claude Opus 4.5", Exact = true }).UncheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Set Claude Sonnet 4.6 as default" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Claude Sonnet 4.6 will be the default when you save the list.");
        // The choices made before "Set as default" are kept.
        await Expect(page.GetByRole(AriaRole.Checkbox, new() { Name = "Claude Opus 4.5", Exact = true })).Not.ToBeCheckedAsync();
        await Expect(page.GetByLabel("Control which models are available to users")).ToBeCheckedAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = "Save list" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved the list of models of the organisation");
        await Expect(table.GetByRole(AriaRole.Row).Filter(new() { HasText = "Claude Opus 4.5" })).ToContainTextAsync("Disabled by admin");
        await Expect(table.GetByRole(AriaRole.Row).Filter(new() { HasText = "Qwen3 Coder Next" })).ToContainTextAsync("Disabled by admin");
        await Expect(table.GetByRole(AriaRole.Row).Filter(new() { HasText = "Claude Sonnet 4.6" })).ToContainTextAsync("Default");
        await ConsoleFixture.ScreenshotAsync(page, "console-models");

        using var api = fixture.Api();
        var policy = JsonNode.Parse(await api.GetStringAsync("/api/v1/orgs/demo/models/policy"))!;
        Assert.True(policy["controlEnabled"]!.GetValue<bool>());
        Assert.Equal("claude-sonnet-4-6", policy["defaultModel"]!.GetValue<string>());
        Assert.False(policy["states"]!["claude-opus-4-5"]!.GetValue<bool>());
    }

    [ChromiumFact]
    public async Task The_audit_trail_filters_by_actor_action_object_and_time_and_shows_before_and_after_as_a_diff()
    {
        using (var api = fixture.Api())
        {
            using var put = await api.PutAsync("/api/v1/orgs/demo/profile", ConsoleFixture.Json("""{"mcpEnabled":true,"webToolsEnabled":false,"registryMode":"hosted","syncIntervalSeconds":3600}"""));
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GetByRole(AriaRole.Link, new() { Name = "Audit", Exact = true }).ClickAsync();
        await page.GetByLabel("Action").FillAsync("profile.update");
        await page.GetByLabel("Object").FillAsync("profile:organisation");
        await page.GetByLabel("Actor").FillAsync("bootstrap admin");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        var rows = page.GetByRole(AriaRole.Article);
        await Expect(rows.First).ToContainTextAsync("profile.update");
        var first = rows.First;
        await Expect(first.Locator("del", new() { HasText = "\"webToolsEnabled\": true" })).ToBeVisibleAsync();
        await Expect(first.Locator("ins", new() { HasText = "\"webToolsEnabled\": false" })).ToBeVisibleAsync();
        await Expect(first.Locator("ins", new() { HasText = "\"syncIntervalSeconds\": 3600" })).ToBeVisibleAsync();
        await Expect(first.Locator("span", new() { HasText = "\"mcpEnabled\": true" })).ToBeVisibleAsync();
        await ConsoleFixture.ScreenshotAsync(page, "console-audit");

        await page.GetByLabel("Actor").FillAsync("system:first-start");
        await page.GetByLabel("Action").FillAsync("");
        await page.GetByLabel("Object").FillAsync("");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(rows.First).ToContainTextAsync("system:first-start");
        Assert.All(await rows.AllInnerTextsAsync(), text => Assert.Contains("system:first-start", text, StringComparison.Ordinal));

        var tomorrow = fixture.Clock.GetUtcNow().AddDays(1).ToString("yyyy-MM-dd'T'HH:mm", System.Globalization.CultureInfo.InvariantCulture);
        await page.GetByLabel("From (UTC)").FillAsync(tomorrow);
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("No audit entries match.");

        using (var api = fixture.Api())
        {
            using var put = await api.PutAsync("/api/v1/orgs/demo/profile", ConsoleFixture.Json("""{"mcpEnabled":true,"webToolsEnabled":true,"registryMode":"hosted"}"""));
            Assert.True(put.IsSuccessStatusCode);
        }
    }

    [ChromiumFact]
    public async Task The_exports_page_gives_each_host_its_exact_URL_and_downloads_each_file()
    {
        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GetByRole(AriaRole.Link, new() { Name = "Exports", Exact = true }).ClickAsync();
        var origin = fixture.BaseUrl.GetLeftPart(UriPartial.Authority);
        await Expect(page.Locator("#url-registry")).ToHaveTextAsync(origin + "/o/demo/registry");
        await Expect(page.Locator("#url-kiro")).ToHaveTextAsync(origin + "/o/demo/kiro/registry.json");
        await Expect(page.Locator("#url-claude")).ToHaveTextAsync(origin + "/api/v1/orgs/demo/exports/claude-managed-mcp");
        await Expect(page.Locator("#url-copilot")).ToHaveTextAsync(origin + "/api/v1/orgs/demo/exports/copilot");
        await ConsoleFixture.ScreenshotAsync(page, "console-exports");

        // The URLs given to hosts answer as the hosts expect.
        using (var anonymous = new HttpClient())
        {
            var kiro = JsonNode.Parse(await anonymous.GetStringAsync(origin + "/o/demo/kiro/registry.json"))!;
            Assert.NotEmpty(kiro["servers"]!.AsArray());
            var registry = JsonNode.Parse(await anonymous.GetStringAsync(origin + "/o/demo/registry/v0.1/servers"))!;
            Assert.NotEmpty(registry["servers"]!.AsArray());
        }

        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "Download managed-mcp.json" }).ClickAsync());
        Assert.Equal("managed-mcp.json", download.SuggestedFilename);
        var file = await download.PathAsync();
        var document = JsonNode.Parse(await File.ReadAllTextAsync(file))!;
        Assert.NotEmpty(document["mcpServers"]!.AsObject());
        var kiroDownload = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "Download registry.json" }).ClickAsync());
        Assert.Equal("registry.json", kiroDownload.SuggestedFilename);
    }

    [ChromiumFact]
    public async Task The_account_switcher_shows_an_accounts_profile_and_its_exports_urls()
    {
        using (var api = fixture.Api())
        {
            using var account = await api.PostAsync("/api/v1/orgs/demo/accounts", ConsoleFixture.Json("""{"slug":"platform","name":"Platform team"}"""));
        }

        var page = await fixture.NewPageAsync();
        await ConsoleFixture.SignInAsync(page);
        await page.GetByLabel("Profile").SelectOptionAsync(new SelectOptionValue { Label = "Account: Platform team (platform), no own profile" });
        await page.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await Expect(page.GetByText("This account has no profile of its own")).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Exports", Exact = true }).ClickAsync();
        var origin = fixture.BaseUrl.GetLeftPart(UriPartial.Authority);
        // The account's anonymous URL carries its key, so that the URL does not tell who has an account.
        await Expect(page.Locator("#url-kiro")).ToHaveTextAsync(new Regex("^" + Regex.Escape(origin + "/o/demo/a/platform~") + "[A-Za-z0-9_-]{22}/kiro/registry.json$"));
        var kiroUrl = await page.Locator("#url-kiro").TextContentAsync();
        using var anonymous = new HttpClient();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await anonymous.GetAsync(kiroUrl)).StatusCode);
    }
}
